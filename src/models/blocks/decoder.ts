/**
 * The pre-norm rotary decoder layer shared by the Llama family and its relatives (Mistral,
 * Qwen2/3, Gemma, Gemma 2, Phi-3, StableLM, OLMo, OLMo 2, Cohere, Granite, Qwen2-MoE, StarCoder2): norm →
 * attention with rotary positions and grouped-query heads → residual → norm → gated MLP →
 * residual. Each family file parses its config into a `DecoderConfig` (refusing what it does not
 * implement) and states how its layer differs (`DecoderVariant`: norm kind, wiring of the two
 * sublayers, q/k norms, clipping, rotary layout, multipliers, the feed-forward); the arithmetic
 * follows the transformers modeling files.
 */
import { configInt, configNumber, selfSite, summarize, type Architecture, type AttentionSite, type PositionInput } from '../../engine/architecture';
import type { Checkpoint, ModelConfig } from '../../engine/checkpoint';
import { attend } from './attention';
import { causalMaskInput } from './masks';
import { gatedMlp } from './mlp';
import { splitConcatenatedQkv } from './qkv';
import { parameterFreeLayerNorm } from './norms';
import { applyRotary, ropeSettings, ropeUnbounded, rotaryInputs, type RopeOptions, type RopeSettings, type RotaryLayout } from './rope';
import { layerWeights, type BiasRule, type LayerWeights } from './weights';
import { lmHead, type LmHeadSpec } from './lmHead';
import type { Nn } from '../../engine/onnx/layers';

/**
 * The layer's norms: RMS (default); LayerNorm with weight and bias (StableLM), with weight only
 * (Cohere's mean-subtracting CohereLayerNorm), or with no parameters at all (OLMo).
 */
export type DecoderNorm = 'rms' | 'layer' | 'layer-no-bias' | 'layer-no-params';

/**
 * How the two sublayers are wired: `sequential` x + attn(norm(x)), then + mlp(norm(·)) (default);
 * `parallel` x + attn(norm(x)) + mlp(norm(x)) from the one `input_layernorm` (Cohere, StableLM's
 * use_parallel_residual); `post-norms` no pre-norms, x + norm(attn(x)) with
 * `post_attention_layernorm`, then + norm(mlp(·)) with `post_feedforward_layernorm` (OLMo 2).
 */
export type DecoderLayout = 'sequential' | 'parallel' | 'post-norms';

/**
 * A family's own q/k norm, applied to the flat projections `[n, heads·d]` (`on: 'projection'`,
 * OLMo 2) or per head `[heads, n, d]` (`on: 'heads'`, StableLM, Cohere), before rotary. `heads`
 * is the number of heads of that projection (query heads for q, key/value heads for k).
 */
export interface QkNorm {
  on: 'projection' | 'heads';
  apply(nn: Nn, w: LayerWeights, which: 'q' | 'k', x: string, heads: number, config: DecoderConfig): string;
}

export interface DecoderVariant {
  /** Multiply embeddings by √hidden (Gemma), rounded to float32 as transformers does. */
  scaleEmbeddings?: boolean;
  /** Multiply embeddings by this (Granite's embedding_multiplier); takes the place of scaleEmbeddings. */
  embeddingMultiplier?: number;
  /** Multiply each sublayer's output by this before its residual add (Granite's residual_multiplier). */
  residualMultiplier?: number;
  /** Kind of every norm in the layer and of the final norm (default RMS). */
  norm?: DecoderNorm;
  /** Norm epsilon where the model fixes it (OLMo) or reads it under another key (StarCoder2's norm_epsilon); default rms_norm_eps, or layer_norm_eps for LayerNorms. */
  eps?: number;
  /** Wiring of attention and MLP (default sequential). */
  layout?: DecoderLayout;
  /**
   * Biases of the q/k/v projections and of o_proj as the config states them (`required` / `none`);
   * default `optional`: read where the checkpoint has them.
   */
  qkvBias?: BiasRule;
  outputBias?: BiasRule;
  /** Clamp q, k and v to [−c, c] right after their projections (OLMo's clip_qkv). */
  clipQkv?: number | null;
  /** Which dimensions rotate together (default rotate_half). */
  rotaryLayout?: RotaryLayout;
  /** partial_rotary_factor where the config gives none (StableLM: 0.25, Phi: 0.5); default 1. */
  defaultPartialRotary?: number;
  /** RMS norm scale is (offset + w): 1 for Gemma, 0 otherwise. */
  normOffset?: number;
  /** q, k, v in one `qkv_proj` and gate/up in one `gate_up_proj` (Phi-3). */
  fused?: boolean;
  /** Per-head RMS norm of q and k before rotary (Qwen3: `true`, weights `[d]`), or a family's own q/k norm. */
  qkNorm?: boolean | QkNorm;
  /** Norms after attention and around the MLP (Gemma 2). */
  sandwichNorms?: boolean;
  /** tanh soft-capping of attention logits (Gemma 2). */
  softcap?: number | null;
  /** Scale on q·k; default 1/√headDim. */
  scale?: number;
  /** Sliding window size for a layer, or undefined for full causal attention. */
  slidingWindow?: (layer: number) => number | undefined;
  /** Default activation when the config names none. */
  defaultActivation?: string;
  /** Rotary options (Phi-3 accepts longrope). */
  rope?: RopeOptions;
  /** A feed-forward other than the gated MLP (mixture of experts, a plain MLP), and its float32 weight count. */
  mlp?: { build: (nn: Nn, w: LayerWeights, x: string, config: DecoderConfig) => string; params: number };
  /** The LM head's options over the defaults (untied `lm_head`, as LlamaConfig's tie_word_embeddings=False). */
  head?: Partial<LmHeadSpec>;
}

/** The config values the decoder layer reads, parsed once. */
export interface DecoderConfig {
  hidden: number;
  heads: number;
  kvHeads: number;
  layers: number;
  intermediate: number;
  headDim: number;
  /** Kind of every norm (the variant's, RMS by default). */
  norm: DecoderNorm;
  eps: number;
  act: string;
  rotaryDim: number;
  rope: RopeSettings;
  maxPositions: number | null;
}

export function parseDecoderConfig(c: ModelConfig, variant: DecoderVariant): DecoderConfig {
  const hidden = configInt(c, 'hidden_size');
  const heads = configInt(c, 'num_attention_heads');
  const headDim = typeof c.head_dim === 'number' ? configInt(c, 'head_dim') : hidden / heads;
  const rope = ropeSettings(c, 10000, variant.rope);
  const norm = variant.norm ?? 'rms';
  const ropeParams = (c.rope_parameters ?? {}) as Record<string, unknown>;
  return {
    hidden,
    heads,
    kvHeads: typeof c.num_key_value_heads === 'number' ? configInt(c, 'num_key_value_heads') : heads,
    layers: configInt(c, 'num_hidden_layers'),
    intermediate: configInt(c, 'intermediate_size'),
    headDim,
    norm,
    eps: variant.eps ?? (norm === 'rms' ? configNumber(c, 1e-6, 'rms_norm_eps') : configNumber(c, 1e-5, 'layer_norm_eps')),
    act: String(c.hidden_activation ?? c.hidden_act ?? variant.defaultActivation ?? 'silu'),
    // int(head_dim · partial_rotary_factor), as transformers sizes the rotary dimensions (transformers 5 keeps the factor in rope_parameters).
    rotaryDim: Math.floor(headDim * configNumber(ropeParams, configNumber(c, variant.defaultPartialRotary ?? 1, 'partial_rotary_factor'), 'partial_rotary_factor')),
    rope,
    // Dynamic NTK scaling extends the positions past max_position_embeddings.
    maxPositions: typeof c.max_position_embeddings === 'number' && !ropeUnbounded(rope) ? c.max_position_embeddings : null,
  };
}

const PREFIXES = ['model.', 'language_model.model.', 'model.language_model.'];

/** q/k/v and o_proj biases as a Llama-style config's `attention_bias` states them (default false). */
export function attentionBiasFromConfig(config: Record<string, unknown>): { qkvBias: BiasRule; outputBias: BiasRule } {
  const rule: BiasRule = config.attention_bias === true ? 'required' : 'none';
  return { qkvBias: rule, outputBias: rule };
}

/** Which layers use a sliding window, from `layer_types` (transformers 5) or the family's rule. */
export function slidingLayersFromConfig(config: Record<string, unknown>, fallback: (layer: number) => boolean): (layer: number) => number | undefined {
  const window = typeof config.sliding_window === 'number' && config.sliding_window > 0 ? config.sliding_window : undefined;
  if (window === undefined) return () => undefined;
  const types = Array.isArray(config.layer_types) ? (config.layer_types as unknown[]) : undefined;
  return (layer) => ((types ? types[layer] === 'sliding_attention' : fallback(layer)) ? window : undefined);
}

export function createDecoder(ckpt: Checkpoint, variant: DecoderVariant): Architecture {
  const c = ckpt.config;
  const config = parseDecoderConfig(c, variant);
  const { hidden, heads, kvHeads, layers, intermediate, headDim, eps, act, rotaryDim, rope, maxPositions } = config;
  const offset = variant.normOffset ?? 0;
  const scale = variant.scale ?? 1 / Math.sqrt(headDim);
  const window = variant.slidingWindow ?? (() => undefined);
  const tensors = ckpt.scoped(PREFIXES);
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  const embedScale = variant.embeddingMultiplier ?? (variant.scaleEmbeddings ? Math.fround(Math.sqrt(hidden)) : 1);
  const layout = variant.layout ?? 'sequential';
  const rotaryLayout = variant.rotaryLayout ?? 'half';
  const { cos, sin } = rotaryInputs(rope, headDim, rotaryDim, '', rotaryLayout);
  const qkNorm: QkNorm | undefined =
    variant.qkNorm === true
      ? { on: 'heads', apply: (_nn, w, which, x) => w.rmsNorm(`self_attn.${which}_norm`, headDim, x, eps, offset) }
      : variant.qkNorm || undefined;
  /** The model's norm `name` of width `width` over `x`, of the variant's kind. */
  const normOf = (nn: Nn, w: LayerWeights, name: string, x: string, width = hidden): string => {
    switch (config.norm) {
      case 'rms':
        return w.rmsNorm(name, width, x, eps, offset);
      case 'layer':
        return w.layerNorm(name, width, x, eps);
      case 'layer-no-bias':
        return w.layerNorm(name, width, x, eps, 'none');
      case 'layer-no-params':
        return parameterFreeLayerNorm(nn, x, width, eps, name);
    }
  };
  const residualScale = (nn: Nn, y: string) => (variant.residualMultiplier === undefined ? y : nn.mul(y, nn.g.scalar(variant.residualMultiplier)));
  const clip = (nn: Nn, y: string) => (variant.clipQkv == null ? y : nn.g.op('Clip', [y, nn.g.scalar(-variant.clipQkv), nn.g.scalar(variant.clipQkv)]));
  const masks = new Map<number | undefined, PositionInput>();
  const sites: AttentionSite[] = Array.from({ length: layers }, (_, l) => {
    const w = window(l);
    if (!masks.has(w)) masks.set(w, causalMaskInput(w));
    return selfSite(scale, [masks.get(w)!], variant.softcap ?? null);
  });
  return {
    summary: summarize(c, { layers, heads, kvHeads, headDim, hidden, maxTokens: maxPositions, causal: true }),
    layerBytes: 4 * (hidden * (qDim + 2 * kvDim) + qDim * hidden + (variant.mlp?.params ?? 3 * hidden * intermediate)),
    embed(ids) {
      const x = tensors.rows('embed_tokens.weight', ids);
      if (embedScale !== 1) for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] * embedScale);
      return x;
    },
    site: (layer) => sites[layer],
    buildLayer(nn, i, x, use) {
      const w = layerWeights(nn, tensors, `layers.${i}.`, `l${i}`);
      const norm = (src: string, name: string) => normOf(nn, w, name, src);
      const h = layout === 'post-norms' ? x : norm(x, 'input_layernorm');
      const proj = (name: string, out: number) => w.linear(`self_attn.${name}`, out, hidden, h, variant.qkvBias).y;
      const flat = variant.fused ? splitConcatenatedQkv(nn, proj('qkv_proj', qDim + 2 * kvDim), qDim, kvDim) : { q: proj('q_proj', qDim), k: proj('k_proj', kvDim), v: proj('v_proj', kvDim) };
      let [qFlat, kFlat] = [clip(nn, flat.q), clip(nn, flat.k)];
      if (qkNorm?.on === 'projection') [qFlat, kFlat] = [qkNorm.apply(nn, w, 'q', qFlat, heads, config), qkNorm.apply(nn, w, 'k', kFlat, kvHeads, config)];
      let q = nn.toHeads(qFlat, heads, headDim);
      let k = nn.toHeads(kFlat, kvHeads, headDim);
      if (qkNorm?.on === 'heads') [q, k] = [qkNorm.apply(nn, w, 'q', q, heads, config), qkNorm.apply(nn, w, 'k', k, kvHeads, config)];
      q = applyRotary(nn, q, use(cos), use(sin), headDim, rotaryDim, rotaryLayout);
      k = applyRotary(nn, k, use(cos), use(sin), headDim, rotaryDim, rotaryLayout);
      const groups = heads / kvHeads;
      const qkv = { q, k: nn.repeatKv(k, kvHeads, groups, headDim), v: nn.repeatKv(nn.toHeads(clip(nn, flat.v), kvHeads, headDim), kvHeads, groups, headDim) };
      const attn = attend(nn, use, sites[i], qkv, heads, headDim, (context) => w.linear('self_attn.o_proj', hidden, qDim, context, variant.outputBias));
      const names = variant.fused ? { fused: 'mlp.gate_up_proj', down: 'mlp.down_proj' } : { gate: 'mlp.gate_proj', up: 'mlp.up_proj', down: 'mlp.down_proj' };
      const mlp = (src: string) => (variant.mlp ? variant.mlp.build(nn, w, src, config) : gatedMlp(nn, w, src, names, hidden, intermediate, act));
      const scaled = (y: string) => residualScale(nn, y);
      if (layout === 'parallel') return { hidden: nn.add(nn.add(x, scaled(attn.y)), scaled(mlp(h))), ...attn.outputs };
      let h1: string;
      let out: string;
      if (layout === 'post-norms') {
        h1 = nn.add(x, scaled(norm(attn.y, 'post_attention_layernorm')));
        out = norm(mlp(h1), 'post_feedforward_layernorm');
      } else if (variant.sandwichNorms) {
        h1 = nn.add(x, scaled(norm(attn.y, 'post_attention_layernorm')));
        out = norm(mlp(norm(h1, 'pre_feedforward_layernorm')), 'post_feedforward_layernorm');
      } else {
        h1 = nn.add(x, scaled(attn.y));
        out = mlp(norm(h1, 'post_attention_layernorm'));
      }
      return { hidden: nn.add(h1, scaled(out)), ...attn.outputs };
    },
    buildFinal(nn, x) {
      return normOf(nn, layerWeights(nn, tensors, '', 'final'), 'norm', x);
    },
    lmHead: lmHead(c, tensors, { embedding: 'embed_tokens.weight', tiedByDefault: false, ...variant.head }),
  };
}
