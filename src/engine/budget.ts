/**
 * How long a text the engine accepts before memory runs out. What grows with the square of the
 * text length is counted, not only the attentions kept for the result: each layer group's float32
 * outputs fetched from onnxruntime, the attention logits and probabilities inside the running layer,
 * and position inputs such as T5's `[heads, n, n]` bias or causal masks (long texts on T5 and on
 * 128k-position models went past 2 GiB when only the kept attentions were counted).
 */
import type { ArchSummary } from './architecture';

/**
 * Where the float32 weight cache lives when the load options name none (onnx/weightCache.ts); the
 * extension sets it to its storage before the engine process starts. Here because this module
 * imports nothing that the extension host should not load.
 */
export const WEIGHT_CACHE_ENV = 'ATTENTION_INSPECTOR_WEIGHT_CACHE';
/** Overrides the float32 layer bytes from which a model uses the weight cache (model.ts, WEIGHT_CACHE_MIN_BYTES): tests, or caching smaller models. */
export const WEIGHT_CACHE_MIN_BYTES_ENV = 'ATTENTION_INSPECTOR_WEIGHT_CACHE_MIN_BYTES';

/** Bytes that may grow with n² during one analysis. */
export const ANALYSIS_BUDGET_BYTES = 2 * 1024 * 1024 * 1024;
/** Copies of `[heads, n, n]` alive inside one layer's graph (logits, biased/soft-capped logits, probabilities). */
const IN_GRAPH_COPIES = 3;

export interface BudgetShape {
  summary: Pick<ArchSummary, 'numLayers' | 'numHeads'>;
  /** The symbolic shapes of the position inputs (`n` for the token axis). */
  positionShapes: Record<string, readonly (number | string)[]>;
  layersPerChunk: number;
  /** Attentions above this many float32 bytes are kept as float16. */
  float16ThresholdBytes: number;
}

/** Float32 elements per n² of the position inputs (those with two token axes). */
function positionPlanes(shapes: BudgetShape['positionShapes']): number {
  let planes = 0;
  for (const dims of Object.values(shapes)) {
    if (dims.filter((d) => d === 'n').length < 2) continue;
    planes += dims.reduce<number>((p, d) => (typeof d === 'number' ? p * d : p), 1);
  }
  return planes;
}

/** Peak bytes that grow with n², for a text of n tokens. */
export function analysisBytes(shape: BudgetShape, n: number): number {
  const { numLayers, numHeads } = shape.summary;
  const keptFloat32 = numLayers * numHeads * n * n * 4;
  const kept = keptFloat32 > shape.float16ThresholdBytes ? keptFloat32 / 2 : keptFloat32;
  const transient = 4 * n * n * (numHeads * (Math.min(shape.layersPerChunk, numLayers) + IN_GRAPH_COPIES) + positionPlanes(shape.positionShapes));
  return kept + transient;
}

/** The longest text whose analysis stays within the budget. */
export function maxTokensByMemory(shape: BudgetShape, budget = ANALYSIS_BUDGET_BYTES): number {
  const { numLayers, numHeads } = shape.summary;
  const perN2 = (keptBytes: number) => numLayers * numHeads * keptBytes + 4 * (numHeads * (Math.min(shape.layersPerChunk, numLayers) + IN_GRAPH_COPIES) + positionPlanes(shape.positionShapes));
  // Kept as float32, or (past the threshold) as float16: the longest n that fits either way.
  let best = 0;
  for (const keptBytes of [4, 2]) {
    let n = Math.floor(Math.sqrt(budget / perN2(keptBytes)));
    while (n > 0 && analysisBytes(shape, n) > budget) n--;
    best = Math.max(best, n);
  }
  return best;
}
