/** Phi-3: the Llama layer with q/k/v fused into `qkv_proj` and gate/up into `gate_up_proj`. */
import type { Family } from '../engine/architecture';
import { createDecoder, slidingLayersFromConfig } from './blocks/decoder';

export const phi3: Family = {
  modelTypes: ['phi3'],
  create: (ckpt) => createDecoder(ckpt, { fused: true, slidingWindow: slidingLayersFromConfig(ckpt.config, () => true) }),
};
