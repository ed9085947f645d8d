/** Additive attention masks `[n, n]`: 0 where a query may attend to a key, -Infinity elsewhere. */
import type { PositionInput } from '../engine/architecture';

/**
 * Causal mask, optionally with a sliding window: query i sees key j when j ≤ i and, with a window
 * w, i − j < w (transformers' sliding-window rule).
 */
export function causalMask(n: number, window?: number): PositionInput {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const visible = j <= i && (window === undefined || i - j < window);
      if (!visible) data[i * n + j] = -Infinity;
    }
  }
  return { data, dims: [n, n] };
}

/** Bidirectional local window: query i sees key j when |i − j| ≤ halfWidth. */
export function localMask(n: number, halfWidth: number): PositionInput {
  const data = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) if (Math.abs(i - j) > halfWidth) data[i * n + j] = -Infinity;
  return { data, dims: [n, n] };
}
