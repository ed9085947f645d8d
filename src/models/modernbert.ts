/**
 * ModernBERT: a pre-norm bidirectional encoder. How it differs from BERT:
 * - rotary positions instead of learned ones, with two bases: `full_attention` (global) layers use
 *   global_rope_theta (160000 by default), `sliding_attention` (local) layers local_rope_theta
 *   (10000 by default); transformers 5 nests both in `rope_parameters` by layer type;
 * - every `global_attn_every_n_layers`-th layer (or as `layer_types` says) attends globally, the
 *   others within a local window where query i sees key j when |i − j| ≤ local_attention / 2;
 * - fused `Wqkv` (`[q | k | v]`), GeGLU MLP whose `Wi` output holds the input half then the gate half;
 * - LayerNorm without bias after the token embeddings, before attention (except in layer 0,
 *   whose input is already the normalized embedding), before the MLP and at the end (final_norm);
 * - no biases unless attention_bias / mlp_bias / norm_bias say so.
 */
import { configInt, configNumber, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { layerNormRows } from '../engine/onnx/layers';
import { attend } from './blocks/attention';
import type { BertStyleConfig } from './blocks/encoder';
import { localMaskInput } from './blocks/masks';
import { splitConcatenatedQkv, splitLast, toHeadsQkv } from './blocks/qkv';
import { ropeSettings, rotaryInputs, type RopeSettings } from './blocks/rope';
import { layerWeights, readNumbers, readOptionalNumbers } from './blocks/weights';

const PREFIXES = ['model.'];

/**
 * The rotary settings of one layer type: transformers 5 nests them in `rope_parameters` by layer
 * type; transformers 4 configs give only the base (`legacyTheta`).
 */
function layerRope(config: Record<string, unknown>, layerType: 'full_attention' | 'sliding_attention', legacyTheta: number): RopeSettings {
  const nested = (config.rope_parameters ?? {}) as Record<string, unknown>;
  const params = (nested[layerType] ?? {}) as Record<string, unknown>;
  return ropeSettings({ rope_parameters: params, max_position_embeddings: config.max_position_embeddings }, legacyTheta);
}

/** The BERT-style keys, plus ModernBERT's alternating local/global attention. */
export interface ModernBertConfig extends BertStyleConfig {
  isLocal: (layer: number) => boolean;
  halfWindow: number;
  globalRope: RopeSettings;
  localRope: RopeSettings;
}

export function parseModernBertConfig(c: ModelConfig): ModernBertConfig {
  const everyN = configNumber(c, 3, 'global_attn_every_n_layers');
  const types = Array.isArray(c.layer_types) ? (c.layer_types as unknown[]) : undefined;
  const globalTheta = configNumber(c, 160000, 'global_rope_theta');
  // transformers 4 uses the global base on local layers too when local_rope_theta is null.
  const localTheta = c.local_rope_theta === null ? globalTheta : configNumber(c, 10000, 'local_rope_theta');
  return {
    hidden: configInt(c, 'hidden_size'),
    heads: configInt(c, 'num_attention_heads'),
    layers: configInt(c, 'num_hidden_layers'),
    intermediate: configInt(c, 'intermediate_size'),
    maxPositions: configInt(c, 'max_position_embeddings'),
    eps: configNumber(c, 1e-5, 'norm_eps'),
    act: String(c.hidden_activation ?? 'gelu'),
    isLocal: (layer) => (types ? types[layer] === 'sliding_attention' : layer % everyN !== 0),
    halfWindow: Math.floor(configNumber(c, 128, 'local_attention') / 2),
    globalRope: layerRope(c, 'full_attention', globalTheta),
    localRope: layerRope(c, 'sliding_attention', localTheta),
  };
}

export const modernbert: Family = {
  modelTypes: ['modernbert'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, intermediate, maxPositions, eps, act, isLocal, halfWindow, globalRope, localRope } = parseModernBertConfig(c);
    const headDim = hidden / heads;
    const scale = 1 / Math.sqrt(headDim);
    const tensors = ckpt.scoped(PREFIXES);
    const embNormW = readNumbers(tensors, 'embeddings.norm.weight', [hidden]);
    const embNormB = readOptionalNumbers(tensors, 'embeddings.norm.bias', [hidden]);
    const rotary = { global: rotaryInputs(globalRope, headDim, headDim, '_global'), local: rotaryInputs(localRope, headDim, headDim, '_local') };
    const globalSite = selfSite(scale);
    const localSite = selfSite(scale, [localMaskInput(halfWindow)]);
    const site = (layer: number) => (isLocal(layer) ? localSite : globalSite);
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: false }),
      layerBytes: 4 * (4 * hidden * hidden + 3 * hidden * intermediate),
      embed: (ids) => layerNormRows(tensors.rows('embeddings.tok_embeddings.weight', ids), hidden, embNormW, embNormB, eps),
      site,
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `layers.${i}.`, `l${i}`);
        const norm = (src: string, name: string) => w.layerNorm(name, hidden, src, eps, 'optional');
        const { cos, sin } = isLocal(i) ? rotary.local : rotary.global;
        // Layer 0 has no attn_norm: its input is the embeddings' norm output.
        const h = i === 0 ? x : norm(x, 'attn_norm');
        const heads_ = toHeadsQkv(nn, splitConcatenatedQkv(nn, w.linear('attn.Wqkv', 3 * hidden, hidden, h).y, hidden, hidden), heads, heads, headDim);
        const qkv = { q: nn.rotary(heads_.q, use(cos), use(sin), headDim, headDim), k: nn.rotary(heads_.k, use(cos), use(sin), headDim, headDim), v: heads_.v };
        const attn = attend(nn, use, site(i), qkv, heads, headDim, (context) => w.linear('attn.Wo', hidden, hidden, context));
        const h1 = nn.add(x, attn.y);
        const [input, gate] = splitLast(nn, w.linear('mlp.Wi', 2 * intermediate, hidden, norm(h1, 'mlp_norm')).y, [intermediate, intermediate]);
        const mlp = w.linear('mlp.Wo', hidden, intermediate, nn.mul(nn.activation(input, act), gate)).y;
        return { hidden: nn.add(h1, mlp), ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').layerNorm('final_norm', hidden, x, eps, 'optional');
      },
    };
  },
};
