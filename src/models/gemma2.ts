/**
 * Gemma 2: Gemma plus norms after attention and around the MLP, tanh soft-capping of attention
 * logits, q·k scaled by query_pre_attn_scalar^-½, and a sliding window on every other layer
 * (layers 0, 2, 4... unless `layer_types` says otherwise).
 */
import { configNumber, type Family } from '../engine/architecture';
import { configNumber as rangedNumber } from '../engine/config';
import { createDecoder, slidingLayersFromConfig } from './blocks/decoder';

export const gemma2: Family = {
  modelTypes: ['gemma2'],
  create(ckpt) {
    const c = ckpt.config;
    const softcap = typeof c.attn_logit_softcapping === 'number' ? c.attn_logit_softcapping : null;
    const headDim = configNumber(c, 256, 'head_dim');
    return createDecoder(ckpt, {
      scaleEmbeddings: true,
      normOffset: 1,
      sandwichNorms: true,
      softcap,
      scale: configNumber(c, headDim, 'query_pre_attn_scalar') ** -0.5,
      slidingWindow: slidingLayersFromConfig(c, (layer) => layer % 2 === 0),
      defaultActivation: 'gelu_pytorch_tanh',
      // Gemma2Config: tie_word_embeddings=True; logits soft-capped with final_logit_softcapping.
      head: { tiedByDefault: true, softcap: typeof c.final_logit_softcapping === 'number' ? rangedNumber(c, 'final_logit_softcapping', { above: 0 }, 0) : null },
    });
  },
};
