/**
 * The host side of the engine worker: starts the thread, turns requests into promises, forwards
 * progress and cancellation. The extension host never runs engine code itself, so it never blocks.
 */
import * as path from 'path';
import { Worker } from 'worker_threads';
import type { AnalyzeOptions, AttentionBlockKind, AttentionResult, EngineErrorInfo, HeadVectors, ModelSummary } from '../protocol/types';
import type { HostToWorker, WorkerToHost } from '../protocol/worker';

/** Rejection reason for engine failures; `info.code` says what kind. */
export class EngineRequestError extends Error {
  constructor(readonly info: EngineErrorInfo) {
    super(info.message);
    this.name = 'EngineRequestError';
  }
}

export interface RequestHooks {
  onProgress?: (message: string, fraction?: number) => void;
  /** Aborting sends `cancel` to the worker; the promise then rejects with code 'cancelled'. */
  signal?: AbortSignal;
}

interface Pending {
  resolve: (message: WorkerToHost) => void;
  reject: (err: Error) => void;
  hooks: RequestHooks;
}

let liveWorkers = 0;

export class EngineClient {
  private worker: Worker | undefined;
  private nextId = 1;
  private pending = new Map<number, Pending>();
  private loadedFolder: string | undefined;
  private loadedModel: ModelSummary | undefined;
  private loadedLimit: number | undefined;
  /** Shared with the worker: a cancel is visible to it immediately (see engineWorker.ts). */
  private readonly cancelFlags = new Int32Array(new SharedArrayBuffer(4 * 64));

  /** `workerScript` is dist/worker.js of the extension. */
  constructor(private readonly workerScript: string, private readonly log: (line: string) => void = () => {}) {}

  static liveWorkerCount(): number {
    return liveWorkers;
  }

  get currentFolder(): string | undefined {
    return this.loadedFolder;
  }

  /** The summary of the loaded model (whether it is an encoder-decoder decides what a run asks for). */
  get currentModel(): ModelSummary | undefined {
    return this.loadedModel;
  }

  /** Whether `folder` is loaded under this memory limit (a changed limit means loading again). */
  isLoaded(folder: string, memoryLimitGB: number | undefined): boolean {
    return this.loadedFolder === folder && this.loadedLimit === memoryLimitGB;
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(path.resolve(this.workerScript), { workerData: { cancelFlags: this.cancelFlags.buffer } });
    liveWorkers++;
    worker.on('message', (message: WorkerToHost) => this.onMessage(message));
    worker.on('error', (err) => {
      this.log(`Engine worker crashed: ${err.message}`);
      this.failAll(new EngineRequestError({ code: 'internal', message: `The engine stopped unexpectedly: ${err.message}` }));
    });
    worker.on('exit', (code) => {
      if (this.worker === worker) {
        this.worker = undefined;
        this.loadedFolder = undefined;
        this.loadedModel = undefined;
        liveWorkers--;
      }
      if (code !== 0) this.failAll(new EngineRequestError({ code: 'internal', message: `The engine exited with code ${code}.` }));
    });
    this.worker = worker;
    return worker;
  }

  private failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  private onMessage(message: WorkerToHost): void {
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.type === 'progress') {
      pending.hooks.onProgress?.(message.message, message.fraction);
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'error') pending.reject(new EngineRequestError(message.error));
    else pending.resolve(message);
  }

  private request<T extends WorkerToHost['type']>(make: (id: number) => HostToWorker, expect: T, hooks: RequestHooks = {}): Promise<Extract<WorkerToHost, { type: T }>> {
    const worker = this.ensureWorker();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (hooks.signal?.aborted) {
        reject(new EngineRequestError({ code: 'cancelled', message: 'Cancelled.' }));
        return;
      }
      const onAbort = () => {
        Atomics.store(this.cancelFlags, id % this.cancelFlags.length, id);
        worker.postMessage({ type: 'cancel', id } satisfies HostToWorker);
      };
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        hooks,
        resolve: (message) => {
          hooks.signal?.removeEventListener('abort', onAbort);
          if (message.type === expect) resolve(message as Extract<WorkerToHost, { type: T }>);
          else reject(new Error(`Unexpected engine reply ${message.type}`));
        },
        reject: (err) => {
          hooks.signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      });
      worker.postMessage(make(id));
    });
  }

  async load(folder: string, meta: { name: string; source: string; memoryLimitGB?: number }, hooks?: RequestHooks): Promise<{ model: ModelSummary; loadMs: number }> {
    const reply = await this.request((id) => ({ type: 'load', id, folder, ...meta }), 'loaded', hooks);
    this.loadedFolder = folder;
    this.loadedModel = reply.model;
    this.loadedLimit = meta.memoryLimitGB;
    return { model: reply.model, loadMs: reply.loadMs };
  }

  async analyze(text: string, options: AnalyzeOptions = {}, hooks?: RequestHooks): Promise<AttentionResult> {
    return (await this.request((id) => ({ type: 'analyze', id, text, options }), 'result', hooks)).result;
  }

  async headVectors(layer: number, head: number, block?: AttentionBlockKind): Promise<HeadVectors> {
    return (await this.request((id) => ({ type: 'headVectors', id, layer, head, block }), 'headVectors')).vectors;
  }

  /** Releases the model but keeps the thread. */
  async release(): Promise<void> {
    if (!this.worker) return;
    await this.request((id) => ({ type: 'dispose', id }), 'disposed');
    this.loadedFolder = undefined;
    this.loadedModel = undefined;
  }

  /** Stops the thread; pending requests reject. */
  async dispose(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    this.failAll(new EngineRequestError({ code: 'cancelled', message: 'The engine was shut down.' }));
    this.worker = undefined;
    this.loadedFolder = undefined;
    this.loadedModel = undefined;
    liveWorkers--;
    await worker.terminate();
  }
}
