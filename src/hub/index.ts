/**
 * Model sources: the built-in model, local folders, and Hugging Face Hub models found in or
 * downloaded into the standard Hugging Face cache (the layout Python uses, so both share models).
 * Pure Node: no `vscode` import, usable from the extension host, the CLI and tests.
 *
 * Typical use from the extension:
 *   const token = (await secretToken()) ?? (await findToken())?.token;
 *   const { folder, name, source } = await resolveModel(setting, { builtinFolder, token, offline, signal, onProgress, confirmDownload });
 *   // send { type: 'load', folder, name, source } to the engine worker
 */

/** What a spec string means: built-in, local folder, or hub id with optional @revision. */
export { parseModelSpec, formatHubSpec, isValidHubId, isValidRevision, type ModelSpec } from './spec';

/** Resolve a spec to a folder the engine loads, downloading what is missing (see ResolveOptions). */
export { resolveModel, modelOrigin, BUILTIN_NAME, type ResolveOptions, type ResolvedModel, type DownloadProgress } from './resolve';

/** Errors: `ModelSourceError.code` tells the host which action to offer. */
export { ModelSourceError, isModelSourceError, type ModelSourceErrorCode } from './errors';

/** The token from HF_TOKEN (or HUGGING_FACE_HUB_TOKEN), else the token file of `hf auth login`. */
export { findToken, checkToken, type FoundToken, type TokenCheck } from './token';

/** Cache, token file and endpoint locations as huggingface_hub computes them. */
export { defaultCacheDir, defaultHubUrl, huggingFaceHome, tokenFilePath, offlineFromEnv, DEFAULT_HUB_URL } from './environment';

/** Models in the cache, with revisions, usability and size on disk (for the picker). */
export { listCachedModels, scanCachedModel, type CachedModel, type CachedRevision } from './cacheScan';

/**
 * Pure checks of a local folder: safetensors present (pickle-only folders are refused with a
 * conversion command), config.json, tokenizer.json and every shard of the index.
 */
export { checkModelFolder, inspectModelFolder, chooseWeights, conversionCommand } from './modelFiles';

/** The picker's entries: built-in, cached (with sizes), recent, suggested (with download sizes), actions. */
export { buildModelChoices, BUILTIN_DETAIL, type ModelChoice, type ModelChoiceSection } from './choices';

/** Suggested models for the picker, with approximate download sizes. */
export { SUGGESTED_MODELS, formatBytes, type SuggestedModel } from './suggestions';
