/**
 * Writes onnxruntime's optimized form of a graph (the weight cache's conversion) on a thread of its
 * own. onnxruntime-node builds a session synchronously on the calling thread: converting one layer
 * group of the Llama-3.1-8B shape takes about 12 s, and on the engine's thread that would stop it
 * from answering view requests, cancels and progress meanwhile. The thread runs only onnxruntime
 * (resolved from this bundle's own dependencies), on bytes and options it is handed; it is started
 * for a job and ended when no job is left (starting one costs about 0.1 s; a conversion seconds).
 */
import { Worker } from 'worker_threads';
import type * as ort from 'onnxruntime-node';

const THREAD_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const ort = require(workerData.onnxruntime);
parentPort.on('message', async ({ id, bytes, options }) => {
  try {
    const session = await ort.InferenceSession.create(bytes, options);
    await session.release();
    parentPort.postMessage({ id });
  } catch (err) {
    parentPort.postMessage({ id, error: String((err && err.message) || err) });
  }
});
`;

interface Job {
  resolve: () => void;
  reject: (err: Error) => void;
}

let thread: { worker: Worker; jobs: Map<number, Job> } | undefined;
let nextId = 1;

function optimizer(): { worker: Worker; jobs: Map<number, Job> } {
  if (thread) return thread;
  const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { onnxruntime: require.resolve('onnxruntime-node') } });
  worker.unref();
  const own = { worker, jobs: new Map<number, Job>() };
  worker.on('message', ({ id, error }: { id: number; error?: string }) => {
    const job = own.jobs.get(id);
    own.jobs.delete(id);
    if (error === undefined) job?.resolve();
    else job?.reject(new Error(error));
    // Ended between jobs: an idle thread holding onnxruntime would keep the process from exiting.
    if (own.jobs.size === 0 && thread === own) {
      thread = undefined;
      void worker.terminate();
    }
  });
  const fail = (err: Error) => {
    if (thread === own) thread = undefined;
    for (const job of own.jobs.values()) job.reject(err);
    own.jobs.clear();
  };
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the conversion thread exited (code ${code})`)));
  thread = own;
  return own;
}

/**
 * Creates and releases a session for `bytes` with `options` on the conversion thread: with
 * `optimizedModelFilePath` set, onnxruntime writes the optimized graph and its external data there.
 */
export function writeOptimizedModel(bytes: Uint8Array, options: ort.InferenceSession.SessionOptions): Promise<void> {
  return new Promise((resolve, reject) => {
    const id = nextId++;
    const { worker, jobs } = optimizer();
    jobs.set(id, { resolve, reject });
    worker.postMessage({ id, bytes, options });
  });
}
