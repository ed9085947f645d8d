/** Llama and the families that share its layer exactly: Mistral, Qwen2 (q/k/v biases), Qwen3 (q/k norms). */
import type { Family } from '../engine/architecture';
import { createDecoder, slidingLayersFromConfig } from './blocks/decoder';

export const llama: Family = {
  modelTypes: ['llama', 'mistral', 'qwen2', 'qwen3'],
  create(ckpt) {
    const type = String(ckpt.config.model_type);
    // Mistral's window applies to every layer; Qwen's only where layer_types (or use_sliding_window) says so.
    const qwenUsesWindow = ckpt.config.use_sliding_window === true;
    const everyLayer = type === 'mistral' || (type.startsWith('qwen') && qwenUsesWindow);
    return createDecoder(ckpt, {
      qkNorm: type === 'qwen3',
      slidingWindow: slidingLayersFromConfig(type === 'llama' ? { ...ckpt.config, sliding_window: null } : ckpt.config, () => everyLayer),
    });
  },
};
