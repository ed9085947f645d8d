/** Loading a model with every supported family: the entry point for the worker, the CLI and tests. */
import type { LoadOptions, ProgressFn } from '../engine/model';
import { AttentionModel } from '../engine/model';
import { FAMILIES } from './registry';

export { FAMILIES, supportedModelTypes } from './registry';

/** Loads a checkpoint folder (config.json, *.safetensors, tokenizer.json) with the supported families. */
export function loadModel(folder: string, meta: Omit<LoadOptions, 'families'> = {}, onProgress?: ProgressFn, signal?: AbortSignal): Promise<AttentionModel> {
  return AttentionModel.load(folder, { ...meta, families: FAMILIES }, onProgress, signal);
}
