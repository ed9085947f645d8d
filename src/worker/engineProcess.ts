/**
 * The engine's own process, forked and supervised by the extension host (engineClient.ts). A
 * model folder can make a native library abort (a Rust panic in `tokenizers`, SIGFPE in
 * onnxruntime, V8 running out of heap): inside a worker thread that would take the extension host
 * down with it; here it ends only this process, and the host starts a fresh one.
 *
 * This main thread stays idle: it relays requests to the engine worker thread and sets the shared
 * cancellation flags the moment a cancel arrives, so cancellation works as it did in-process.
 * Replies go back as frames on file descriptor 3 (see frames.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { Worker } from 'worker_threads';
import { disableOnnxruntimeTelemetry } from '../engine/telemetry';
import type { HostToWorker, WorkerToHost } from '../protocol/worker';
import { encodeFrame } from './frames';

// Before anything can load onnxruntime (the worker thread does).
disableOnnxruntimeTelemetry();

if (!process.send) throw new Error('engineProcess must be started with child_process.fork');

const replies = fs.createWriteStream('', { fd: 3 });
const cancelFlags = new Int32Array(new SharedArrayBuffer(4 * 64));
const worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: { cancelFlags: cancelFlags.buffer } });

worker.on('message', (message: WorkerToHost) => {
  for (const part of encodeFrame(message)) replies.write(part);
});
// An exception that escapes the worker: end the process so the host sees it and starts afresh.
worker.on('error', (err) => {
  process.stderr.write(`engine worker error: ${err.stack ?? err.message}\n`);
  process.exit(70);
});
worker.on('exit', (code) => process.exit(code === 0 ? 0 : 70));

process.on('message', (message: HostToWorker) => {
  if (message.type === 'cancel') Atomics.store(cancelFlags, message.id % cancelFlags.length, message.id);
  worker.postMessage(message);
});
// The host went away (closed window, crash): nothing is left to answer.
process.on('disconnect', () => process.exit(0));
