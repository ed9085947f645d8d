/**
 * GPT-2: a pre-norm causal decoder with learned absolute positions (wte + wpe) and LayerNorm
 * (ln_1, ln_2, final ln_f). Its projections are Conv1D modules whose weights are stored `[in, out]`
 * (the transpose of torch Linear), and q, k, v come from one fused `c_attn` projection laid out
 * `[q | k | v]` along the output axis. The original OpenAI checkpoints spell tensor names without
 * the `transformer.` prefix. `scale_attn_by_inverse_layer_idx` divides layer k's logits by k + 1.
 */
import { acceptOnly, configInt, configNumber, selfSite, summarize, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { attend } from './blocks/attention';
import { causalMaskInput } from './blocks/masks';
import { splitConcatenatedQkv, toHeadsQkv } from './blocks/qkv';
import { positionIds, sumOfRows } from './blocks/embeddings';
import { layerWeights } from './blocks/weights';
import { lmHead } from './blocks/lmHead';

const PREFIXES = ['transformer.'];

/**
 * The config spelling GPT-2 shares with GPT-J and GPTBigCode (`n_embd`, `n_head`, `n_layer`,
 * `n_positions`, `n_inner`, `layer_norm_epsilon`, `activation_function`), with the newer names as
 * fallbacks; `n_inner` null means 4 × hidden.
 */
export interface Gpt2Shape {
  hidden: number;
  heads: number;
  layers: number;
  maxPositions: number;
  inner: number;
  eps: number;
  act: string;
}

export function parseGpt2Shape(c: ModelConfig, defaultActivation: string): Gpt2Shape {
  const hidden = configInt(c, 'n_embd', 'hidden_size');
  return {
    hidden,
    heads: configInt(c, 'n_head', 'num_attention_heads'),
    layers: configInt(c, 'n_layer', 'num_hidden_layers'),
    maxPositions: configInt(c, 'n_positions', 'n_ctx', 'max_position_embeddings'),
    inner: typeof c.n_inner === 'number' ? configInt(c, 'n_inner') : 4 * hidden,
    eps: configNumber(c, 1e-5, 'layer_norm_epsilon'),
    act: String(c.activation_function ?? defaultActivation),
  };
}

export interface Gpt2Config extends Gpt2Shape {
  /** Scale on q·k per layer. */
  scale: (layer: number) => number;
}

export function parseGpt2Config(c: ModelConfig): Gpt2Config {
  const shape = parseGpt2Shape(c, 'gelu_new');
  const headDim = shape.hidden / shape.heads;
  // Cross-attention blocks belong to an encoder-decoder built around GPT-2; not implemented.
  acceptOnly(c, 'add_cross_attention', [false]);
  // reorder_and_upcast_attn only changes float16 rounding; in float32 it is the same product (6e-8).
  acceptOnly(c, 'reorder_and_upcast_attn', [false, true]);
  // scale_attn_weights = false leaves q·k unscaled.
  const base = c.scale_attn_weights === false ? 1 : 1 / Math.sqrt(headDim);
  const byLayer = c.scale_attn_by_inverse_layer_idx === true;
  return { ...shape, scale: (layer) => (byLayer ? base / (layer + 1) : base) };
}

export const gpt2: Family = {
  modelTypes: ['gpt2'],
  create(ckpt) {
    const c = ckpt.config;
    const { hidden, heads, layers, maxPositions, inner, eps, act, scale } = parseGpt2Config(c);
    const headDim = hidden / heads;
    const tensors = ckpt.scoped(PREFIXES);
    const causal = causalMaskInput();
    const sites = Array.from({ length: layers }, (_, l) => selfSite(scale(l), [causal]));
    return {
      summary: summarize(c, { layers, heads, headDim, hidden, maxTokens: maxPositions, causal: true }),
      layerBytes: 4 * (4 * hidden * hidden + 2 * hidden * inner),
      embed: (ids) => sumOfRows(tensors, [{ table: 'wte.weight', rows: ids }, { table: 'wpe.weight', rows: positionIds(ids.length) }]),
      site: (layer) => sites[layer],
      buildLayer(nn, i, x, use) {
        const w = layerWeights(nn, tensors, `h.${i}.`, `l${i}`);
        const qkv = toHeadsQkv(nn, splitConcatenatedQkv(nn, w.conv1d('attn.c_attn', hidden, 3 * hidden, w.layerNorm('ln_1', hidden, x, eps)).y, hidden, hidden), heads, heads, headDim);
        const attn = attend(nn, use, sites[i], qkv, heads, headDim, (context) => w.conv1d('attn.c_proj', hidden, hidden, context));
        const h1 = nn.add(x, attn.y);
        const mlp = w.conv1d('mlp.c_proj', inner, hidden, nn.activation(w.conv1d('mlp.c_fc', hidden, inner, w.layerNorm('ln_2', hidden, h1, eps)).y, act));
        return { hidden: nn.add(h1, mlp.y), ...attn.outputs };
      },
      buildFinal(nn, x) {
        return layerWeights(nn, tensors, '', 'final').layerNorm('ln_f', hidden, x, eps);
      },
      lmHead: lmHead(ckpt.config, tensors, { embedding: 'wte.weight', tiedByDefault: true }),
    };
  },
};
