/**
 * Rotary position tables (cos/sin per position and dimension), computed in float32 steps the way
 * transformers computes them, with the `linear`, `llama3`, `dynamic` (NTK) and `yarn` frequency
 * scalings, and Phi-3's `longrope` for the families that opt in. Config keys are read in both
 * spellings: transformers 4 (`rope_theta`, `rope_scaling`) and transformers 5 (`rope_parameters`).
 * A scaling type or parameter not implemented here is refused by name. Tables come in two layouts:
 * `half` (rotate_half: dimension i pairs with i + rotaryDim/2) and `interleaved` (GPT-J's
 * rotate_every_two: dimension 2i pairs with 2i + 1).
 */
import { positionInput, type PositionInput } from '../../engine/architecture';
import { EngineError } from '../../engine/errors';
import type { Nn } from '../../engine/onnx/layers';

const f = Math.fround;

export const ROPE_TYPES = ['default', 'linear', 'llama3', 'dynamic', 'yarn', 'longrope'] as const;

export interface RopeOptions {
  /**
   * Accept `longrope`. Only Phi-3's rotary embedding in transformers re-selects the factors by text
   * length (short up to the original length, long past it); other families refuse it.
   */
  longrope?: boolean;
}

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
  /** longrope: per-frequency divisors up to `originalMaxPositions` tokens, and past it. */
  shortFactor: readonly number[];
  longFactor: readonly number[];
}

function refuseRope(key: string, value: unknown, why: string): never {
  throw new EngineError('unsupported-architecture', `config.json sets ${key} = ${JSON.stringify(value)}, which Attention Inspector does not implement yet (${why}); its attentions would be wrong, so the model is not loaded.`);
}

export function ropeSettings(config: Record<string, unknown>, defaultTheta = 10000, options: RopeOptions = {}): RopeSettings {
  const where = config.rope_parameters !== undefined ? 'rope_parameters' : 'rope_scaling';
  const params = (config.rope_parameters ?? config.rope_scaling ?? {}) as Record<string, unknown>;
  const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
  const theta = num(params.rope_theta, num(config.rope_theta, defaultTheta));
  const type = String(params.rope_type ?? params.type ?? 'default');
  const accepted = ROPE_TYPES.filter((t) => t !== 'longrope' || options.longrope);
  if (!(accepted as readonly string[]).includes(type)) refuseRope(`${where}.rope_type`, type, `supported here: ${accepted.join(', ')}`);
  const maxPositions = num(config.max_position_embeddings, 2048);
  let factor = num(params.factor, 1);
  let attentionFactor = 1;
  let originalMaxPositions = num(params.original_max_position_embeddings, maxPositions);
  const factors = (key: string): number[] => {
    const v = params[key];
    if (type !== 'longrope') return [];
    if (v === undefined) throw new EngineError('bad-checkpoint', `config.json's ${where} is longrope but has no ${key}.`);
    if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)) refuseRope(`${where}.${key}`, v, 'longrope needs a list of positive numbers');
    return v as number[];
  };
  if (type === 'longrope') {
    // The pretrained length: top level in transformers 4 (Phi-3), in rope_parameters in 5. The scale is the ratio of the two lengths.
    const original = config.original_max_position_embeddings ?? params.original_max_position_embeddings;
    if (typeof original !== 'number' || !(original > 0)) refuseRope(`${where}.rope_type`, type, 'longrope without original_max_position_embeddings, the pretrained length it scales from');
    originalMaxPositions = original;
    factor = maxPositions / original;
    const given = params.attention_factor;
    attentionFactor = typeof given === 'number' ? given : factor <= 1 ? 1 : Math.sqrt(1 + Math.log(factor) / Math.log(originalMaxPositions));
  }
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
    originalMaxPositions,
    maxPositions,
    betaFast: num(params.beta_fast, 32),
    betaSlow: num(params.beta_slow, 1),
    attentionFactor,
    shortFactor: factors('short_factor'),
    longFactor: factors('long_factor'),
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

/** longrope: 1 / (factor_i · θ^(2i/d)), long factors once the text is longer than the original length. */
function longropeFrequencies(rope: RopeSettings, rotaryDim: number, n: number): Float32Array {
  const factors = n > rope.originalMaxPositions ? rope.longFactor : rope.shortFactor;
  const inv = new Float32Array(rotaryDim / 2);
  for (let i = 0; i < inv.length; i++) inv[i] = f(1 / f(f(factors[i]) * f(rope.theta ** f((2 * i) / rotaryDim))));
  return inv;
}

/**
 * Inverse frequencies for `rotaryDim` dimensions (float32, as torch computes them); `n`, the text
 * length, matters only for longrope.
 */
export function inverseFrequencies(rope: RopeSettings, rotaryDim: number, n = 0): Float32Array {
  if (rope.type === 'yarn') return yarnFrequencies(rope, rotaryDim);
  if (rope.type === 'longrope') return longropeFrequencies(rope, rotaryDim, n);
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
 * Which dimensions rotate together: `'half'` pairs x[i] with x[i + rotaryDim/2] (rotate_half: Llama,
 * GPT-NeoX, ...); `'interleaved'` pairs x[2i] with x[2i + 1] (Cohere, GPT-J's rotate_every_two).
 */
export type RotaryLayout = 'half' | 'interleaved';

/**
 * cos/sin tables `[n, headDim]` for positions 0..n-1, times yarn's or longrope's attention factor.
 * Dimensions past `rotaryDim` (partial rotary) get cos = 1 and sin = 0, so they pass through
 * unchanged. Frequency i sits at dimensions i and i + rotaryDim/2 (`half`) or 2i and 2i + 1 (`interleaved`).
 */
export function rotaryTables(rope: RopeSettings, n: number, headDim: number, rotaryDim: number, layout: RotaryLayout = 'half'): { cos: Float32Array; sin: Float32Array } {
  let inv = inverseFrequencies(rope, rotaryDim, n);
  if (rope.type === 'dynamic' && n > rope.originalMaxPositions) {
    const base = rope.theta * ((rope.factor * n) / rope.originalMaxPositions - (rope.factor - 1)) ** (rotaryDim / (rotaryDim - 2));
    inv = defaultFrequencies(base, rotaryDim);
  }
  const half = rotaryDim / 2;
  const pair = (i: number): [number, number] => (layout === 'half' ? [i, i + half] : [2 * i, 2 * i + 1]);
  const scale = rope.attentionFactor;
  const cos = new Float32Array(n * headDim).fill(1);
  const sin = new Float32Array(n * headDim);
  for (let p = 0; p < n; p++) {
    for (let i = 0; i < half; i++) {
      const angle = f(p * inv[i]);
      const c = scale === 1 ? Math.cos(angle) : f(f(Math.cos(angle)) * scale);
      const s = scale === 1 ? Math.sin(angle) : f(f(Math.sin(angle)) * scale);
      for (const d of pair(i)) {
        cos[p * headDim + d] = c;
        sin[p * headDim + d] = s;
      }
    }
  }
  return { cos, sin };
}

/**
 * The cos and sin tables as position inputs (`suffix` tells apart tables of different settings in
 * one model). Refuses a longrope factor list that does not have one entry per frequency.
 */
export function rotaryInputs(rope: RopeSettings, headDim: number, rotaryDim: number, suffix = '', layout: RotaryLayout = 'half'): { cos: PositionInput; sin: PositionInput } {
  for (const [key, list] of [['short_factor', rope.shortFactor], ['long_factor', rope.longFactor]] as const) {
    if (rope.type === 'longrope' && list.length !== rotaryDim / 2) refuseRope(`rope_scaling.${key}`, list, `${rotaryDim / 2} entries expected, one per rotary frequency`);
  }
  return {
    cos: positionInput(`cos${suffix}`, ['n', headDim], (n) => rotaryTables(rope, n, headDim, rotaryDim, layout).cos),
    sin: positionInput(`sin${suffix}`, ['n', headDim], (n) => rotaryTables(rope, n, headDim, rotaryDim, layout).sin),
  };
}

/**
 * x·cos + rotate(x)·sin on `[heads, n, d]`, with tables from `rotaryInputs` of the same layout.
 * rotate is a fixed signed permutation (rotate_half, or rotate_every_two: out[2i] = −x[2i+1],
 * out[2i+1] = x[2i]) applied as a MatMul with a ±1 matrix: exact, and no slicing in the graph.
 */
export function applyRotary(nn: Nn, x: string, cos: string, sin: string, headDim: number, rotaryDim: number, layout: RotaryLayout = 'half'): string {
  if (layout === 'half') return nn.rotary(x, cos, sin, headDim, rotaryDim);
  const r = new Float32Array(headDim * headDim); // row = input dimension, column = output dimension
  for (let i = 0; i < rotaryDim / 2; i++) {
    r[(2 * i + 1) * headDim + 2 * i] = -1;
    r[2 * i * headDim + 2 * i + 1] = 1;
  }
  const rotated = nn.g.op('MatMul', [x, nn.g.weight('rotate_every_two', r, [headDim, headDim])]);
  return nn.add(nn.mul(x, cos), nn.mul(rotated, sin));
}
