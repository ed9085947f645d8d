/** Downsampling of attention matrices for thumbnails. */
import type { Matrix } from './tensor';

/**
 * Max-pools an n×n matrix into blocks so that it is at most `target` cells wide. Max rather than mean
 * keeps one-cell-wide structure (diagonals, a sink column) visible in a small thumbnail.
 */
export function maxPool(m: Matrix, target: number): Matrix {
  const n = m.size;
  if (n <= target) return m;
  const factor = Math.ceil(n / target);
  const size = Math.ceil(n / factor);
  const data = new Float32Array(size * size);
  for (let i = 0; i < n; i++) {
    const bi = Math.floor(i / factor) * size;
    for (let j = 0; j < n; j++) {
      const v = m.data[i * n + j];
      const k = bi + Math.floor(j / factor);
      if (v > data[k]) data[k] = v;
    }
  }
  return { size, data };
}
