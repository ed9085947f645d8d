/**
 * OLMo (allenai/OLMo-1B-hf, OLMo-7B-0724-hf): the Llama layer with LayerNorms that have no
 * parameters at all (OlmoLayerNorm, epsilon fixed at 1e-5; no norm tensors on disk) and
 * `clip_qkv`, which clamps q, k and v to [−clip_qkv, clip_qkv] right after their projections.
 */
import { refuseOption, type Family } from '../engine/architecture';
import type { ModelConfig } from '../engine/checkpoint';
import { attentionBiasFromConfig, createDecoder } from './blocks/decoder';

/** OlmoLayerNorm's epsilon; no config key changes it. */
const LAYER_NORM_EPS = 1e-5;

export interface OlmoConfig {
  clipQkv: number | null;
}

export function parseOlmoConfig(c: ModelConfig): OlmoConfig {
  const clip = c.clip_qkv;
  if (clip !== undefined && clip !== null && !(typeof clip === 'number' && clip > 0 && Number.isFinite(clip))) refuseOption(c, 'clip_qkv', 'a positive number or null');
  return { clipQkv: typeof clip === 'number' ? clip : null };
}

export const olmo: Family = {
  modelTypes: ['olmo'],
  create(ckpt) {
    const { clipQkv } = parseOlmoConfig(ckpt.config);
    return createDecoder(ckpt, { norm: 'layer-no-params', eps: LAYER_NORM_EPS, clipQkv, ...attentionBiasFromConfig(ckpt.config) });
  },
};
