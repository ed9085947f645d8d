/**
 * Rotary position tables (cos/sin per position and dimension), computed in float32 steps the way
 * transformers computes them, including the `linear` and `llama3` frequency scalings. Config keys
 * are read in both spellings: transformers 4 (`rope_theta`, `rope_scaling`) and transformers 5
 * (`rope_parameters`).
 */
import { EngineError } from '../engine/errors';
import type { PositionInput } from '../engine/architecture';

const f = Math.fround;

export interface RopeSettings {
  theta: number;
  type: string;
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
}

export function ropeSettings(config: Record<string, unknown>, defaultTheta = 10000): RopeSettings {
  const params = (config.rope_parameters ?? config.rope_scaling ?? {}) as Record<string, unknown>;
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const theta = num(params.rope_theta, num(config.rope_theta, defaultTheta));
  const type = String(params.rope_type ?? params.type ?? 'default');
  if (!['default', 'linear', 'llama3', 'dynamic'].includes(type)) {
    throw new EngineError('unsupported-architecture', `Rotary scaling "${type}" is not supported yet (supported: default, linear, llama3, dynamic).`);
  }
  return {
    theta,
    type,
    factor: num(params.factor, 1),
    lowFreqFactor: num(params.low_freq_factor, 1),
    highFreqFactor: num(params.high_freq_factor, 4),
    originalMaxPositions: num(params.original_max_position_embeddings, num(config.max_position_embeddings, 2048)),
  };
}

/** Inverse frequencies for `rotaryDim` dimensions (float32, as torch computes them). */
export function inverseFrequencies(rope: RopeSettings, rotaryDim: number): Float32Array {
  const inv = new Float32Array(rotaryDim / 2);
  for (let i = 0; i < inv.length; i++) inv[i] = f(1 / f(rope.theta ** f((2 * i) / rotaryDim)));
  if (rope.type === 'linear') for (let i = 0; i < inv.length; i++) inv[i] = f(inv[i] / rope.factor);
  if (rope.type === 'llama3') {
    const lowWavelen = rope.originalMaxPositions / rope.lowFreqFactor;
    const highWavelen = rope.originalMaxPositions / rope.highFreqFactor;
    for (let i = 0; i < inv.length; i++) {
      const wavelen = f((2 * Math.PI) / inv[i]);
      if (wavelen > lowWavelen) inv[i] = f(inv[i] / rope.factor);
      else if (wavelen >= highWavelen) {
        const smooth = f((rope.originalMaxPositions / wavelen - rope.lowFreqFactor) / (rope.highFreqFactor - rope.lowFreqFactor));
        inv[i] = f(f((1 - smooth) * f(inv[i] / rope.factor)) + f(smooth * inv[i]));
      }
    }
  }
  // 'dynamic' NTK scaling changes frequencies only past the original length; below it, default.
  return inv;
}

/**
 * cos/sin tables `[n, headDim]` for positions 0..n-1. Dimensions past `rotaryDim` (partial rotary)
 * get cos = 1 and sin = 0, so they pass through unchanged.
 */
export function rotaryTables(rope: RopeSettings, n: number, headDim: number, rotaryDim: number, positionOffset = 0): { cos: PositionInput; sin: PositionInput } {
  let inv = inverseFrequencies(rope, rotaryDim);
  if (rope.type === 'dynamic' && n + positionOffset > rope.originalMaxPositions) {
    const base = rope.theta * ((rope.factor * (n + positionOffset)) / rope.originalMaxPositions - (rope.factor - 1)) ** (rotaryDim / (rotaryDim - 2));
    inv = inverseFrequencies({ ...rope, theta: base, type: 'default' }, rotaryDim);
  }
  const half = rotaryDim / 2;
  const cos = new Float32Array(n * headDim).fill(1);
  const sin = new Float32Array(n * headDim);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f((p + positionOffset) * inv[i]);
      const c = Math.cos(angle);
      const s = Math.sin(angle);
      cos[p * headDim + i] = c;
      cos[p * headDim + i + half] = c;
      sin[p * headDim + i] = s;
      sin[p * headDim + i + half] = s;
    }
  }
  return { cos: { data: cos, dims: [n, headDim] }, sin: { data: sin, dims: [n, headDim] } };
}
