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
import { configInt, configNumber, summarize, type Architecture, type PositionInput } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { layerNormRows } from '../engine/onnx/layers';
import { localMask } from './masks';
import { ropeSettings, rotaryTables, type RopeSettings } from './rope';

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

export function createModernBert(ckpt: Checkpoint): Architecture {
  const c = ckpt.config;
  const hidden = configInt(c, 'hidden_size');
  const heads = configInt(c, 'num_attention_heads');
  const layers = configInt(c, 'num_hidden_layers');
  const intermediate = configInt(c, 'intermediate_size');
  const maxPositions = configInt(c, 'max_position_embeddings');
  const eps = configNumber(c, 1e-5, 'norm_eps');
  const act = String(c.hidden_activation ?? 'gelu');
  const headDim = hidden / heads;
  const everyN = configNumber(c, 3, 'global_attn_every_n_layers');
  const types = Array.isArray(c.layer_types) ? (c.layer_types as unknown[]) : undefined;
  const isLocal = (layer: number) => (types ? types[layer] === 'sliding_attention' : layer % everyN !== 0);
  const halfWindow = Math.floor(configNumber(c, 128, 'local_attention') / 2);
  const globalTheta = configNumber(c, 160000, 'global_rope_theta');
  // transformers 4 uses the global base on local layers too when local_rope_theta is null.
  const localTheta = c.local_rope_theta === null ? globalTheta : configNumber(c, 10000, 'local_rope_theta');
  const globalRope = layerRope(c, 'full_attention', globalTheta);
  const localRope = layerRope(c, 'sliding_attention', localTheta);
  const hasLocal = Array.from({ length: layers }, (_, l) => isLocal(l)).some(Boolean);
  const scale = 1 / Math.sqrt(headDim);
  const { tensor: t, optional: opt, read, readOptional } = ckpt.scoped(PREFIXES);
  const embNormW = read('embeddings.norm.weight', [hidden]);
  const embNormB = readOptional('embeddings.norm.bias', [hidden]);
  return {
    summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: false }),
    scale,
    softcap: null,
    layerBytes: 4 * (4 * hidden * hidden + 3 * hidden * intermediate),
    embed(ids) {
      return layerNormRows(ckpt.rows('embeddings.tok_embeddings.weight', PREFIXES, ids), hidden, embNormW, embNormB, eps);
    },
    positionInputs(n) {
      const global = rotaryTables(globalRope, n, headDim, headDim);
      const inputs: Record<string, PositionInput> = { cos_global: global.cos, sin_global: global.sin };
      if (hasLocal) {
        const local = rotaryTables(localRope, n, headDim, headDim);
        Object.assign(inputs, { cos_local: local.cos, sin_local: local.sin, local_mask: localMask(n, halfWindow) });
      }
      return inputs;
    },
    positionInputShapes() {
      const shapes: Record<string, (number | string)[]> = { cos_global: ['n', headDim], sin_global: ['n', headDim] };
      if (hasLocal) Object.assign(shapes, { cos_local: ['n', headDim], sin_local: ['n', headDim], local_mask: ['n', 'n'] });
      return shapes;
    },
    logitBiasInput: (layer) => (isLocal(layer) ? 'local_mask' : undefined),
    buildLayer(nn, i, x, use) {
      const p = `layers.${i}.`;
      const proj = (name: string, out: number, inp: number, src: string) => nn.linear(src, t(`${p}${name}.weight`, [out, inp]), out, inp, opt(`${p}${name}.bias`, [out]), `l${i}.${name}`);
      const norm = (src: string, name: string) => nn.layerNorm(src, t(`${p}${name}.weight`, [hidden]), opt(`${p}${name}.bias`, [hidden]), eps, `l${i}.${name}`);
      const local = isLocal(i);
      const [cos, sin] = local ? [use('cos_local'), use('sin_local')] : [use('cos_global'), use('sin_global')];
      // Layer 0 has no attn_norm: its input is the embeddings' norm output.
      const h = i === 0 ? x : norm(x, 'attn_norm');
      const qkv = proj('attn.Wqkv', 3 * hidden, hidden, h).y;
      const [qFlat, kFlat, vFlat] = nn.g.opN('Split', [qkv, nn.g.int64s([hidden, hidden, hidden])], 3, { axis: -1 });
      const q = nn.rotary(nn.toHeads(qFlat, heads, headDim), cos, sin, headDim, headDim);
      const k = nn.rotary(nn.toHeads(kFlat, heads, headDim), cos, sin, headDim, headDim);
      const v = nn.toHeads(vFlat, heads, headDim);
      const attn = nn.attention(q, k, v, scale, local ? use('local_mask') : undefined, null);
      const out = proj('attn.Wo', hidden, hidden, nn.fromHeads(attn.context, heads, headDim));
      const h1 = nn.add(x, out.y);
      const wi = proj('mlp.Wi', 2 * intermediate, hidden, norm(h1, 'mlp_norm')).y;
      const [input, gate] = nn.g.opN('Split', [wi, nn.g.int64s([intermediate, intermediate])], 2, { axis: -1 });
      const mlp = proj('mlp.Wo', hidden, intermediate, nn.mul(nn.activation(input, act), gate)).y;
      return { hidden: nn.add(h1, mlp), probs: attn.probs, valueNorms: nn.valueNorms(v, out.weightInOut, heads, headDim, hidden), q, k, v };
    },
    buildFinal(nn, x) {
      return nn.layerNorm(x, t('final_norm.weight', [hidden]), opt('final_norm.bias', [hidden]), eps, 'final_norm');
    },
  };
}
