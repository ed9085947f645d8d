/** Additive attention masks `[n, n]`: 0 where a query may attend to a key, -Infinity elsewhere. */
import { positionInput, type PositionInput } from '../../engine/architecture';

/**
 * Causal mask, optionally with a sliding window: query i sees key j when j ≤ i and, with a window
 * w, i − j < w (transformers' sliding-window rule).
 */
export function causalMask(n: number, window?: number): Float32Array {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const visible = j <= i && (window === undefined || i - j < window);
      if (!visible) data[i * n + j] = -Infinity;
    }
  }
  return data;
}

/** Bidirectional local window: query i sees key j when |i − j| ≤ halfWidth. */
export function localMask(n: number, halfWidth: number): Float32Array {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (Math.abs(i - j) > halfWidth) data[i * n + j] = -Infinity;
  return data;
}

/** The causal mask (or, with `window`, the sliding-window causal mask) as a logit term. */
export function causalMaskInput(window?: number): PositionInput {
  return positionInput(window === undefined ? 'causal_mask' : `sliding_mask_${window}`, ['n', 'n'], (n) => causalMask(n, window));
}

/** The bidirectional local-window mask as a logit term. */
export function localMaskInput(halfWidth: number): PositionInput {
  return positionInput(`local_mask_${halfWidth}`, ['n', 'n'], (n) => localMask(n, halfWidth));
}

/**
 * ALiBi (Press et al. 2022) slopes per head, as BLOOM / Falcon-RW / MPT compute them: for the
 * largest power of two p ≤ heads, slope_h = 2^(−8(h+1)/p); remaining heads take the odd steps of
 * the sequence for 2p.
 */
export function alibiSlopes(heads: number): Float32Array {
  const p = 2 ** Math.floor(Math.log2(heads));
  const base = Math.fround(2 ** -(2 ** -(Math.log2(p) - 3)));
  const slopes = new Float32Array(heads);
  for (let h = 0; h < p; h++) slopes[h] = Math.fround(base ** (h + 1));
  if (p < heads) {
    const extra = Math.fround(2 ** -(2 ** -(Math.log2(2 * p) - 3)));
    for (let i = 0; i < heads - p; i++) slopes[p + i] = Math.fround(extra ** (2 * i + 1));
  }
  return slopes;
}

/**
 * ALiBi as an additive `[heads, n, n]` term: slope_h · key position (the per-row constant
 * −slope·query position cancels in softmax, and the models add key positions only). `factor`
 * folds in a scale the model applies to the bias (e.g. 1/√d where ALiBi is added before scaling,
 * as in Falcon). Pinned by the `bloom` (factor 1) and `falcon-rw-alibi` (factor 1/√d) references.
 */
export function alibiInput(heads: number, factor = 1): PositionInput {
  const slopes = alibiSlopes(heads);
  return positionInput('alibi', [heads, 'n', 'n'], (n) => {
    const data = new Float32Array(heads * n * n);
    for (let h = 0; h < heads; h++) for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) data[(h * n + i) * n + j] = Math.fround(Math.fround(slopes[h] * j) * factor);
    return data;
  });
}
