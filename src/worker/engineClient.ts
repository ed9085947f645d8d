/**
 * The host side of the engine: forks the engine process (engineProcess.ts, which runs the engine
 * worker thread), turns requests into promises, forwards progress and cancellation, and supervises
 * it. The extension host never runs engine code itself, so it never blocks, and a model that makes
 * a native library abort ends only the engine process: its requests fail with an 'engine-crashed'
 * error and the next request starts a fresh engine.
 */
import { fork, type ChildProcess } from 'child_process';
import * as path from 'path';
import type { Readable } from 'stream';
import type { AnalyzeOptions, AttentionBlockKind, AttentionResult, EngineErrorInfo, GenerateOptions, HeadVectors, ModelSummary } from '../protocol/types';
import type { HostToWorker, WorkerToHost } from '../protocol/worker';
import type { AnalysisInfo, BlockSummaries, ViewReply, ViewRequest } from '../protocol/views';
import { FrameReader } from './frames';

/** Rejection reason for engine failures; `info.code` says what kind. */
export class EngineRequestError extends Error {
  constructor(readonly info: EngineErrorInfo) {
    super(info.message);
    this.name = 'EngineRequestError';
  }
}

export interface RequestHooks {
  onProgress?: (message: string, fraction?: number) => void;
  /** Aborting sends `cancel` to the engine; the promise then rejects with code 'cancelled'. */
  signal?: AbortSignal;
  /** A kept analysis's summaries so far, layer group by layer group (analyzeKept). */
  onSummaries?: (analysisId: number, info: AnalysisInfo, summaries: BlockSummaries[]) => void;
}

interface Pending {
  kind: HostToWorker['type'];
  resolve: (message: WorkerToHost) => void;
  reject: (err: Error) => void;
  hooks: RequestHooks;
}

/**
 * A cancelled request that has not answered after this long is stuck where the engine cannot look
 * at its cancel flag (a blocking read, a native loop): the engine process is ended instead.
 */
export const CANCEL_GRACE_MS = 10_000;
/** How much of the engine's stderr is kept for the log after a crash. */
const STDERR_TAIL = 4000;

let liveEngines = 0;

interface Engine {
  child: ChildProcess;
  /** The end of its stderr (panic messages), for the log. */
  stderr: string;
  exited: boolean;
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal === 'SIGABRT' || code === 134) return 'aborted (SIGABRT)';
  if (signal === 'SIGFPE' || code === 136) return 'crashed with an arithmetic fault (SIGFPE)';
  if (signal === 'SIGSEGV' || code === 139) return 'crashed (SIGSEGV)';
  if (signal === 'SIGKILL') return 'was killed (out of memory, or stopped after a cancel it could not notice)';
  if (signal) return `was stopped by ${signal}`;
  return `exited with code ${code}`;
}

/** Which native part failed, from the engine's stderr (the text itself goes to the log only). */
function culprit(stderr: string): string {
  if (/panicked at|tokenizers/i.test(stderr)) return "the tokenizer library failed on this model's tokenizer.json";
  if (/heap out of memory|Allocation failed|JavaScript heap/i.test(stderr)) return "the engine ran out of memory on this model's config.json or text";
  if (/onnxruntime|ORT|Ort/i.test(stderr)) return 'onnxruntime failed on this model';
  return "the model's files probably make one of its native libraries (tokenizers, onnxruntime) fail";
}

/** A kept analysis as the engine answers it: what it is, its summaries, and every tensor when asked. */
export interface KeptReply {
  analysisId: number;
  info: AnalysisInfo;
  summaries: BlockSummaries[];
  result?: AttentionResult;
}

export class EngineClient {
  private engine: Engine | undefined;
  private nextId = 1;
  /** Analysis ids are unique for the life of the client (across engine restarts), so a reply for an old one is never mistaken. */
  private nextAnalysisId = 1;
  private firstAnalysisOfEngine = 1;
  private pending = new Map<number, Pending>();
  private loadedFolder: string | undefined;
  private loadedModel: ModelSummary | undefined;
  private loadedLimit: number | undefined;
  private readonly processScript: string;
  /** Cancelled requests the engine has not finished yet, with the timer that ends a stuck engine. */
  private readonly stopping = new Map<number, NodeJS.Timeout>();

  /**
   * `workerScript` is dist/worker.js of the extension; the engine process (dist/engineProcess.js
   * beside it) runs it.
   */
  constructor(workerScript: string, private readonly log: (line: string) => void = () => {}) {
    this.processScript = path.join(path.dirname(path.resolve(workerScript)), 'engineProcess.js');
  }

  /** Engine processes started and not yet ended, over every client (for tests). */
  static liveWorkerCount(): number {
    return liveEngines;
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

  /** The engine process id, if one runs (for tests). */
  get pid(): number | undefined {
    return this.engine?.child.pid;
  }

  private ensureEngine(): Engine {
    if (this.engine && !this.engine.exited) return this.engine;
    const child = fork(this.processScript, [], {
      // Not the host's own flags (--inspect, Electron's): the engine is a plain Node process.
      execArgv: [],
      // Desktop VS Code's extension host runs on Electron, whose binary starts a window unless told
      // to behave as Node; plain Node ignores the variable. Telemetry stays off in the child too.
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ORT_DISABLE_TELEMETRY: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const engine: Engine = { child, stderr: '', exited: false };
    this.firstAnalysisOfEngine = this.nextAnalysisId;
    liveEngines++;
    const reader = new FrameReader((message) => this.onMessage(message as WorkerToHost));
    (child.stdio[3] as Readable).on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk);
      } catch (err) {
        this.log(`Engine sent a malformed reply: ${(err as Error).message}`);
        child.kill('SIGKILL');
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      engine.stderr = (engine.stderr + chunk.toString('utf8')).slice(-STDERR_TAIL);
    });
    child.on('error', (err) => this.log(`Engine process error: ${err.message}`));
    child.on('exit', (code, signal) => {
      engine.exited = true;
      for (const timer of this.stopping.values()) clearTimeout(timer);
      this.stopping.clear();
      liveEngines--;
      if (this.engine === engine) {
        this.engine = undefined;
        this.loadedFolder = undefined;
        this.loadedModel = undefined;
      }
      if (this.pending.size === 0 && (code === 0 || signal === 'SIGTERM')) return;
      const how = describeExit(code, signal);
      this.log(`Engine process ${how}.${engine.stderr ? ` Its last output:\n${engine.stderr}` : ''}`);
      for (const [id, p] of [...this.pending]) {
        this.pending.delete(id);
        if (p.hooks.signal?.aborted) p.reject(new EngineRequestError({ code: 'cancelled', message: 'Cancelled.' }));
        else {
          const during = p.kind === 'load' ? 'while loading the model' : p.kind === 'analyze' || p.kind === 'probe' ? 'while analyzing the text' : p.kind === 'generate' ? 'while generating' : 'while working';
          p.reject(new EngineRequestError({
            code: 'engine-crashed',
            message: `The engine ${how} ${during}: ${culprit(engine.stderr)}. Nothing else is affected; the next request starts a fresh engine. Select another model, or see the log for details.`,
          }));
        }
      }
    });
    this.engine = engine;
    return engine;
  }

  private onMessage(message: WorkerToHost): void {
    if (message.type === 'log') {
      this.log(message.message);
      return;
    }
    // The engine has finished a request it was told to cancel: it is not stuck.
    if (message.type !== 'progress' && message.type !== 'summaries' && this.stopping.has(message.id)) {
      clearTimeout(this.stopping.get(message.id));
      this.stopping.delete(message.id);
    }
    const pending = this.pending.get(message.id);
    if (!pending) return;
    if (message.type === 'summaries') {
      pending.hooks.onSummaries?.(message.analysisId, message.info, message.summaries);
      return;
    }
    if (message.type === 'progress') {
      pending.hooks.onProgress?.(message.message, message.fraction);
      return;
    }
    this.pending.delete(message.id);
    if (message.type === 'error') pending.reject(new EngineRequestError(message.error));
    else pending.resolve(message);
  }

  private send(engine: Engine, message: HostToWorker): void {
    if (!engine.exited && engine.child.connected) engine.child.send(message);
  }

  private request<T extends WorkerToHost['type']>(make: (id: number) => HostToWorker, expect: T, hooks: RequestHooks = {}): Promise<Extract<WorkerToHost, { type: T }>> {
    const id = this.nextId++;
    const message = make(id);
    return new Promise((resolve, reject) => {
      if (hooks.signal?.aborted) {
        reject(new EngineRequestError({ code: 'cancelled', message: 'Cancelled.' }));
        return;
      }
      const engine = this.ensureEngine();
      // A cancel takes effect for the caller at once (the engine may not even have read the
      // request yet); the engine is told, and ended if it has not stopped within the grace time.
      const onAbort = () => {
        this.pending.delete(id);
        settle();
        reject(new EngineRequestError({ code: 'cancelled', message: 'Cancelled.' }));
        this.send(engine, { type: 'cancel', id });
        this.stopping.set(id, setTimeout(() => {
          this.stopping.delete(id);
          if (engine.exited) return;
          this.log(`The engine did not stop within ${CANCEL_GRACE_MS} ms of a cancel; ending it.`);
          engine.child.kill('SIGKILL');
        }, CANCEL_GRACE_MS));
      };
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      const settle = () => hooks.signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, {
        kind: message.type,
        hooks,
        resolve: (reply) => {
          settle();
          if (reply.type === expect) resolve(reply as Extract<WorkerToHost, { type: T }>);
          else reject(new Error(`Unexpected engine reply ${reply.type}`));
        },
        reject: (err) => {
          settle();
          reject(err);
        },
      });
      this.send(engine, message);
    });
  }

  async load(folder: string, meta: { name: string; source: string; memoryLimitGB?: number }, hooks?: RequestHooks): Promise<{ model: ModelSummary; loadMs: number }> {
    const reply = await this.request((id) => ({ type: 'load', id, folder, ...meta }), 'loaded', hooks);
    this.loadedFolder = folder;
    this.loadedModel = reply.model;
    this.loadedLimit = meta.memoryLimitGB;
    return { model: reply.model, loadMs: reply.loadMs };
  }

  /** A newer text supersedes an older one at once, whether or not the engine has begun it (the engine cancels it too when the new request reaches it). */
  private supersedeAnalyses(): void {
    for (const [id, p] of [...this.pending]) {
      if (p.kind !== 'analyze' && p.kind !== 'probe' && p.kind !== 'generate') continue;
      this.pending.delete(id);
      if (this.engine) this.send(this.engine, { type: 'cancel', id });
      p.reject(new EngineRequestError({ code: 'cancelled', message: 'Superseded by a newer analysis.' }));
    }
  }

  /** The full result with every tensor, kept nowhere (CLI, tests). */
  async analyze(text: string, options: AnalyzeOptions = {}, hooks?: RequestHooks): Promise<AttentionResult> {
    this.supersedeAnalyses();
    return (await this.request((id) => ({ type: 'analyze', id, text, options }), 'result', hooks)).result;
  }

  /**
   * Analyzes and keeps the analysis in the engine under a new analysis id; answers what it is and
   * its summaries (and every tensor when `withTensors`). Views are then asked for with `view`.
   */
  async analyzeKept(text: string, options: AnalyzeOptions = {}, hooks?: RequestHooks & { withTensors?: boolean; reuseId?: number }): Promise<KeptReply> {
    return this.keep((id, analysisId, withTensors) => ({ type: 'analyze', id, text, options, analysisId, withTensors }), hooks);
  }

  /**
   * The repeated-random-tokens probe with the loaded model, kept as `analyzeKept` keeps a text's
   * analysis (it supersedes an analysis like a new text).
   */
  async probeKept(length: number, seed: number, hooks?: RequestHooks & { withTensors?: boolean }): Promise<KeptReply> {
    return this.keep((id, analysisId, withTensors) => ({ type: 'probe', id, length, seed, analysisId, withTensors }), hooks);
  }

  /** "Continue and Show Attention": greedy continuation, then the full result over prompt + generated tokens, kept nowhere (tests). Supersedes like analyze. */
  async generate(text: string, options: GenerateOptions, hooks?: RequestHooks): Promise<AttentionResult> {
    this.supersedeAnalyses();
    return (await this.request((id) => ({ type: 'generate', id, text, options }), 'result', hooks)).result;
  }

  /** "Continue and Show Attention", kept as `analyzeKept` keeps a text's analysis (it supersedes an analysis like a new text). */
  async generateKept(text: string, options: GenerateOptions, hooks?: RequestHooks & { withTensors?: boolean }): Promise<KeptReply> {
    return this.keep((id, analysisId, withTensors) => ({ type: 'generate', id, text, options, analysisId, withTensors }), hooks);
  }

  /**
   * `reuseId`: keep it under an id already given out (Compare With… analyzes the panel's text again
   * under its own id after another model was loaded, so the panel's views go on answering).
   */
  private async keep(make: (id: number, analysisId: number, withTensors?: boolean) => HostToWorker, hooks?: RequestHooks & { withTensors?: boolean; reuseId?: number }): Promise<KeptReply> {
    this.supersedeAnalyses();
    const analysisId = hooks?.reuseId !== undefined && hooks.reuseId < this.nextAnalysisId ? hooks.reuseId : this.nextAnalysisId++;
    const reply = await this.request((id) => make(id, analysisId, hooks?.withTensors), 'analyzed', hooks);
    return { analysisId: reply.analysisId, info: reply.info, summaries: reply.summaries, ...(reply.result ? { result: reply.result } : {}) };
  }

  /** A view of a kept analysis; aborting `signal` cancels it in the engine too. */
  async view(analysisId: number, request: ViewRequest, signal?: AbortSignal): Promise<ViewReply> {
    return (await this.request((id) => ({ type: 'view', id, analysisId, request }), 'view', { signal })).reply;
  }

  /** The analysis is no longer shown: the engine drops it. */
  forget(analysisId: number): void {
    if (this.engine) this.send(this.engine, { type: 'forget', id: 0, analysisId });
  }

  /** Whether the running engine may still hold `analysisId` (a restarted engine holds none). */
  holds(analysisId: number): boolean {
    return this.engine !== undefined && !this.engine.exited && analysisId >= this.firstAnalysisOfEngine;
  }

  async headVectors(layer: number, head: number, block?: AttentionBlockKind): Promise<HeadVectors> {
    return (await this.request((id) => ({ type: 'headVectors', id, layer, head, block }), 'headVectors')).vectors;
  }

  /** Releases the model but keeps the engine process. */
  async release(): Promise<void> {
    if (!this.engine) return;
    await this.request((id) => ({ type: 'dispose', id }), 'disposed');
    this.loadedFolder = undefined;
    this.loadedModel = undefined;
  }

  /** Ends the engine process; pending requests reject. */
  async dispose(): Promise<void> {
    const engine = this.engine;
    if (!engine) return;
    const shutDown = new EngineRequestError({ code: 'cancelled', message: 'The engine was shut down.' });
    for (const p of this.pending.values()) p.reject(shutDown);
    this.pending.clear();
    this.engine = undefined;
    this.loadedFolder = undefined;
    this.loadedModel = undefined;
    if (engine.exited) return;
    await new Promise<void>((resolve) => {
      engine.child.once('exit', () => resolve());
      engine.child.kill('SIGTERM');
    });
  }
}
