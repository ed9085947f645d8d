/**
 * Range checks for config.json. A config value decides array lengths, loop counts and the numbers
 * that reach onnxruntime, so a value outside any real model's range is refused with its name
 * before anything is built: ~1e9 layers would abort V8 on an array of that length, heads that do
 * not divide the hidden size break the graph, and a negative epsilon or rope theta gives NaN
 * attention that would be drawn as data.
 *
 * `validateConfig` checks the keys many families share, wherever they appear; family parsers read
 * their own values with `configInt` / `configNumber`, which state the range in the message.
 */
import { EngineError } from './errors';
import type { ArchSummary } from './architecture';

export type Config = Record<string, unknown>;

/** Bounds far beyond any real checkpoint, well below what would exhaust memory or 32-bit sizes. */
export const LIMITS = {
  layers: 1024,
  heads: 4096,
  width: 1 << 17,
  intermediate: 1 << 20,
  headDim: 4096,
  vocab: 1 << 24,
  positions: 1 << 24,
} as const;

export interface IntRange {
  min?: number;
  max?: number;
}

export interface NumberRange {
  /** Values must be greater than this (for eps, theta: 0). */
  above?: number;
  min?: number;
  max?: number;
}

function own(config: Config, key: string): unknown {
  return Object.hasOwn(config, key) ? config[key] : undefined;
}

function describe(v: unknown): string {
  if (typeof v === 'number') return String(v);
  if (v === null) return 'null';
  return `a ${Array.isArray(v) ? 'list' : typeof v}`;
}

function rangeText(r: IntRange & NumberRange): string {
  const parts: string[] = [];
  if (r.above !== undefined) parts.push(`greater than ${r.above}`);
  if (r.min !== undefined) parts.push(`at least ${r.min}`);
  if (r.max !== undefined) parts.push(`at most ${r.max}`);
  return parts.join(' and ');
}

function refuse(where: string, key: string, v: unknown, wanted: string): EngineError {
  return new EngineError('bad-checkpoint', `config.json's ${where}${key} is ${describe(v)}, but it must be ${wanted}: the file is damaged or not for this model.`);
}

/**
 * An integer from the first of `keys` present (in range, default 1..2^31). Without one, `fallback`
 * if given, else an error naming the keys.
 */
export function configInt(config: Config, keys: string | readonly string[], range: IntRange = {}, fallback?: number): number {
  const { min = 1, max = 2 ** 31 - 1 } = range;
  for (const key of typeof keys === 'string' ? [keys] : keys) {
    const v = own(config, key);
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw refuse('', key, v, `a whole number ${rangeText({ min, max })}`);
    return v;
  }
  if (fallback !== undefined) return fallback;
  throw new EngineError('bad-checkpoint', `config.json has no ${typeof keys === 'string' ? keys : keys.join(' / ')}: it is damaged or not for this model.`);
}

/** A finite number from the first of `keys` present, in range; `fallback` when none is. */
export function configNumber(config: Config, keys: string | readonly string[], range: NumberRange, fallback: number, where = ''): number {
  for (const key of typeof keys === 'string' ? [keys] : keys) {
    const v = own(config, key);
    if (v === undefined || v === null) continue;
    const ok = typeof v === 'number' && Number.isFinite(v) && (range.above === undefined || v > range.above) && (range.min === undefined || v >= range.min) && (range.max === undefined || v <= range.max);
    if (!ok) throw refuse(where, key, v, `a number ${rangeText(range) || 'that is finite'}`);
    return v;
  }
  return fallback;
}

const INT_KEYS: [readonly string[], IntRange][] = [
  [['num_hidden_layers', 'n_layer', 'num_layers', 'n_layers', 'num_decoder_layers', 'encoder_layers', 'decoder_layers'], { max: LIMITS.layers }],
  [['num_attention_heads', 'n_head', 'num_heads', 'n_heads', 'num_key_value_heads', 'encoder_attention_heads', 'decoder_attention_heads'], { max: LIMITS.heads }],
  [['hidden_size', 'n_embd', 'd_model', 'dim'], { max: LIMITS.width }],
  [['intermediate_size', 'n_inner', 'd_ff', 'hidden_dim', 'ffn_dim', 'encoder_ffn_dim'], { max: LIMITS.intermediate }],
  [['head_dim', 'd_kv'], { max: LIMITS.headDim }],
  [['vocab_size'], { max: LIMITS.vocab }],
  [['max_position_embeddings', 'n_positions', 'n_ctx'], { max: LIMITS.positions }],
  [['relative_attention_num_buckets', 'relative_attention_max_distance'], { max: LIMITS.positions }],
  // DeBERTa-v3 has none.
  [['type_vocab_size'], { min: 0, max: LIMITS.positions }],
  [['local_attention', 'global_attn_every_n_layers'], { max: LIMITS.positions }],
  [['sliding_window'], { min: 0, max: 1 << 30 }],
];
const POSITIVE_KEYS = ['layer_norm_eps', 'layer_norm_epsilon', 'rms_norm_eps', 'norm_eps', 'rope_theta', 'rotary_emb_base', 'global_rope_theta', 'local_rope_theta'];
const FRACTION_KEYS = ['partial_rotary_factor', 'rotary_pct'];

/** Checks the keys families share, and how they relate, before any family reads the config. */
export function validateConfig(config: Config): void {
  const type = own(config, 'model_type');
  if (type !== undefined && (typeof type !== 'string' || !/^[A-Za-z0-9][\w.-]{0,63}$/.test(type))) {
    throw new EngineError('unsupported-architecture', `config.json's model_type is not a model type name (${typeof type === 'string' ? 'it contains other characters' : describe(type)}).`);
  }
  // Numbers are whole and bounded wherever a key appears (each key alone: a family reads the one it
  // knows). Values of other types are left to the family, which may not use the key at all.
  const numeric = (c: Config, key: string) => typeof own(c, key) === 'number';
  for (const [keys, range] of INT_KEYS) for (const key of keys) if (numeric(config, key)) configInt(config, key, range);
  for (const key of POSITIVE_KEYS) if (numeric(config, key)) configNumber(config, key, { above: 0, max: key.includes('eps') ? 1 : 1e12 }, 0);
  for (const key of FRACTION_KEYS) if (numeric(config, key)) configNumber(config, key, { above: 0, max: 1 }, 0);
  for (const nested of ['rope_scaling', 'rope_parameters']) {
    const rope = own(config, nested);
    if (typeof rope !== 'object' || rope === null || Array.isArray(rope)) continue;
    const r = rope as Config;
    const where = `${nested}.`;
    configNumber(r, 'rope_theta', { above: 0, max: 1e12 }, 0, where);
    configNumber(r, 'factor', { above: 0, max: 1e6 }, 0, where);
    configNumber(r, 'partial_rotary_factor', { above: 0, max: 1 }, 0, where);
    if (numeric(r, 'original_max_position_embeddings')) configInt(r, 'original_max_position_embeddings', { max: LIMITS.positions });
  }
  for (const nested of ['rope_scaling', 'rope_parameters']) {
    const r = own(config, nested) as Config | null | undefined;
    if (typeof r !== 'object' || r === null) continue;
    for (const key of ['rope_type', 'type']) {
      const v = own(r, key);
      if (v !== undefined && v !== null && (typeof v !== 'string' || !/^[A-Za-z0-9][\w.-]{0,63}$/.test(v))) {
        throw new EngineError('unsupported-architecture', `config.json's ${nested}.${key} is not a rotary scaling name.`);
      }
    }
    for (const key of ['low_freq_factor', 'high_freq_factor', 'attention_factor', 'beta_fast', 'beta_slow']) if (numeric(r, key)) configNumber(r, key, { above: 0, max: 1e6 }, 0, `${nested}.`);
  }
  // Rotary dimensions come in pairs.
  const width = own(config, 'hidden_size'), qHeads = own(config, 'num_attention_heads');
  const headDim = numeric(config, 'head_dim') ? (config.head_dim as number) : typeof width === 'number' && typeof qHeads === 'number' ? width / qHeads : undefined;
  const fraction = own(config, 'partial_rotary_factor') ?? own(config, 'rotary_pct');
  if (headDim !== undefined && Number.isInteger(headDim) && typeof fraction === 'number') {
    const rotary = Math.round(headDim * fraction);
    if (rotary < 2 || rotary % 2 !== 0) {
      throw new EngineError('bad-checkpoint', `config.json's partial rotary factor (${fraction}) gives ${rotary} rotary dimensions per head of ${headDim}; rotary dimensions come in pairs (an even number, at least 2).`);
    }
  }
  // Heads must divide the width unless the head size is given separately.
  const headDimGiven = typeof own(config, 'head_dim') === 'number' || typeof own(config, 'd_kv') === 'number';
  for (const [widthKey, headsKey] of [['hidden_size', 'num_attention_heads'], ['n_embd', 'n_head'], ['dim', 'n_heads'], ['d_model', 'num_heads']]) {
    const width = own(config, widthKey), heads = own(config, headsKey);
    if (!headDimGiven && typeof width === 'number' && typeof heads === 'number' && width % heads !== 0) {
      throw new EngineError('bad-checkpoint', `config.json's ${headsKey} (${heads}) does not divide ${widthKey} (${width}): each head needs a whole share of the hidden size.`);
    }
  }
  const heads = own(config, 'num_attention_heads'), kv = own(config, 'num_key_value_heads');
  if (typeof heads === 'number' && typeof kv === 'number' && heads % kv !== 0) {
    throw new EngineError('bad-checkpoint', `config.json's num_key_value_heads (${kv}) does not divide num_attention_heads (${heads}): grouped-query attention shares each key/value head among a whole number of query heads.`);
  }
  const buckets = own(config, 'relative_attention_num_buckets'), distance = own(config, 'relative_attention_max_distance');
  if (typeof buckets === 'number' && typeof distance === 'number' && distance <= buckets / 2) {
    throw new EngineError('bad-checkpoint', `config.json's relative_attention_max_distance (${distance}) must exceed half of relative_attention_num_buckets (${buckets}); otherwise the logarithmic buckets are undefined.`);
  }
}

/** Checks what a family derived from the config (the head size is often hidden / heads). */
export function checkSummary(s: ArchSummary): void {
  const whole = (v: number, min: number, max: number) => Number.isInteger(v) && v >= min && v <= max;
  const fail = (what: string) => new EngineError('bad-checkpoint', `config.json describes an impossible model: ${what}.`);
  if (!whole(s.numLayers, 1, LIMITS.layers)) throw fail(`${s.numLayers} layers (1 to ${LIMITS.layers} are possible)`);
  if (!whole(s.numHeads, 1, LIMITS.heads)) throw fail(`${s.numHeads} attention heads`);
  if (!whole(s.headDim, 1, LIMITS.headDim)) throw fail(`heads of ${s.headDim} dimensions (the heads must divide the hidden size)`);
  if (!whole(s.hiddenSize, 1, LIMITS.width)) throw fail(`a hidden size of ${s.hiddenSize}`);
  if (!whole(s.numKeyValueHeads, 1, s.numHeads) || s.numHeads % s.numKeyValueHeads !== 0) throw fail(`${s.numKeyValueHeads} key/value heads for ${s.numHeads} query heads`);
  if (s.maxTokens !== null && !whole(s.maxTokens, 1, LIMITS.positions)) {
    throw fail(`room for ${s.maxTokens} tokens (check max_position_embeddings and pad_token_id)`);
  }
}
