/** Phi-3: the Llama layer with q/k/v fused into `qkv_proj` and gate/up into `gate_up_proj`. */
import type { Architecture } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { createDecoder, slidingLayersFromConfig } from './decoder';

export function createPhi3(ckpt: Checkpoint): Architecture {
  return createDecoder(ckpt, { fused: true, slidingWindow: slidingLayersFromConfig(ckpt.config, () => true) });
}
