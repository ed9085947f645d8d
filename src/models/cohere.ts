/**
 * Cohere (CohereForAI/c4ai-command-r-v01, c4ai-command-r-plus): the Llama layer with
 * - bias-free mean-subtracting LayerNorms (CohereLayerNorm, `layer_norm_eps`) in place of RMS norms;
 * - attention and MLP in parallel from the one `input_layernorm`: x + attn(ln(x)) + mlp(ln(x));
 * - rotary on interleaved pairs (x[2i], x[2i+1]) rather than rotate_half;
 * - with `use_qk_norm` (command-r-plus), a LayerNorm over each head's q and k with its own weights
 *   (`q_norm.weight` `[heads, d]`, `k_norm.weight` `[kv_heads, d]`), before rotary.
 * `logit_scale` only scales the LM head's logits; attention does not depend on it.
 */
import type { Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { configNumber } from '../engine/config';
import { attentionBiasFromConfig, createDecoder, type QkNorm } from './blocks/decoder';
import { perHeadLayerNorm } from './blocks/norms';

export interface CohereConfig {
  qkNorm: boolean;
  /** CohereForCausalLM multiplies the logits by logit_scale (CohereConfig default 0.0625). */
  logitScale: number;
}

/** Everything else CohereConfig holds is read by the shared decoder (rope types it lacks are refused there). */
export function parseCohereConfig(c: ModelConfig): CohereConfig {
  return { qkNorm: c.use_qk_norm === true, logitScale: configNumber(c, 'logit_scale', { above: 0 }, 0.0625) };
}

/** CohereLayerNorm of shape (heads, d): normalised over d, weights per head. */
const perHeadNorms: QkNorm = {
  on: 'heads',
  apply: (nn, w, which, x, heads, config) => perHeadLayerNorm(nn, x, w.table(`self_attn.${which}_norm.weight`, [heads, config.headDim]), heads, config.headDim, config.eps, `${which}_norm`),
};

export const cohere: Family = {
  modelTypes: ['cohere'],
  create(ckpt) {
    const { qkNorm, logitScale } = parseCohereConfig(ckpt.config);
    return createDecoder(ckpt, { norm: 'layer-no-bias', layout: 'parallel', rotaryLayout: 'interleaved', qkNorm: qkNorm ? perHeadNorms : undefined, ...attentionBiasFromConfig(ckpt.config), head: { tiedByDefault: true, logitScale } });
  },
};
