/**
 * StarCoder2 (bigcode/starcoder2-3b, 7b, 15b): the Llama layer (decoder.ts) with LayerNorms that
 * have biases (`norm_epsilon`) instead of RMS norms, biases on every projection (`use_bias`), a
 * plain MLP `mlp.c_fc` → act → `mlp.c_proj` instead of the gated one, and a sliding window on
 * every layer (query i sees keys i − window + 1 … i).
 */
import { configInt, configNumber, type Family } from '../engine/architecture';
import { createDecoder, slidingLayersFromConfig } from './blocks/decoder';
import { plainMlp } from './blocks/mlp';

export const starcoder2: Family = {
  modelTypes: ['starcoder2'],
  create(ckpt) {
    const c = ckpt.config;
    const mlpWeights = 2 * configInt(c, 'hidden_size') * configInt(c, 'intermediate_size');
    return createDecoder(ckpt, {
      norm: 'layer',
      eps: configNumber(c, 1e-5, 'norm_epsilon'),
      slidingWindow: slidingLayersFromConfig(c, () => true),
      defaultActivation: 'gelu_pytorch_tanh',
      // Starcoder2Config keeps PretrainedConfig's tie_word_embeddings=True.
      head: { tiedByDefault: true },
      mlp: { build: (nn, w, x, config) => plainMlp(nn, w, x, { up: 'mlp.c_fc', down: 'mlp.c_proj' }, config.hidden, config.intermediate, config.act), params: mlpWeights },
    });
  },
};
