/**
 * mBART (facebook/mbart-large-cc25, mbart-large-50, the mBART-based translation models): BART with
 * pre-LN layers, embeddings × √d_model, `layernorm_embedding`, and a final `layer_norm` after each
 * stack (the encoder output the cross-attentions read is after it). Decoder inputs: mBART's own
 * `shift_tokens_right`, which wraps the last non-pad label (the language code) to the front:
 * `[en_XX] + labels[:-1]` for labels `… </s> en_XX`.
 */
import type { Family } from '../engine/architecture';
import { createBartStacks, parseBartConfig } from './blocks/bartStacks';

/** mBART's shift-right: the last non-pad label first, then labels[:-1]. */
export function mbartDecoderInputIds(labels: number[], padId: number): number[] {
  let last = labels.length - 1;
  while (last > 0 && labels[last] === padId) last--;
  return labels.length === 0 ? [] : [labels[last], ...labels.slice(0, -1)];
}

export const mbart: Family = {
  modelTypes: ['mbart'],
  create(ckpt) {
    const cfg = parseBartConfig(ckpt.config);
    return createBartStacks(ckpt, cfg, { preNorm: true, embeddingNorm: true, positions: 'learned', decoderInputIds: (labels) => mbartDecoderInputIds(labels, cfg.padId) });
  },
};
