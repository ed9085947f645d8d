/**
 * StableLM (stabilityai/stablelm-2-1_6b, stablelm-3b-4e1t, stablelm-2-12b): the Llama layer with
 * LayerNorms (weight and bias, `layer_norm_eps`) in place of RMS norms, rotary over the first
 * `partial_rotary_factor` of each head (25% unless the config says otherwise; rotate_half), and
 * q/k/v biases where `use_qkv_bias` put them in the checkpoint. stablelm-2-12b adds `qk_layernorm`
 * (one bias-free LayerNorm per head on q and on k: `q_layernorm.norms.{h}`, `k_layernorm.norms.{h}`)
 * and `use_parallel_residual` (x + attn(ln(x)) + mlp(ln(x)) from `input_layernorm` alone; such
 * checkpoints have no `post_attention_layernorm`).
 */
import { acceptOnly, configInt, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { createDecoder, type QkNorm } from './blocks/decoder';
import { perHeadLayerNorm } from './blocks/norms';

/** StableLmConfig's partial_rotary_factor default. */
const PARTIAL_ROTARY = 0.25;

export interface StableLmConfig {
  qkLayerNorm: boolean;
  parallelResidual: boolean;
  qkvBias: boolean;
}

/** Everything else StableLmConfig holds is read by the shared decoder (rope types it lacks are refused there). */
export function parseStableLmConfig(c: ModelConfig): StableLmConfig {
  // transformers 4.48 sizes StableLM heads as hidden_size / num_attention_heads and ignores head_dim; a different one is refused, not guessed.
  acceptOnly(c, 'head_dim', [configInt(c, 'hidden_size') / configInt(c, 'num_attention_heads')]);
  return { qkLayerNorm: c.qk_layernorm === true, parallelResidual: c.use_parallel_residual === true, qkvBias: c.use_qkv_bias === true };
}

/** StableLmLayerNormPerHead: head h of q (or k) goes through its own LayerNorm `norms.{h}`. */
const perHeadNorms: QkNorm = {
  on: 'heads',
  apply(nn, w, which, x, heads, config) {
    const weights = Array.from({ length: heads }, (_, h) => w.table(`self_attn.${which}_layernorm.norms.${h}.weight`, [config.headDim]));
    return perHeadLayerNorm(nn, x, nn.g.op('Concat', weights, { axis: 0 }), heads, config.headDim, config.eps, `${which}_layernorm`);
  },
};

export const stablelm: Family = {
  modelTypes: ['stablelm'],
  create(ckpt) {
    const { qkLayerNorm, parallelResidual, qkvBias } = parseStableLmConfig(ckpt.config);
    return createDecoder(ckpt, {
      norm: 'layer',
      qkvBias: qkvBias ? 'required' : 'none',
      outputBias: 'none',
      defaultPartialRotary: PARTIAL_ROTARY,
      layout: parallelResidual ? 'parallel' : 'sequential',
      qkNorm: qkLayerNorm ? perHeadNorms : undefined,
    });
  },
};
