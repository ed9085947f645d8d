/**
 * The contract between the engine and the worker for analyses the engine keeps (issue 10,
 * /work/notes/kept-contract.md): the worker holds a `KeptAnalysis` per analysis id and serves the
 * panel's views from it. The engine's own implementation keeps per-layer hidden states and
 * recomputes one layer's attention on demand; src/worker/fullResultKept.ts adapts a full
 * `AttentionResult` to the same interface.
 */
import type { AttentionBlockKind, HeadVectors, TokenInfo } from './types';
import type { BlockMeta } from './views';

/** Per-head summaries of one layer, computed from the exact probabilities while the pass runs. */
export interface LayerSummaries {
  block: AttentionBlockKind;
  layer: number;
  heads: number;
  queries: number;
  keys: number;
  /** `[heads, keys]` ‖f_h(x_j)‖. */
  valueNorms: Float32Array;
  /** `[heads]` per score key (previousToken, firstToken, self, entropy, entropyBits, and any registered score). */
  scores: Record<string, Float32Array>;
  /** `[heads, size, size]` max-pooled, 8-bit relative to each head's maximum (`maxima`, `[heads]`). */
  thumbnail: { size: number; data: Uint8Array; maxima: Float32Array };
}

export interface KeptAnalysis {
  readonly tokens: TokenInfo[];
  readonly blocks: BlockMeta[];
  /** One layer's exact attention `[heads, queries, keys]` (a fresh array the caller may keep). */
  attention(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<Float32Array>;
  /** `[queries, keys]` mean over one layer's heads, when the engine forms it without the whole layer (means, rollout). */
  headMean?(block: AttentionBlockKind, layer: number, signal?: AbortSignal): Promise<Float32Array>;
  /** `[layers, heads, keys]` ‖f_h(x_j)‖ of a block. */
  valueNorms(block: AttentionBlockKind): Float32Array;
  /** q, k, v of one head of THIS analysis (step by step). */
  headVectors(block: AttentionBlockKind, layer: number, head: number): Promise<HeadVectors>;
  /** Bytes this analysis holds, for the worker's LRU within the engine's memory budget. */
  readonly bytesHeld: number;
  dispose(): void;
}
