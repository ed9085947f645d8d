/** Llama and the families that share its layer exactly: Mistral, Qwen2 (q/k/v biases), Qwen3 (q/k norms). */
import type { Architecture } from '../engine/architecture';
import type { Checkpoint } from '../engine/checkpoint';
import { createDecoder, slidingLayersFromConfig } from './decoder';

export function createLlama(ckpt: Checkpoint): Architecture {
  const type = String(ckpt.config.model_type);
  // Mistral's window applies to every layer; Qwen's only where layer_types (or use_sliding_window) says so.
  const qwenUsesWindow = ckpt.config.use_sliding_window === true;
  const everyLayer = type === 'mistral' || (type.startsWith('qwen') && qwenUsesWindow);
  return createDecoder(ckpt, {
    qkNorm: type === 'qwen3',
    slidingWindow: slidingLayersFromConfig(type === 'llama' ? { ...ckpt.config, sliding_window: null } : ckpt.config, () => everyLayer),
  });
}
