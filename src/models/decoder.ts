/**
 * The pre-norm decoder shared by the Llama family and its relatives (Mistral, Qwen2/3, Gemma,
 * Gemma 2, Phi-3): RMS norm → attention with rotary positions and grouped-query heads → residual →
 * RMS norm → gated MLP → residual. Each family module states how it differs (`DecoderVariant`);
 * the arithmetic follows the transformers modeling files.
 */
import { configInt, configNumber, summarize, type Architecture, type PositionInput } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { causalMask } from './masks';
import { ropeSettings, rotaryTables } from './rope';

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
  const hidden = configInt(c, 'hidden_size');
  const heads = configInt(c, 'num_attention_heads');
  const kvHeads = typeof c.num_key_value_heads === 'number' ? configInt(c, 'num_key_value_heads') : heads;
  const layers = configInt(c, 'num_hidden_layers');
  const intermediate = configInt(c, 'intermediate_size');
  const headDim = typeof c.head_dim === 'number' ? configInt(c, 'head_dim') : hidden / heads;
  const eps = configNumber(c, 1e-6, 'rms_norm_eps');
  const act = String(c.hidden_activation ?? c.hidden_act ?? variant.defaultActivation ?? 'silu');
  const rotaryDim = Math.round(headDim * configNumber(c, 1, 'partial_rotary_factor'));
  const rope = ropeSettings(c);
  const groups = heads / kvHeads;
  const offset = variant.normOffset ?? 0;
  const scale = variant.scale ?? 1 / Math.sqrt(headDim);
  const softcap = variant.softcap ?? null;
  const window = variant.slidingWindow ?? (() => undefined);
  const { tensor: t, optional: opt } = ckpt.scoped(PREFIXES);
  const qDim = heads * headDim;
  const kvDim = kvHeads * headDim;
  const hasSliding = Array.from({ length: layers }, (_, l) => window(l)).some((w) => w !== undefined);
  const embedScale = Math.fround(Math.sqrt(hidden));
  return {
    summary: summarize(c, { layers, heads, kvHeads, headDim, hidden, maxTokens: typeof c.max_position_embeddings === 'number' ? c.max_position_embeddings : null, causal: true }),
    scale,
    softcap,
    layerBytes: 4 * (hidden * (qDim + 2 * kvDim) + qDim * hidden + 3 * hidden * intermediate),
    embed(ids) {
      const x = ckpt.rows('embed_tokens.weight', PREFIXES, ids);
      if (variant.scaleEmbeddings) for (let i = 0; i < x.length; i++) x[i] = Math.fround(x[i] * embedScale);
      return x;
    },
    positionInputs(n) {
      const { cos, sin } = rotaryTables(rope, n, headDim, rotaryDim);
      const inputs: Record<string, PositionInput> = { cos, sin, causal_mask: causalMask(n) };
      const windows = new Set(Array.from({ length: layers }, (_, l) => window(l)).filter((w): w is number => w !== undefined));
      for (const w of windows) inputs[`sliding_mask_${w}`] = causalMask(n, w);
      return inputs;
    },
    positionInputShapes() {
      const shapes: Record<string, (number | string)[]> = { cos: ['n', headDim], sin: ['n', headDim], causal_mask: ['n', 'n'] };
      if (hasSliding) for (let l = 0; l < layers; l++) { const w = window(l); if (w !== undefined) shapes[`sliding_mask_${w}`] = ['n', 'n']; }
      return shapes;
    },
    logitBiasInput(layer) {
      const w = window(layer);
      return w === undefined ? 'causal_mask' : `sliding_mask_${w}`;
    },
    buildLayer(nn, i, x, use) {
      const p = `layers.${i}.`;
      const norm = (src: string, name: string) => nn.rmsNorm(src, t(`${p}${name}.weight`, [hidden]), eps, `l${i}.${name}`, offset);
      const proj = (name: string, out: number, inp: number, src: string) => nn.linear(src, t(`${p}${name}.weight`, [out, inp]), out, inp, opt(`${p}${name}.bias`, [out]), `l${i}.${name}`);
      const h = norm(x, 'input_layernorm');
      let qFlat: string, kFlat: string, vFlat: string;
      if (variant.fused) {
        const qkv = proj('self_attn.qkv_proj', qDim + 2 * kvDim, hidden, h).y;
        const parts = nn.g.opN('Split', [qkv, nn.g.int64s([qDim, kvDim, kvDim])], 3, { axis: -1 });
        [qFlat, kFlat, vFlat] = parts;
      } else {
        qFlat = proj('self_attn.q_proj', qDim, hidden, h).y;
        kFlat = proj('self_attn.k_proj', kvDim, hidden, h).y;
        vFlat = proj('self_attn.v_proj', kvDim, hidden, h).y;
      }
      let q = nn.toHeads(qFlat, heads, headDim);
      let k = nn.toHeads(kFlat, kvHeads, headDim);
      if (variant.qkNorm) {
        q = nn.rmsNorm(q, t(`${p}self_attn.q_norm.weight`, [headDim]), eps, `l${i}.q_norm`, offset);
        k = nn.rmsNorm(k, t(`${p}self_attn.k_norm.weight`, [headDim]), eps, `l${i}.k_norm`, offset);
      }
      q = nn.rotary(q, use('cos'), use('sin'), headDim, rotaryDim);
      k = nn.repeatKv(nn.rotary(k, use('cos'), use('sin'), headDim, rotaryDim), kvHeads, groups, headDim);
      const v = nn.repeatKv(nn.toHeads(vFlat, kvHeads, headDim), kvHeads, groups, headDim);
      const w = window(i);
      const mask = use(w === undefined ? 'causal_mask' : `sliding_mask_${w}`);
      const attn = nn.attention(q, k, v, scale, mask, softcap);
      const out = proj('self_attn.o_proj', hidden, qDim, nn.fromHeads(attn.context, heads, headDim));
      let h1: string;
      let mlpIn: string;
      if (variant.sandwichNorms) {
        h1 = nn.add(x, norm(out.y, 'post_attention_layernorm'));
        mlpIn = norm(h1, 'pre_feedforward_layernorm');
      } else {
        h1 = nn.add(x, out.y);
        mlpIn = norm(h1, 'post_attention_layernorm');
      }
      let gate: string, up: string;
      if (variant.fused) {
        const gateUp = proj('mlp.gate_up_proj', 2 * intermediate, hidden, mlpIn).y;
        [gate, up] = nn.g.opN('Split', [gateUp, nn.g.int64s([intermediate, intermediate])], 2, { axis: -1 });
      } else {
        gate = proj('mlp.gate_proj', intermediate, hidden, mlpIn).y;
        up = proj('mlp.up_proj', intermediate, hidden, mlpIn).y;
      }
      let mlp = proj('mlp.down_proj', hidden, intermediate, nn.mul(nn.activation(gate, act), up)).y;
      if (variant.sandwichNorms) mlp = norm(mlp, 'post_feedforward_layernorm');
      return { hidden: nn.add(h1, mlp), probs: attn.probs, valueNorms: nn.valueNorms(v, out.weightInOut, heads, headDim, hidden), q, k, v };
    },
    buildFinal(nn, x) {
      return nn.rmsNorm(x, t('norm.weight', [hidden]), eps, 'final_norm', offset);
    },
  };
}
