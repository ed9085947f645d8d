/**
 * Marian (Helsinki-NLP/opus-mt-*): BART's post-LN layers with embeddings × √d_model
 * (`scale_embedding`), sinusoidal positions that are not in the checkpoint (computed here: sin in
 * the first half of the dimensions, cos in the second), no `layernorm_embedding`, swish. The pad
 * token (the last id) is the decoder start: `[decoder_start_token_id] + labels[:-1]`.
 */
import type { Family } from '../engine/architecture';
import { configInt } from '../engine/architecture';
import { createBartStacks, parseBartConfig, shiftRight } from './blocks/bartStacks';

export const marian: Family = {
  modelTypes: ['marian'],
  create(ckpt) {
    const c = ckpt.config;
    const cfg = parseBartConfig(c);
    const start = typeof c.decoder_start_token_id === 'number' ? configInt(c, 'decoder_start_token_id') : cfg.padId;
    return createBartStacks(ckpt, cfg, { preNorm: false, embeddingNorm: false, positions: 'sinusoidal', decoderInputIds: (labels) => shiftRight(labels, start) });
  },
};
