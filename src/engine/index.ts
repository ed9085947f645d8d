/**
 * The engine's public surface: load a Hugging Face folder with a family registry, analyze texts.
 * The families live in src/models (which imports the engine, never the other way round);
 * `loadModel` from src/models loads with all of them.
 */
export { AttentionModel, ATTENTION_BUDGET_BYTES, defaultMemoryLimitGB, FLOAT16_THRESHOLD_BYTES, type LoadOptions, type ProgressFn } from './model';
export { EngineError, toErrorInfo } from './errors';
export { FamilyRegistry, type Family } from './architecture';
