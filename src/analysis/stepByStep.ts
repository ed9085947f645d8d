/**
 * The attention of one query token worked out step by step from q, k and v: raw scores q·k, the
 * scale, soft-capping and additive bias/mask, the softmax, and the weighted sum of value vectors.
 */
import type { HeadVectors } from '../protocol/types';
import { readTensorRange, tensorProblem } from './tensor';

export interface KeyStep {
  key: number;
  /** q·k */
  dot: number;
  /** q·k · scale */
  scaled: number;
  /** After tanh soft-capping (equal to `scaled` without it). */
  capped: number;
  /** Additive bias / mask term (0 when there is none; -Infinity for masked keys). */
  bias: number;
  /** The logit that enters the softmax. */
  logit: number;
  /** Softmax weight. */
  weight: number;
}

export interface QueryStep {
  query: number;
  scale: number;
  softcap: number | null;
  keys: KeyStep[];
  /** Σ weights: 1 up to rounding. */
  weightSum: number;
  /** Σ_j weight_j · v_j, length headDim. */
  output: Float32Array;
  /** ‖v_j‖ per key: with the weight it shows what each key contributes. */
  valueNorms: Float32Array;
}

/** `n` queries over `keys` keys (cross-attention: decoder queries, encoder keys and values). */
export function headVectorsProblem(v: unknown, n: number, keys = n): string | undefined {
  if (typeof v !== 'object' || v === null) return 'head vectors are missing';
  const hv = v as Partial<HeadVectors>;
  if (typeof hv.scale !== 'number' || !Number.isFinite(hv.scale)) return 'head vectors carry no scale';
  if (hv.softcap !== null && (typeof hv.softcap !== 'number' || !(hv.softcap > 0))) return 'head vectors carry an invalid softcap';
  for (const name of ['q', 'k', 'v'] as const) {
    const problem = tensorProblem(hv[name], name, 2);
    if (problem) return problem;
    const rows = name === 'q' ? n : keys;
    if (hv[name]!.shape[0] !== rows) return `${name} has ${hv[name]!.shape[0]} rows for ${rows} tokens`;
  }
  if (hv.q!.shape[1] !== hv.k!.shape[1]) return `q and k differ in width (${hv.q!.shape[1]} vs ${hv.k!.shape[1]})`;
  if (hv.bias !== null && hv.bias !== undefined) {
    const problem = tensorProblem(hv.bias, 'bias', 2);
    if (problem) return problem;
    if (hv.bias.shape[0] !== n || hv.bias.shape[1] !== keys) return `bias should be ${n}×${keys}`;
  }
  if (hv.biasTerms !== undefined && (!Array.isArray(hv.biasTerms) || hv.biasTerms.some((t) => typeof t !== 'string' || t.length > 200))) return 'head vectors carry invalid bias term names';
  return undefined;
}

/** Works out one query's attention. Assumes `headVectorsProblem` found nothing. */
export function computeQueryStep(vectors: HeadVectors, query: number): QueryStep {
  const queries = vectors.q.shape[0];
  // Keys (and values) may be other tokens than the queries: cross-attention's are the encoder's.
  const n = vectors.k.shape[0];
  const d = vectors.q.shape[1];
  const dv = vectors.v.shape[1];
  if (!(query >= 0 && query < queries)) throw new RangeError(`query ${query} is outside 0..${queries - 1}`);
  const q = readTensorRange(vectors.q, query * d, d);
  const k = readTensorRange(vectors.k, 0, n * d);
  const v = readTensorRange(vectors.v, 0, n * dv);
  const biasRow = vectors.bias ? readTensorRange(vectors.bias, query * n, n) : null;
  const keys: KeyStep[] = [];
  for (let j = 0; j < n; j++) {
    let dot = 0;
    for (let c = 0; c < d; c++) dot += q[c] * k[j * d + c];
    const scaled = dot * vectors.scale;
    const capped = vectors.softcap ? Math.tanh(scaled / vectors.softcap) * vectors.softcap : scaled;
    const bias = biasRow ? biasRow[j] : 0;
    keys.push({ key: j, dot, scaled, capped, bias, logit: capped + bias, weight: 0 });
  }
  // Softmax with the maximum subtracted, as every framework does, so exp never overflows.
  const maxLogit = keys.reduce((m, s) => Math.max(m, s.logit), -Infinity);
  let total = 0;
  for (const s of keys) {
    s.weight = maxLogit === -Infinity ? 0 : Math.exp(s.logit - maxLogit);
    total += s.weight;
  }
  let weightSum = 0;
  for (const s of keys) {
    s.weight = total > 0 ? s.weight / total : 0;
    weightSum += s.weight;
  }
  const output = new Float32Array(dv);
  const valueNorms = new Float32Array(n);
  for (let j = 0; j < n; j++) {
    let norm = 0;
    for (let c = 0; c < dv; c++) {
      const x = v[j * dv + c];
      output[c] += keys[j].weight * x;
      norm += x * x;
    }
    valueNorms[j] = Math.sqrt(norm);
  }
  return { query, scale: vectors.scale, softcap: vectors.softcap, keys, weightSum, output, valueNorms };
}

/** Largest |difference| between the recomputed weights and the attention row the model returned. */
export function maxAbsDifference(step: QueryStep, attentionRow: ArrayLike<number>): number {
  let worst = 0;
  step.keys.forEach((s, j) => {
    worst = Math.max(worst, Math.abs(s.weight - attentionRow[j]));
  });
  return worst;
}
