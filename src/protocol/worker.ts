/**
 * Messages between the extension host and the engine worker thread.
 * Every request carries an id; the worker answers with the same id.
 */
import type { AnalyzeOptions, AttentionBlockKind, AttentionResult, EngineErrorInfo, GenerateOptions, HeadVectors, ModelSummary } from './types';

export type HostToWorker =
  /** Load (or keep warm) the checkpoint in `folder` within `memoryLimitGB` (default: half the machine's memory); a different folder or limit releases the old model. */
  | { type: 'load'; id: number; folder: string; name: string; source: string; memoryLimitGB?: number }
  /** Analyze text with the loaded model. A newer analyze supersedes (cancels) an older one. */
  | { type: 'analyze'; id: number; text: string; options: AnalyzeOptions }
  /** Continue text greedily with the loaded model's LM head, then analyze prompt + generated tokens; answered with `result`. Supersedes like analyze. */
  | { type: 'generate'; id: number; text: string; options: GenerateOptions }
  /** q, k, v of one layer and head of a block (default: the first) for the last analyzed text. */
  | { type: 'headVectors'; id: number; layer: number; head: number; block?: AttentionBlockKind }
  /** Cancel the request with this id (a load or an analyze). */
  | { type: 'cancel'; id: number }
  /** Release the model. */
  | { type: 'dispose'; id: number };

export type WorkerToHost =
  | { type: 'progress'; id: number; message: string; fraction?: number }
  | { type: 'loaded'; id: number; model: ModelSummary; loadMs: number }
  | { type: 'result'; id: number; result: AttentionResult }
  | { type: 'headVectors'; id: number; vectors: HeadVectors }
  | { type: 'disposed'; id: number }
  | { type: 'error'; id: number; error: EngineErrorInfo };
