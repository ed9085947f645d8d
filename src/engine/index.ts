/** The engine's public surface: load a Hugging Face folder, analyze texts. */
export { AttentionModel, ATTENTION_BUDGET_BYTES, defaultMemoryLimitGB, FLOAT16_THRESHOLD_BYTES, type LoadOptions, type ProgressFn } from './model';
export { EngineError, toErrorInfo } from './errors';
export { supportedModelTypes } from '../models/registry';

import { AttentionModel, type LoadOptions, type ProgressFn } from './model';

/** Loads a checkpoint folder (config.json, *.safetensors, tokenizer.json). */
export function loadModel(folder: string, options?: LoadOptions, onProgress?: ProgressFn): Promise<AttentionModel> {
  return AttentionModel.load(folder, options, onProgress);
}
