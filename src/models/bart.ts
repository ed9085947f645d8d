/**
 * BART (facebook/bart-base, bart-large, bart-large-cnn, distilbart): an encoder-decoder with post-LN
 * layers, learned positions offset by 2, `layernorm_embedding` after the embeddings and no final
 * norm (src/models/blocks/bartStacks.ts). Decoder inputs: transformers' `shift_tokens_right`,
 * `[decoder_start_token_id] + labels[:-1]` (`</s>` then `<s> …`).
 */
import type { Family } from '../engine/architecture';
import { configInt } from '../engine/architecture';
import { createBartStacks, parseBartConfig, shiftRight } from './blocks/bartStacks';

export const bart: Family = {
  modelTypes: ['bart'],
  create(ckpt) {
    const c = ckpt.config;
    const cfg = parseBartConfig(c);
    const start = configInt(c, 'decoder_start_token_id');
    return createBartStacks(ckpt, cfg, { preNorm: false, embeddingNorm: true, positions: 'learned', decoderInputIds: (labels) => shiftRight(labels, start) });
  },
};
