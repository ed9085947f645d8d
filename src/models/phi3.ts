/**
 * Phi-3: the Llama layer with q/k/v fused into `qkv_proj` and gate/up into `gate_up_proj`, and the
 * `longrope` rotary scaling of Phi-3.5 / Phi-3-128k (short factors up to
 * `original_max_position_embeddings` tokens, long ones for a longer text, cos/sin scaled at every
 * length).
 */
import type { Family } from '../engine/architecture';
import { createDecoder, slidingLayersFromConfig } from './blocks/decoder';

export const phi3: Family = {
  modelTypes: ['phi3'],
  create: (ckpt) => createDecoder(ckpt, { fused: true, rope: { longrope: true }, slidingWindow: slidingLayersFromConfig(ckpt.config, () => true) }),
};
