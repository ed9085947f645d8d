/**
 * OLMo 2 (allenai/OLMo-2-1124-7B): the Llama layer with its norms moved after the sublayers —
 * no `input_layernorm`; x + post_attention_layernorm(attn(x)), then + post_feedforward_layernorm(
 * mlp(·)) — and RMS norms `q_norm` / `k_norm` over the whole q and k projections (heads·d and
 * kv_heads·d wide, not per head) before rotary. Unlike OLMo, transformers' OLMo 2 clips nothing
 * (its attention does not read `clip_qkv`), so neither does this.
 */
import type { Family } from '../engine/architecture';
import { attentionBiasFromConfig, createDecoder, type QkNorm } from './blocks/decoder';

/** Olmo2Attention's q_norm / k_norm: one RMS norm over the flat projection. */
const projectionNorms: QkNorm = {
  on: 'projection',
  apply: (_nn, w, which, x, heads, config) => w.rmsNorm(`self_attn.${which}_norm`, heads * config.headDim, x, config.eps),
};

export const olmo2: Family = {
  modelTypes: ['olmo2'],
  create: (ckpt) => createDecoder(ckpt, { layout: 'post-norms', qkNorm: projectionNorms, ...attentionBiasFromConfig(ckpt.config) }),
};
