/**
 * The pre-norm rotary decoder layer shared by the Llama family and its relatives (Mistral,
 * Qwen2/3, Gemma, Gemma 2, Phi-3): RMS norm → attention with rotary positions and grouped-query
 * heads → residual → RMS norm → gated MLP → residual. Each family file parses its config into a
 * `DecoderConfig` (refusing what it does not implement) and states how its layer differs
 * (`DecoderVariant`); the arithmetic follows the transformers modeling files.
 */
import { configInt, configNumber, selfSite, summarize, type Architecture, type AttentionSite, type PositionInput } from '../../engine/architecture';
import type { Checkpoint, ModelConfig } from '../../engine/checkpoint';
import { attend } from './attention';
import { causalMaskInput } from './masks';
import { gatedMlp } from './mlp';
import { splitConcatenatedQkv } from './qkv';
import { ropeSettings, ropeUnbounded, rotaryInputs, type RopeSettings } from './rope';
import { layerWeights, type LayerWeights } from './weights';
import type { Nn } from '../../engine/onnx/layers';

export interface DecoderVariant {
  /** Multiply embeddings by √hidden (Gemma), rounded to float32 as transformers does. */
  scaleEmbeddings?: boolean;
  /** RMS norm scale is (offset + w): 1 for Gemma, 0 otherwise. */
  normOffset?: number;
  /** q, k, v in one `qkv_proj` and gate/up in one `gate_up_proj` (Phi-3). */
  fused?: boolean;
  /** Per-head RMS norm of q and k before rotary (Qwen3). */
  qkNorm?: boolean;
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
  /** A feed-forward other than the gated MLP (mixture of experts), and its float32 weight count. */
  mlp?: { build: (nn: Nn, w: LayerWeights, x: string, config: DecoderConfig) => string; params: number };
}

/** The config values the decoder layer reads, parsed once. */
export interface DecoderConfig {
  hidden: number;
  heads: number;
  kvHeads: number;
  layers: number;
  intermediate: number;
  headDim: number;
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
  const rope = ropeSettings(c);
  return {
    hidden,
    heads,
    kvHeads: typeof c.num_key_value_heads === 'number' ? configInt(c, 'num_key_value_heads') : heads,
    layers: configInt(c, 'num_hidden_layers'),
    intermediate: configInt(c, 'intermediate_size'),
    headDim,
    eps: configNumber(c, 1e-6, 'rms_norm_eps'),
    act: String(c.hidden_activation ?? c.hidden_act ?? variant.defaultActivation ?? 'silu'),
    rotaryDim: Math.round(headDim * configNumber(c, 1, 'partial_rotary_factor')),
    rope,
    // Dynamic NTK scaling extends the positions past max_position_embeddings.
    maxPositions: typeof c.max_position_embeddings === 'number' && !ropeUnbounded(rope) ? c.max_position_embeddings : null,
  };
}

const PREFIXES = ['model.', 'language_model.model.', 'model.language_model.'];

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
  const embedScale = Math.fround(Math.sqrt(hidden));
  const { cos, sin } = rotaryInputs(rope, headDim, rotaryDim);
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
      if (variant.scaleEmbeddings) for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] * embedScale);
      return x;
    },
    site: (layer) => sites[layer],
    buildLayer(nn, i, x, use) {
      const w = layerWeights(nn, tensors, `layers.${i}.`, `l${i}`);
      const norm = (src: string, name: string) => w.rmsNorm(name, hidden, src, eps, offset);
      const h = norm(x, 'input_layernorm');
      const flat = variant.fused
        ? splitConcatenatedQkv(nn, w.linear('self_attn.qkv_proj', qDim + 2 * kvDim, hidden, h).y, qDim, kvDim)
        : { q: w.linear('self_attn.q_proj', qDim, hidden, h).y, k: w.linear('self_attn.k_proj', kvDim, hidden, h).y, v: w.linear('self_attn.v_proj', kvDim, hidden, h).y };
      let q = nn.toHeads(flat.q, heads, headDim);
      let k = nn.toHeads(flat.k, kvHeads, headDim);
      if (variant.qkNorm) {
        q = w.rmsNorm('self_attn.q_norm', headDim, q, eps, offset);
        k = w.rmsNorm('self_attn.k_norm', headDim, k, eps, offset);
      }
      q = nn.rotary(q, use(cos), use(sin), headDim, rotaryDim);
      k = nn.rotary(k, use(cos), use(sin), headDim, rotaryDim);
      const groups = heads / kvHeads;
      const qkv = { q, k: nn.repeatKv(k, kvHeads, groups, headDim), v: nn.repeatKv(nn.toHeads(flat.v, kvHeads, headDim), kvHeads, groups, headDim) };
      const attn = attend(nn, use, sites[i], qkv, heads, headDim, (context) => w.linear('self_attn.o_proj', hidden, qDim, context));
      let h1: string;
      let mlpIn: string;
      if (variant.sandwichNorms) {
        h1 = nn.add(x, norm(attn.y, 'post_attention_layernorm'));
        mlpIn = norm(h1, 'pre_feedforward_layernorm');
      } else {
        h1 = nn.add(x, attn.y);
        mlpIn = norm(h1, 'post_attention_layernorm');
      }
      const names = variant.fused ? { fused: 'mlp.gate_up_proj', down: 'mlp.down_proj' } : { gate: 'mlp.gate_proj', up: 'mlp.up_proj', down: 'mlp.down_proj' };
      let mlp = variant.mlp ? variant.mlp.build(nn, w, mlpIn, config) : gatedMlp(nn, w, mlpIn, names, hidden, intermediate, act);
      if (variant.sandwichNorms) mlp = norm(mlp, 'post_feedforward_layernorm');
      return { hidden: nn.add(h1, mlp), ...attn.outputs };
    },
    buildFinal(nn, x) {
      return layerWeights(nn, tensors, '', 'final').rmsNorm('norm', hidden, x, eps, offset);
    },
  };
}
