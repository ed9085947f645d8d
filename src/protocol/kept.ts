/**
 * What the view server needs of an analysis the engine keeps (issue 10): the worker holds one per
 * analysis id and serves the panel's views from it. The engine's `KeptAnalysis` (src/engine/kept.ts,
 * with its per-layer `LayerSummaries`) offers all of this and more: it keeps per-layer state and
 * recomputes one layer's attention on demand. src/analysis/fullResultKept.ts adapts a full
 * `AttentionResult` (encoder-decoders, the test API, results the panel got with their tensors).
 */
import type { AttentionBlockKind, HeadVectors, TokenInfo } from './types';
import type { BlockMeta } from './views';

export interface KeptAnalysis {
  readonly tokens: TokenInfo[];
  readonly blocks: BlockMeta[];
  /** One layer's exact attention `[heads, queries, keys]`, or heads `from`…`to - 1` of it (a fresh array the caller may keep). */
  attention(block: AttentionBlockKind, layer: number, signal?: AbortSignal, heads?: { from: number; to: number }): Promise<Float32Array>;
  /**
   * `[queries, keys]` of one head where the pass kept it (the head the panel showed last), else
   * undefined. Read-only: it is the kept array itself (the view server copies what it hands out).
   */
  keptHead?(block: AttentionBlockKind, layer: number, head: number): Float32Array | undefined;
  /** `[queries, keys]` mean over one layer's heads, when the engine forms it without the whole layer (means, rollout). */
  headMean?(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<Float32Array>;
  /** `[layers, heads, keys]` ‖f_h(x_j)‖ of a block. */
  valueNorms(block: AttentionBlockKind): Float32Array;
  /** q, k, v of one head of THIS analysis (step by step). */
  headVectors(block: AttentionBlockKind, layer: number, head: number): Promise<HeadVectors>;
  /** Bytes this analysis holds, for the worker's LRU within the engine's memory budget. */
  readonly bytesHeld: number;
  /**
   * While its pass runs: resolves once `layer` of `block` is computed (rejects if the pass stops
   * first). Absent where every layer is there from the start.
   */
  whenComputed?(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<void>;
  dispose(): void;
}
