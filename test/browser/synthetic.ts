/** Synthetic results built inside the page (random row-stochastic attention, float16 as the engine sends large results). */
import type { AttentionResult, TokenInfo } from '../../src/protocol/types';
import type { Harness } from './harness';

/**
 * Posts a synthetic result built inside the page; returns ms until it is drawn. `causal`: future
 * keys get 0; `tiny`: a sink on token 0 takes almost all the weight (so the rest is tiny).
 */
export async function postSynthetic(h: Harness, layers: number, heads: number, n: number, resultId: number, options: { causal?: boolean; tiny?: boolean } = {}): Promise<number> {
  return h.page.evaluate(
    async ({ layers, heads, n, resultId, causal, tiny }) => {
      let seed = 12345;
      const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
      // float → binary16 (normal range, round to nearest; these values are in [2^-14, 1]).
      const f32 = new Float32Array(1);
      const u32 = new Uint32Array(f32.buffer);
      const half = (v: number) => {
        if (v < 2 ** -14) return 0;
        f32[0] = v;
        const x = u32[0];
        return (((x >>> 23) & 0xff) - 112) << 10 | ((x >>> 13) & 0x3ff);
      };
      const bits = new Uint16Array(layers * heads * n * n);
      const row = new Float64Array(n);
      for (let m = 0; m < layers * heads; m++) {
        for (let i = 0; i < n; i++) {
          let sum = 0;
          for (let j = 0; j < n; j++) sum += row[j] = causal && j > i ? 0 : rand() ** 6 + (j === i - 1 ? 2 : 0) + (tiny && j === 0 ? 200 : 0);
          for (let j = 0; j < n; j++) bits[(m * n + i) * n + j] = half(row[j] / sum);
        }
      }
      const norms = new Float32Array(layers * heads * n).map(() => 0.5 + rand());
      const text = Array.from({ length: n }, (_, i) => `w${i}`).join(' ');
      let offset = 0;
      const tokens = Array.from({ length: n }, (_, i) => {
        const word = `w${i}`;
        const t = { id: i, raw: word, display: word, start: offset, end: offset + word.length, special: false, segment: 0 };
        offset += word.length + 1;
        return t;
      });
      const result = {
        model: { name: 'synthetic', source: 'synthetic', modelType: 'test', numLayers: layers, numHeads: heads, numKeyValueHeads: heads, headDim: 64, hiddenSize: 64 * heads, maxTokens: null, causal: !!causal },
        text,
        tokens,
        attentions: { dtype: 'float16', shape: [layers, heads, n, n], buffer: bits.buffer },
        valueNorms: { dtype: 'float32', shape: [layers, heads, n], buffer: norms.buffer },
        timings: { tokenizeMs: 0, computeMs: 0 },
      };
      const t0 = performance.now();
      window.postMessage({ type: 'result', resultId, result }, '*');
      await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
      return performance.now() - t0;
    },
    { layers, heads, n, resultId, causal: options.causal, tiny: options.tiny },
  );
}


/**
 * A float32 result built here (sent with `h.send`): `n` word tokens "w0 w1 …", rows from a seeded
 * generator; `causal` zeroes future keys; `sink` gives token 0 that share of each row, so the other
 * weights become small; `tiny` puts 3.8e-6 at row 1, key 0.
 */
export function syntheticResult(n: number, options: { layers?: number; heads?: number; causal?: boolean; sink?: number; tiny?: boolean; words?: string[] } = {}): AttentionResult {
  const layers = options.layers ?? 2;
  const heads = options.heads ?? 2;
  let seed = 987;
  const rand = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const data = new Float32Array(layers * heads * n * n);
  for (let m = 0; m < layers * heads; m++) {
    for (let i = 0; i < n; i++) {
      const row = Array.from({ length: n }, (_, j) => (options.causal && j > i ? 0 : 0.05 + rand() ** 3 + (j === i - 1 ? 1 : 0)));
      const sum = row.reduce((a, b) => a + b, 0);
      for (let j = 0; j < n; j++) {
        let w = row[j] / sum;
        if (options.sink !== undefined) w = j === 0 ? options.sink + (1 - options.sink) * w : (1 - options.sink) * w;
        data[(m * n + i) * n + j] = w;
      }
    }
  }
  if (options.tiny && n > 1) {
    // Row 1: key 0 gets 3.8e-6, key 1 the rest.
    for (let m = 0; m < layers * heads; m++) {
      const base = (m * n + 1) * n;
      for (let j = 0; j < n; j++) data[base + j] = 0;
      data[base] = 3.8e-6;
      data[base + 1] = 1 - 3.8e-6;
    }
  }
  const words = options.words ?? Array.from({ length: n }, (_, i) => `w${i}`);
  let offset = 0;
  const tokens: TokenInfo[] = words.map((word, i) => {
    const t = { id: i, raw: word, display: word, start: offset, end: offset + word.length, special: false, segment: 0 };
    offset += word.length + 1;
    return t;
  });
  const norms = new Float32Array(layers * heads * n).fill(1);
  return {
    model: { name: 'synthetic', source: 'synthetic', modelType: 'test', numLayers: layers, numHeads: heads, numKeyValueHeads: heads, headDim: 16, hiddenSize: 16 * heads, maxTokens: null, causal: !!options.causal },
    text: words.join(' '),
    tokens,
    attentions: { dtype: 'float32', shape: [layers, heads, n, n], buffer: data.buffer },
    valueNorms: { dtype: 'float32', shape: [layers, heads, n], buffer: norms.buffer },
    timings: { tokenizeMs: 0, computeMs: 0 },
  };
}
