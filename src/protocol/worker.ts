/**
 * Messages between the extension host and the engine worker thread.
 * Every request carries an id; the worker answers with the same id.
 */
import type { AnalyzeOptions, AttentionBlockKind, AttentionResult, EngineErrorInfo, GenerateOptions, HeadVectors, ModelSummary } from './types';
import type { AnalysisInfo, BlockSummaries, ViewReply, ViewRequest } from './views';

export type HostToWorker =
  /** Load (or keep warm) the checkpoint in `folder` within `memoryLimitGB` (default: half the machine's memory); a different folder or limit releases the old model. */
  | { type: 'load'; id: number; folder: string; name: string; source: string; memoryLimitGB?: number }
  /**
   * Analyze text with the loaded model. A newer analyze supersedes (cancels) an older one. With
   * `analysisId` the worker keeps the analysis under that id (the host picks it; the panel and the
   * webview use the same id) and answers `analyzed` with summaries; `withTensors` also sends the
   * full result. Without it the answer is the full `result`, kept nowhere (CLI, tests).
   */
  | { type: 'analyze'; id: number; text: string; options: AnalyzeOptions; analysisId?: number; withTensors?: boolean }
  /** A view of a kept analysis (src/protocol/views.ts); cancel it with `cancel` and this id. */
  | { type: 'view'; id: number; analysisId: number; request: ViewRequest }
  /** The panel no longer shows this analysis: drop it (no reply). */
  | { type: 'forget'; id: number; analysisId: number }
  /** The repeated-random-tokens probe (src/engine/probe.ts) with the loaded model: kept and answered as `analyze` is. */
  | { type: 'probe'; id: number; length: number; seed: number; analysisId?: number; withTensors?: boolean }
  /** Continue text greedily with the loaded model's LM head, then analyze prompt + generated tokens; answered with the full `result`. Supersedes like analyze. */
  | { type: 'generate'; id: number; text: string; options: GenerateOptions; analysisId?: number; withTensors?: boolean }
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
  /** A kept analysis: what it is and its summaries (the model view renders from them); the full result when asked. */
  | { type: 'analyzed'; id: number; analysisId: number; info: AnalysisInfo; summaries: BlockSummaries[]; result?: AttentionResult }
  | { type: 'view'; id: number; analysisId: number; reply: ViewReply }
  /** While a kept analysis runs: the summaries of the layers done so far (does not answer the request). */
  | { type: 'summaries'; id: number; analysisId: number; info: AnalysisInfo; summaries: BlockSummaries[] }
  | { type: 'headVectors'; id: number; vectors: HeadVectors }
  | { type: 'disposed'; id: number }
  | { type: 'error'; id: number; error: EngineErrorInfo }
  /** Work the engine does on its own while idle (converting into the weight cache), for the output channel; answers no request. */
  | { type: 'log'; message: string };
