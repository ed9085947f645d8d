/** Learned relative-position biases added to the logits (T5 buckets; MPNet and the T5 decoder reuse them). */
import { positionInput, type PositionInput } from '../../engine/architecture';

const f = Math.fround;

/**
 * The bucket of a relative position (key − query), as transformers' `_relative_position_bucket`
 * computes it. Bidirectional: half of the buckets for keys after the query; within each half (or
 * all buckets, causal), exact buckets for distances below half of them and logarithmic ones up to
 * `maxDistance`. The logarithm runs in float32 steps like torch, so bucket edges agree.
 */
export function relativePositionBucket(relative: number, numBuckets: number, maxDistance: number, bidirectional = true): number {
  let buckets = numBuckets;
  let offset = 0;
  let distance: number;
  if (bidirectional) {
    buckets = Math.floor(numBuckets / 2);
    offset = relative > 0 ? buckets : 0;
    distance = Math.abs(relative);
  } else {
    distance = Math.max(-relative, 0);
  }
  const maxExact = Math.floor(buckets / 2);
  if (distance < maxExact) return offset + distance;
  const ratio = f(f(Math.log(f(distance / maxExact))) / f(Math.log(maxDistance / maxExact)));
  const large = maxExact + Math.trunc(f(ratio * (buckets - maxExact)));
  return offset + Math.min(large, buckets - 1);
}

/** `[heads, n, n]` bias from a `[numBuckets, heads]` table (T5's `relative_attention_bias`). */
export function relativePositionBias(table: Float32Array, heads: number, n: number, numBuckets: number, maxDistance: number, bidirectional = true): Float32Array {
  const data = new Float32Array(heads * n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const bucket = relativePositionBucket(j - i, numBuckets, maxDistance, bidirectional);
      for (let h = 0; h < heads; h++) data[(h * n + i) * n + j] = table[bucket * heads + h];
    }
  }
  return data;
}

/** The bucketed bias as a logit term named `name`. */
export function relativeBiasInput(name: string, table: Float32Array, heads: number, numBuckets: number, maxDistance: number, bidirectional = true): PositionInput {
  return positionInput(name, [heads, 'n', 'n'], (n) => relativePositionBias(table, heads, n, numBuckets, maxDistance, bidirectional));
}

/**
 * DeBERTa-v2/v3 relative positions `[n, n]` (query − key), log-bucketed as transformers'
 * `make_log_bucket_position` does when `position_buckets` > 0: exact within ±bucketSize/2, then
 * logarithmic up to `maxPosition`, in float32 steps like torch. The c2p/p2c terms gather
 * `rel_embeddings` rows at these positions in the graph. Not yet pinned by a fixture: check it
 * against `deberta-v2` when that family lands.
 */
export function debertaRelativePositions(n: number, bucketSize: number, maxPosition: number): Int32Array {
  const out = new Int32Array(n * n);
  const mid = Math.floor(bucketSize / 2);
  const logRange = f(Math.log(f((maxPosition - 1) / mid)));
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const rel = i - j;
      if (bucketSize <= 0 || maxPosition <= 0) {
        out[i * n + j] = rel;
        continue;
      }
      const abs = rel < mid && rel > -mid ? mid - 1 : Math.abs(rel);
      const log = Math.ceil(f(f(f(Math.log(f(abs / mid))) / logRange) * (mid - 1))) + mid;
      out[i * n + j] = abs <= mid ? rel : log * Math.sign(rel);
    }
  }
  return out;
}
