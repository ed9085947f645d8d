/**
 * Granite (ibm-granite/granite-3.0-2b-instruct, granite-3.1-8b-base): the Llama layer with three
 * multipliers — embeddings × `embedding_multiplier` (hidden_states[0] is the scaled embedding),
 * q·k × `attention_multiplier` in place of 1/√d, and each sublayer's output × `residual_multiplier`
 * before its residual add. `logits_scaling` only divides the LM head's logits; attention does not
 * depend on it.
 */
import { configNumber, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { configNumber as rangedNumber } from '../engine/config';
import { attentionBiasFromConfig, createDecoder } from './blocks/decoder';

export interface GraniteConfig {
  embeddingMultiplier: number;
  attentionMultiplier: number;
  residualMultiplier: number;
  /** GraniteForCausalLM divides the logits by logits_scaling (default 1). */
  logitsScaling: number;
}

/** GraniteConfig's defaults are 1.0 for each multiplier. */
export function parseGraniteConfig(c: ModelConfig): GraniteConfig {
  return {
    embeddingMultiplier: configNumber(c, 1, 'embedding_multiplier'),
    attentionMultiplier: configNumber(c, 1, 'attention_multiplier'),
    residualMultiplier: configNumber(c, 1, 'residual_multiplier'),
    logitsScaling: rangedNumber(c, 'logits_scaling', { above: 0 }, 1),
  };
}

export const granite: Family = {
  modelTypes: ['granite'],
  create(ckpt) {
    const { embeddingMultiplier, attentionMultiplier, residualMultiplier, logitsScaling } = parseGraniteConfig(ckpt.config);
    return createDecoder(ckpt, { embeddingMultiplier, scale: attentionMultiplier, residualMultiplier, ...attentionBiasFromConfig(ckpt.config), head: { logitScale: 1 / logitsScaling } });
  },
};
