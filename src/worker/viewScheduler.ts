/**
 * How the worker serves views (issue 10): beside its queue of passes, not behind it. A view of an
 * analysis whose pass still runs waits only for the layers it needs, and goes on as soon as the
 * pass has computed them; views of older analyses go on at once. The views of one analysis run one
 * after another (its view server's caches are built for one request at a time). In the engine
 * worker the views of different analyses and the pass take turns between onnxruntime runs; the
 * view thread (viewThread.ts) runs its own scheduler over the analyses it mirrors, beside the pass.
 * Releasing the model first waits for the views in flight (in both threads).
 */
import { lastLayerOf } from '../analysis/modes';
import { ViewRequestError, type ViewServer } from '../analysis/viewServer';
import { EngineError } from '../engine/errors';
import type { KeptAnalysis } from '../protocol/kept';
import { replyBuffers, type ViewRequest } from '../protocol/views';
import type { WorkerToHost } from '../protocol/worker';

/** The last layer of the request's block that a view needs computed (the pass computes layers in order). */
export function lastLayerNeeded(request: ViewRequest, layers: number): number {
  const last = layers - 1;
  switch (request.kind) {
    case 'matrix':
    // A view too large for one reply starts with its overview: the panel's first view of a long text.
    case 'overview':
    case 'focus':
      return lastLayerOf(request.mode, request.layer, layers);
    case 'headVectors':
      return request.layer;
    default:
      // Thumbnails and a token's rows cover every head of every layer; the tensor is the whole block.
      return last;
  }
}

/** The single-stack head a view shows (a head or value-weighted matrix, or its overview), if it shows one. */
export function headShown(request: ViewRequest): { layer: number; head: number } | undefined {
  if ((request.kind === 'matrix' || request.kind === 'overview') && request.block === 'self' && (request.mode === 'head' || request.mode === 'valueWeighted')) return { layer: request.layer, head: request.head };
  return undefined;
}

/** Resolves with `turn`, or rejects as cancelled as soon as `signal` aborts. */
function untilAborted(turn: Promise<void>, signal: AbortSignal): Promise<void> {
  const cancelled = () => new EngineError('cancelled', 'The view was cancelled.');
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener('abort', onAbort, { once: true });
    void turn.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}

export class ViewScheduler {
  /** Per analysis id: the end of its views so far (the next one starts after it). */
  private readonly chains = new Map<number, Promise<void>>();
  private readonly inFlight = new Set<Promise<void>>();

  /**
   * Serves a view of `analysis` (kept under `analysisId`) with `serve` once the layers the request
   * needs are computed, after the views of that analysis asked for before it. Started synchronously:
   * `settled()` called after this returns waits for it.
   */
  run<T>(analysisId: number, analysis: KeptAnalysis, request: ViewRequest, signal: AbortSignal, serve: () => Promise<T>): Promise<T> {
    const task = (async () => {
      const block = analysis.blocks.find((b) => b.kind === request.block);
      if (block && analysis.whenComputed) await analysis.whenComputed(block.kind, lastLayerNeeded(request, block.layers), signal);
      const before = this.chains.get(analysisId) ?? Promise.resolve();
      let done!: () => void;
      const mine = new Promise<void>((resolve) => (done = resolve));
      // The next view of this analysis starts after the one before and this one, even if this one is cancelled.
      const end = before.then(() => mine);
      this.chains.set(analysisId, end);
      try {
        // A cancel while waiting for its turn answers at once (the host ends an engine that does not answer a cancel).
        await untilAborted(before, signal);
        return await serve();
      } finally {
        done();
        if (this.chains.get(analysisId) === end) this.chains.delete(analysisId);
      }
    })();
    const settled = task.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(settled);
    void settled.then(() => this.inFlight.delete(settled));
    return task;
  }

  /** Views started and not settled yet. */
  get size(): number {
    return this.inFlight.size;
  }

  /** Resolves once every view started so far has settled (answered or failed). */
  async settled(): Promise<void> {
    await Promise.all([...this.inFlight]);
  }
}

/**
 * Serves a host's view request from a kept analysis in its turn (`views`) and posts the reply; a
 * request the analysis cannot answer fails as 'internal'. The engine worker and the view thread
 * (viewThread.ts) both answer views this way.
 */
export function answerView(
  views: ViewScheduler,
  message: { id: number; analysisId: number; request: ViewRequest },
  entry: { analysis: KeptAnalysis; server: ViewServer },
  signal: AbortSignal,
  post: (message: WorkerToHost, transfer: ArrayBuffer[]) => void,
): Promise<void> {
  return views.run(message.analysisId, entry.analysis, message.request, signal, async () => {
    try {
      const reply = await entry.server.serve(message.request, signal);
      post({ type: 'view', id: message.id, analysisId: message.analysisId, reply }, replyBuffers(reply));
    } catch (err) {
      if (err instanceof ViewRequestError) throw new EngineError('internal', err.message);
      throw err;
    }
  });
}
