/**
 * The engine's own process, forked and supervised by the extension host (engineClient.ts). A
 * model folder can make a native library abort (a Rust panic in `tokenizers`, SIGFPE in
 * onnxruntime, V8 running out of heap): inside a worker thread that would take the extension host
 * down with it; here it ends only this process, and the host starts a fresh one.
 *
 * This main thread stays idle: it relays requests to the engine worker thread and sets the shared
 * cancellation flags the moment a cancel arrives, so cancellation works as it did in-process.
 * Views go to the view thread (viewThread.ts), which serves those of layers already computed while
 * the worker's thread is inside an onnxruntime run, and hands the rest to the worker; the two
 * threads share a MessageChannel (the worker feeds the view thread its analyses' kept q/k).
 * Replies of both threads go back as frames on file descriptor 3 (see frames.ts).
 */
import * as fs from 'fs';
import * as path from 'path';
import { MessageChannel, Worker } from 'worker_threads';
import { disableOnnxruntimeTelemetry } from '../engine/telemetry';
import type { HostToWorker, WorkerToHost } from '../protocol/worker';
import { encodeFrame } from './frames';

// Before anything can load onnxruntime (the worker thread does).
disableOnnxruntimeTelemetry();

if (!process.send) throw new Error('engineProcess must be started with child_process.fork');

const replies = fs.createWriteStream('', { fd: 3 });
const cancelFlags = new Int32Array(new SharedArrayBuffer(4 * 64));
const channel = new MessageChannel();
const worker = new Worker(path.join(__dirname, 'worker.js'), { workerData: { cancelFlags: cancelFlags.buffer, viewPort: channel.port1 }, transferList: [channel.port1] });
const views = new Worker(path.join(__dirname, 'viewThread.js'), { workerData: { enginePort: channel.port2 }, transferList: [channel.port2] });

for (const [name, thread] of [['engine worker', worker], ['view thread', views]] as const) {
  thread.on('message', (message: WorkerToHost) => {
    for (const part of encodeFrame(message)) replies.write(part);
  });
  // An exception that escapes either thread: end the process so the host sees it and starts afresh.
  thread.on('error', (err) => {
    process.stderr.write(`${name} error: ${err.stack ?? err.message}\n`);
    process.exit(70);
  });
}
worker.on('exit', (code) => process.exit(code === 0 ? 0 : 70));
views.on('exit', () => process.exit(70));

process.on('message', (message: HostToWorker) => {
  switch (message.type) {
    case 'view':
      views.postMessage(message);
      return;
    case 'cancel':
      Atomics.store(cancelFlags, message.id % cancelFlags.length, message.id);
      // The request is the view thread's or the worker's (a view the view thread handed on is the worker's).
      views.postMessage(message);
      worker.postMessage(message);
      return;
    case 'forget':
    case 'dispose':
      views.postMessage(message);
      worker.postMessage(message);
      return;
    default:
      worker.postMessage(message);
  }
});
// The host went away (closed window, crash): nothing is left to answer.
process.on('disconnect', () => process.exit(0));
