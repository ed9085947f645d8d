/**
 * The engine's worker thread. It owns the loaded model (kept warm between requests) and runs one
 * operation at a time; a newer analyze cancels an older one, and matrices go back to the host as
 * transferred ArrayBuffers.
 */
import { parentPort, workerData } from 'worker_threads';
import type { HostToWorker, WorkerToHost } from '../protocol/worker';
import { EngineError, toErrorInfo } from '../engine/errors';
import type { AttentionModel } from '../engine/model';
import { loadModel } from '../models';
import { resultBuffers } from '../protocol/types';

if (!parentPort) throw new Error('engineWorker must run in a worker thread');
const port = parentPort;

let model: AttentionModel | undefined;
let modelFolder: string | undefined;
let modelLimit: number | undefined;
/** Operations on the model run one after another. */
let queue: Promise<unknown> = Promise.resolve();
const controllers = new Map<number, AbortController>();
let latestAnalyze: number | undefined;
/**
 * Cancellation flags shared with the host: slot id % size holds the id of a cancelled request. The
 * engine checks them between steps, so a cancel is seen at once even while this thread is busy
 * and its message queue unread.
 */
const cancelFlags: Int32Array | undefined = workerData?.cancelFlags ? new Int32Array(workerData.cancelFlags) : undefined;

function cancelledByHost(id: number): boolean {
  return cancelFlags !== undefined && Atomics.load(cancelFlags, id % cancelFlags.length) === id;
}

/** Progress for request `id` that also notices a cancel set in the shared flags. */
function progressFor(id: number): (text: string, fraction?: number) => void {
  return (text, fraction) => {
    if (cancelledByHost(id)) controllers.get(id)?.abort();
    post({ type: 'progress', id, message: text, fraction });
  };
}

function post(message: WorkerToHost, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function enqueue(id: number, work: (signal: AbortSignal) => Promise<void>): void {
  const controller = new AbortController();
  controllers.set(id, controller);
  queue = queue
    .then(async () => {
      if (controller.signal.aborted) throw new EngineError('cancelled', 'Cancelled before it started.');
      await work(controller.signal);
    })
    .catch((err) => post({ type: 'error', id, error: toErrorInfo(err) }))
    .finally(() => controllers.delete(id));
}

async function release(): Promise<void> {
  const old = model;
  model = undefined;
  modelFolder = undefined;
  await old?.dispose();
}

port.on('message', (message: HostToWorker) => {
  switch (message.type) {
    case 'cancel':
      controllers.get(message.id)?.abort();
      break;
    case 'load':
      enqueue(message.id, async (signal) => {
        if (model && modelFolder === message.folder && modelLimit === message.memoryLimitGB) {
          post({ type: 'loaded', id: message.id, model: model.summary, loadMs: 0 });
          return;
        }
        await release();
        const start = performance.now();
        model = await loadModel(message.folder, { name: message.name, source: message.source, memoryLimitGB: message.memoryLimitGB }, progressFor(message.id), signal);
        modelFolder = message.folder;
        modelLimit = message.memoryLimitGB;
        post({ type: 'loaded', id: message.id, model: model.summary, loadMs: performance.now() - start });
      });
      break;
    case 'analyze':
    case 'generate':
      // A newer text supersedes the one still running or waiting.
      if (latestAnalyze !== undefined) controllers.get(latestAnalyze)?.abort();
      latestAnalyze = message.id;
      enqueue(message.id, async (signal) => {
        if (!model) throw new EngineError('not-loaded', 'No model is loaded.');
        const progress = progressFor(message.id);
        const result = message.type === 'generate' ? await model.generate(message.text, message.options, signal, progress) : await model.analyze(message.text, message.options, signal, progress);
        // Every block's buffers, each once (blocks share the first block's buffers with `attentions`).
        post({ type: 'result', id: message.id, result }, resultBuffers(result));
      });
      break;
    case 'headVectors':
      enqueue(message.id, async () => {
        if (!model) throw new EngineError('not-loaded', 'No model is loaded.');
        const vectors = await model.headVectors(message.layer, message.head, message.block);
        const transfer = [vectors.q.buffer, vectors.k.buffer, vectors.v.buffer];
        if (vectors.bias) transfer.push(vectors.bias.buffer);
        if (vectors.logits) transfer.push(vectors.logits.buffer);
        post({ type: 'headVectors', id: message.id, vectors }, transfer);
      });
      break;
    case 'dispose':
      for (const c of controllers.values()) c.abort();
      enqueue(message.id, async () => {
        await release();
        post({ type: 'disposed', id: message.id });
      });
      break;
  }
});
