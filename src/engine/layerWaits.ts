/**
 * Views asked of a kept analysis while its pass runs (issue 10): each waits until the pass has
 * computed the layer it needs, and fails, saying why, when the pass stops first or the analysis is
 * released. Shared by the single-stack and the encoder-decoder kept analyses.
 */
import { EngineError } from './errors';

interface Waiter {
  ready: () => boolean;
  resolve: () => void;
  reject: (err: Error) => void;
}

export class LayerWaits {
  private readonly waiting = new Set<Waiter>();
  /** Why the pass stopped before its last layer, once it did. */
  private stoppedBy: Error | undefined;
  private released = false;

  /** Resolves once `ready()` holds (at once when it does); rejects when the pass stops first, on release, or when `signal` aborts. */
  wait(ready: () => boolean, signal?: AbortSignal): Promise<void> {
    if (ready()) return Promise.resolve();
    const failure = this.stoppedBy ?? (this.released ? new EngineError('not-loaded', 'This analysis was released; analyze the text again.') : undefined);
    if (failure) return Promise.reject(failure);
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.waiting.delete(waiter);
        reject(new EngineError('cancelled', 'The view was cancelled.'));
      };
      const waiter: Waiter = {
        ready,
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (err: Error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.add(waiter);
    });
  }

  /** The pass computed more layers: the requests waiting for them go on. */
  added(): void {
    for (const w of [...this.waiting]) {
      if (!w.ready()) continue;
      this.waiting.delete(w);
      w.resolve();
    }
  }

  /** The pass stopped before its last layer (`why` says after which): what waits fails with it, and so does every later wait. */
  stop(why: Error): void {
    this.stoppedBy = why;
    for (const w of [...this.waiting]) {
      this.waiting.delete(w);
      w.reject(why);
    }
  }

  get pending(): number {
    return this.waiting.size;
  }

  /** The analysis was released: later waits fail, saying so. */
  release(): void {
    this.released = true;
  }
}

/** The error of a pass that stopped after `done` of `total` layers because of `err`. */
export function stoppedError(err: unknown, done: number, total: number): EngineError {
  const why = err instanceof Error ? err.message : String(err);
  const code = err instanceof EngineError ? err.code : 'internal';
  return new EngineError(code, `The analysis stopped after ${done} of ${total} layers: ${why}`);
}
