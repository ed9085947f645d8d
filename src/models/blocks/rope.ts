/**
 * Rotary position tables (cos/sin per position and dimension), computed in float32 steps the way
 * transformers computes them, with the `linear`, `llama3`, `dynamic` (NTK) and `yarn` frequency
 * scalings. Config keys are read in both spellings: transformers 4 (`rope_theta`, `rope_scaling`)
 * and transformers 5 (`rope_parameters`). A scaling type or parameter not implemented here is
 * refused by name.
 */
import { positionInput, type PositionInput } from '../../engine/architecture';
import { EngineError } from '../../engine/errors';

const f = Math.fround;

export const ROPE_TYPES = ['default', 'linear', 'llama3', 'dynamic', 'yarn'] as const;

export interface RopeSettings {
  theta: number;
  type: (typeof ROPE_TYPES)[number];
  factor: number;
  lowFreqFactor: number;
  highFreqFactor: number;
  originalMaxPositions: number;
  /** yarn: the model's max_position_embeddings (its correction range), beta_fast / beta_slow, and the cos/sin factor. */
  maxPositions: number;
  betaFast: number;
  betaSlow: number;
  attentionFactor: number;
}

function refuseRope(key: string, value: unknown, why: string): never {
  throw new EngineError('unsupported-architecture', `config.json sets ${key} = ${JSON.stringify(value)}, which Attention Inspector does not implement yet (${why}); its attentions would be wrong, so the model is not loaded.`);
}

export function ropeSettings(config: Record<string, unknown>, defaultTheta = 10000): RopeSettings {
  const where = config.rope_parameters !== undefined ? 'rope_parameters' : 'rope_scaling';
  const params = (config.rope_parameters ?? config.rope_scaling ?? {}) as Record<string, unknown>;
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const theta = num(params.rope_theta, num(config.rope_theta, defaultTheta));
  const type = String(params.rope_type ?? params.type ?? 'default');
  if (!(ROPE_TYPES as readonly string[]).includes(type)) refuseRope(`${where}.rope_type`, type, `supported: ${ROPE_TYPES.join(', ')}`);
  const maxPositions = num(config.max_position_embeddings, 2048);
  const factor = num(params.factor, 1);
  let attentionFactor = 1;
  if (type === 'yarn') {
    // transformers' versions disagree on what original_max_position_embeddings means for yarn.
    if (params.original_max_position_embeddings !== undefined) refuseRope(`${where}.original_max_position_embeddings`, params.original_max_position_embeddings, 'with yarn, transformers versions disagree on its meaning');
    const mscale = (scale: number, m = 1) => (scale <= 1 ? 1 : 0.1 * m * Math.log(scale) + 1);
    const given = params.attention_factor;
    if (typeof given === 'number') attentionFactor = given;
    else if (typeof params.mscale === 'number' && typeof params.mscale_all_dim === 'number' && params.mscale && params.mscale_all_dim) attentionFactor = mscale(factor, params.mscale) / mscale(factor, params.mscale_all_dim);
    else attentionFactor = mscale(factor);
  }
  return {
    theta,
    type: type as RopeSettings['type'],
    factor,
    lowFreqFactor: num(params.low_freq_factor, 1),
    highFreqFactor: num(params.high_freq_factor, 4),
    originalMaxPositions: num(params.original_max_position_embeddings, maxPositions),
    maxPositions,
    betaFast: num(params.beta_fast, 32),
    betaSlow: num(params.beta_slow, 1),
    attentionFactor,
  };
}

/** Whether the tables extend past max_position_embeddings (dynamic NTK rescales for any length). */
export function ropeUnbounded(rope: RopeSettings): boolean {
  return rope.type === 'dynamic';
}

function defaultFrequencies(theta: number, rotaryDim: number): Float32Array {
  const inv = new Float32Array(rotaryDim / 2);
  for (let i = 0; i < inv.length; i++) inv[i] = f(1 / f(theta ** f((2 * i) / rotaryDim)));
  return inv;
}

/** yarn: interpolated frequencies below the correction range, extrapolated above, a linear ramp between. */
function yarnFrequencies(rope: RopeSettings, rotaryDim: number): Float32Array {
  const correctionDim = (rotations: number) => (rotaryDim * Math.log(rope.maxPositions / (rotations * 2 * Math.PI))) / (2 * Math.log(rope.theta));
  const low = Math.max(Math.floor(correctionDim(rope.betaFast)), 0);
  let high = Math.min(Math.ceil(correctionDim(rope.betaSlow)), rotaryDim - 1);
  if (low === high) high += 0.001;
  const inv = new Float32Array(rotaryDim / 2);
  for (let i = 0; i < inv.length; i++) {
    const posFreq = f(rope.theta ** f((2 * i) / rotaryDim));
    const extrapolation = f(1 / posFreq);
    const interpolation = f(1 / f(rope.factor * posFreq));
    const ramp = Math.min(1, Math.max(0, f(f(i - low) / f(high - low))));
    const extrapolationFactor = f(1 - ramp);
    inv[i] = f(f(interpolation * f(1 - extrapolationFactor)) + f(extrapolation * extrapolationFactor));
  }
  return inv;
}

/** Inverse frequencies for `rotaryDim` dimensions (float32, as torch computes them). */
export function inverseFrequencies(rope: RopeSettings, rotaryDim: number): Float32Array {
  if (rope.type === 'yarn') return yarnFrequencies(rope, rotaryDim);
  const inv = defaultFrequencies(rope.theta, rotaryDim);
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
  // 'dynamic' NTK scaling changes frequencies only past the original length (rotaryTables).
  return inv;
}

/**
 * cos/sin tables `[n, headDim]` for positions 0..n-1, times yarn's attention factor. Dimensions past
 * `rotaryDim` (partial rotary) get cos = 1 and sin = 0, so they pass through unchanged.
 */
export function rotaryTables(rope: RopeSettings, n: number, headDim: number, rotaryDim: number): { cos: Float32Array; sin: Float32Array } {
  let inv = inverseFrequencies(rope, rotaryDim);
  if (rope.type === 'dynamic' && n > rope.originalMaxPositions) {
    const base = rope.theta * ((rope.factor * n) / rope.originalMaxPositions - (rope.factor - 1)) ** (rotaryDim / (rotaryDim - 2));
    inv = defaultFrequencies(base, rotaryDim);
  }
  const half = rotaryDim / 2;
  const scale = rope.attentionFactor;
  const cos = new Float32Array(n * headDim).fill(1);
  const sin = new Float32Array(n * headDim);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f(p * inv[i]);
      const c = scale === 1 ? Math.cos(angle) : f(f(Math.cos(angle)) * scale);
      const s = scale === 1 ? Math.sin(angle) : f(f(Math.sin(angle)) * scale);
      cos[p * headDim + i] = c;
      cos[p * headDim + i + half] = c;
      sin[p * headDim + i] = s;
      sin[p * headDim + i + half] = s;
    }
  }
  return { cos, sin };
}

/** The cos and sin tables as position inputs (`suffix` tells apart tables of different settings in one model). */
export function rotaryInputs(rope: RopeSettings, headDim: number, rotaryDim: number, suffix = ''): { cos: PositionInput; sin: PositionInput } {
  return {
    cos: positionInput(`cos${suffix}`, ['n', headDim], (n) => rotaryTables(rope, n, headDim, rotaryDim).cos),
    sin: positionInput(`sin${suffix}`, ['n', headDim], (n) => rotaryTables(rope, n, headDim, rotaryDim).sin),
  };
}
