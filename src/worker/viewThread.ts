/**
 * The engine process's view thread (issue 10): views of computed layers never wait for the pass.
 * onnxruntime-node runs a session synchronously on the calling thread, so on the engine worker's
 * thread a view waited for the layer group running there (3.4 s per group on the Llama-3.2-1B shape
 * at 2,048 tokens). The process's main thread sends this thread every 'view', 'cancel', 'forget'
 * and 'dispose'; the engine worker feeds it each kept analysis whose q/k its pass keeps (single-stack
 * ones where they fit, encoder-decoders always; src/engine/keptMirror.ts, over a MessageChannel:
 * shared q/k, no copy) as the pass computes it. Views of such an analysis are served here, by the
 * same ViewServer and ViewScheduler the worker uses, on this thread's own scores sessions; every
 * other view (step by step, which needs v; full results; analyses not mirrored) goes to the engine
 * worker, which answers the host itself. Replies go to the main thread, which writes them as frames like the worker's.
 */
import * as os from 'os';
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'worker_threads';
import { toErrorInfo } from '../engine/errors';
import { ScoresSessions } from '../engine/kept';
import { MirrorKeptAnalysis, type MirrorFeed, type MirrorRequest } from '../engine/keptMirror';
import { ViewServer } from '../analysis/viewServer';
import type { HostToWorker, WorkerToHost } from '../protocol/worker';
import { answerView, headShown, ViewScheduler } from './viewScheduler';

if (!parentPort) throw new Error('viewThread must run in a worker thread');
const host = parentPort;
const engine: MessagePort = workerData.enginePort;

/**
 * onnxruntime threads for this thread's scores runs: a few, beside the pass's (which takes every
 * core). A head at 2,048 tokens is a fraction of a second on one.
 */
const VIEW_THREADS = Math.max(1, Math.min(4, Math.floor((os.availableParallelism?.() ?? os.cpus().length) / 2)));

const sessions = new ScoresSessions(() => ({
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  intraOpNumThreads: VIEW_THREADS,
  interOpNumThreads: 1,
  // Idle threads sleep at once: the pass's session needs the cores.
  extra: { session: { 'intra_op.allow_spinning': '0' } },
  enableCpuMemArena: false,
  enableMemPattern: false,
}));
const mirrors = new Map<number, { analysis: MirrorKeptAnalysis; server: ViewServer }>();
const views = new ViewScheduler();
const controllers = new Map<number, AbortController>();
/** The abort reason of views stopped because the model is being released. */
const CLOSED = Symbol('closed');

function post(message: WorkerToHost, transfer: ArrayBuffer[] = []): void {
  host.postMessage(message, transfer);
}

function toEngine(message: MirrorRequest): void {
  engine.postMessage(message);
}

function drop(analysisId: number): void {
  mirrors.get(analysisId)?.analysis.dispose();
  mirrors.delete(analysisId);
}

function onFeed(feed: MirrorFeed): void {
  switch (feed.type) {
    case 'start': {
      drop(feed.analysisId);
      const analysis = new MirrorKeptAnalysis(feed, sessions);
      mirrors.set(feed.analysisId, { analysis, server: new ViewServer(analysis, { mergeText: feed.mergeText, targetText: feed.targetText }) });
      // While the first layer group runs: its views then find their sessions made.
      analysis.warm().catch(() => undefined);
      break;
    }
    case 'layers':
      mirrors.get(feed.analysisId)?.analysis.add(feed.layers);
      break;
    case 'stopped':
      mirrors.get(feed.analysisId)?.analysis.stop(feed.error);
      break;
    case 'drop':
      drop(feed.analysisId);
      break;
    case 'settle':
      void views.settled().then(() => toEngine({ type: 'settled', id: feed.id }));
      break;
  }
}

engine.on('message', onFeed);

/**
 * Takes in what the worker has posted so far. A view comes after its analysis's start (the worker
 * posts it before the pass runs, the host learns of the analysis later), but the two ports' queues
 * are read in no set order — right after this thread starts, a view could be seen before that start
 * and handed to the worker. (Layers may come after a view of them: it waits for them.)
 */
function drainFeed(): void {
  for (let next = receiveMessageOnPort(engine); next; next = receiveMessageOnPort(engine)) onFeed(next.message as MirrorFeed);
}

type ViewMessage = Extract<HostToWorker, { type: 'view' }>;

function serve(message: ViewMessage): void {
  const mirror = mirrors.get(message.analysisId);
  if (mirror && !mirror.analysis.alive) drop(message.analysisId);
  // Step by step needs v, which the worker's analysis recomputes; what is not mirrored is the worker's.
  if (!mirror?.analysis.alive || message.request.kind === 'headVectors') {
    toEngine({ type: 'view', message });
    return;
  }
  const head = headShown(message.request);
  toEngine({ type: 'touch', analysisId: message.analysisId, ...(head ? { head } : {}) });
  const controller = new AbortController();
  controllers.set(message.id, controller);
  answerView(views, message, mirror, controller.signal, post)
    .catch((err) => {
      const closed = controller.signal.aborted && controller.signal.reason === CLOSED;
      post({ type: 'error', id: message.id, error: closed ? { code: 'not-loaded', message: 'The model was closed while this view was being computed.' } : toErrorInfo(err) });
    })
    .finally(() => controllers.delete(message.id));
}

host.on('message', (message: HostToWorker) => {
  drainFeed();
  switch (message.type) {
    case 'view':
      serve(message);
      break;
    case 'cancel':
      controllers.get(message.id)?.abort();
      break;
    case 'forget':
      drop(message.analysisId);
      break;
    case 'dispose':
      // The model goes, and its analyses with it: the views waiting here say so.
      for (const c of controllers.values()) c.abort(CLOSED);
      for (const id of [...mirrors.keys()]) drop(id);
      break;
    default:
      // The main thread sends nothing else here.
      break;
  }
});
