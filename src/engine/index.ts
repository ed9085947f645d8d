/** The engine's public surface: load a Hugging Face folder, analyze texts. */
export { AttentionModel, ATTENTION_BUDGET_BYTES, FLOAT16_THRESHOLD_BYTES, type ProgressFn } from './model';
export { EngineError, toErrorInfo } from './errors';
export { supportedModelTypes } from '../models/registry';

import { AttentionModel } from './model';

/** Loads a checkpoint folder (config.json, *.safetensors, tokenizer.json). */
export function loadModel(folder: string, meta?: { name?: string; source?: string }): Promise<AttentionModel> {
  return AttentionModel.load(folder, meta);
}
