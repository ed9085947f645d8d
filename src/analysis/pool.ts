/** Downsampling of attention matrices for thumbnails. */
import type { Matrix } from './tensor';

/**
 * Max-pools an n×n matrix into blocks so that it is at most `target` cells wide. Max rather than mean
 * keeps one-cell-wide structure (diagonals, a sink column) visible in a small thumbnail.
 */
export function maxPool(m: Matrix, target: number): Matrix {
  return maxPoolWithRowMax(m, target).pooled;
}

/**
 * `maxPool` and each row's maximum in one sweep (the overview of a long text: at 2,048 tokens its
 * 4 M values are read once, block by block, with no index arithmetic per value).
 */
export function maxPoolWithRowMax(m: Matrix, target: number): { pooled: Matrix; rowMax: Float32Array } {
  const n = m.size;
  const src = m.data;
  const rowMax = new Float32Array(n);
  const factor = n <= target ? 1 : Math.ceil(n / target);
  const size = Math.ceil(n / factor);
  const data = factor === 1 ? src : new Float32Array(size * size);
  // Whole blocks of `factor` columns, then the narrower last one.
  const whole = Math.floor(n / factor);
  for (let i = 0; i < n; i++) {
    const row = i * n;
    const out = Math.floor(i / factor) * size;
    let rowBest = 0;
    for (let c = 0; c <= whole; c++) {
      const from = row + c * factor;
      const to = c < whole ? from + factor : row + n;
      if (from >= to) break;
      let best = src[from] > 0 ? src[from] : 0;
      for (let k = from + 1; k < to; k++) {
        const v = src[k];
        if (v > best) best = v;
      }
      if (factor > 1 && best > data[out + c]) data[out + c] = best;
      if (best > rowBest) rowBest = best;
    }
    rowMax[i] = rowBest;
  }
  return { pooled: factor === 1 ? m : { size, data }, rowMax };
}
