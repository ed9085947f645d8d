/**
 * Relative positions: learned biases added to the logits (T5 buckets; MPNet and the T5 decoder reuse
 * them), and logit terms computed in the graph from q or k and a table of relative embeddings
 * (BERT's relative_key_query distance_embedding, DeBERTa's c2p / p2c).
 */
import { positionInput, type PositionInput } from '../../engine/architecture';
import type { Nn } from '../../engine/onnx/layers';

/** ONNX TensorProto.DataType.INT64 (Cast's `to`). */
const INT64 = 7;

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
 * `rel_embeddings` rows at these positions in the graph (pinned by the `deberta-v2` fixture).
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

/**
 * A `[n, n]` table index per (query i, key j) as a position input (float32 holds these small
 * integers exactly; the graph casts it to int64): BERT's `distance_embedding` row i − j + max − 1,
 * DeBERTa's clamped bucket + span.
 */
export function relativeIndexInput(name: string, index: (i: number, j: number, n: number) => number): PositionInput {
  return positionInput(name, ['n', 'n'], (n) => {
    const data = new Float32Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[i * n + j] = index(i, j, n);
    return data;
  });
}

/**
 * DeBERTa's index into the `2·span` relative embeddings: clamp(δ(i, j) + span, 0, 2·span − 1) with δ
 * the (log-bucketed) query − key position. c2p and p2c both gather at it (p2c's own index,
 * clamp(−δ(j, i) + span), is the same number because δ is odd).
 */
export function debertaIndexInput(name: string, bucketSize: number, maxPosition: number, span: number): PositionInput {
  return positionInput(name, ['n', 'n'], (n) => {
    const rel = debertaRelativePositions(n, bucketSize, maxPosition);
    const data = new Float32Array(n * n);
    for (let x = 0; x < rel.length; x++) data[x] = Math.min(Math.max(rel[x] + span, 0), 2 * span - 1);
    return data;
  });
}

/**
 * Relative-position logit term computed in the graph: `[heads, n, n]` with
 * - side 'query': out[h, i, j] = x[h, i] · table[index[i, j]] (BERT's q·D, DeBERTa's c2p),
 * - side 'key':   out[h, i, j] = x[h, j] · table[index[i, j]] (BERT's k·D, DeBERTa's p2c).
 * `x` is `[heads, n, d]`, `table` `[rows, d]` (one for all heads) or `[heads, rows, d]`; `index` the
 * graph input of a `relativeIndexInput`. Scores against every table row, then one gather: rows·n·d
 * per head instead of an `[n, n, d]` table.
 */
export function relativeScores(nn: Nn, x: string, table: string, tableRank: 2 | 3, index: string, heads: number, side: 'query' | 'key'): string {
  const g = nn.g;
  const scores = g.op('MatMul', [x, g.op('Transpose', [table], { perm: tableRank === 2 ? [1, 0] : [0, 2, 1] })], {}, 'rel_scores');
  const asInt = g.op('Cast', [index], { to: INT64 });
  const rows = side === 'query' ? asInt : g.op('Transpose', [asInt], { perm: [1, 0] });
  const gathered = g.op('GatherElements', [scores, g.op('Expand', [rows, g.int64s([heads, 1, 1])])], { axis: 2 }, 'rel_gather');
  return side === 'query' ? gathered : g.op('Transpose', [gathered], { perm: [0, 2, 1] });
}
