/**
 * How engine and model-source errors reach the user in the UI language. The engine (a child
 * process) and the hub layer write their messages in English, with the facts a bug report needs
 * (file names, tensor names, shapes); they also give each error a stable code and, where it matters,
 * its numbers (too-long: limit and length). The host translates by code: a translated sentence per
 * code (with the numbers filled in), followed by the engine's own text as the details. In English
 * the engine's message is shown unchanged.
 */
import { msg, t, uiLanguage } from './runtime';

/** One translated sentence per error code (engine and model source); unknown codes get the generic one. */
const HEADLINES: Record<string, string> = {
  'unsupported-architecture': msg('This model’s architecture or one of its options is not supported.'),
  'pickle-only': msg('This model has only pickle weights (.bin, .pt), which are never loaded: use a model with .safetensors weights.'),
  'bad-checkpoint': msg('The model’s files are damaged or inconsistent.'),
  'missing-file': msg('A file the model needs is missing.'),
  'memory-limit': msg('The model does not fit in the memory limit (attentionInspector.memoryLimitGB).'),
  'empty-text': msg('There is no text to analyze: select some text.'),
  'not-loaded': msg('No model is loaded yet: run Show Attention first.'),
  'internal': msg('The engine failed unexpectedly.'),
  'engine-crashed': msg('The engine stopped while reading this model; the next request starts a fresh one.'),
  'invalid-spec': msg('The model setting is not a Hugging Face model id, a folder or the built-in model.'),
  'folder-not-found': msg('The model folder does not exist.'),
  'no-config': msg('The model has no config.json.'),
  'no-safetensors': msg('The model has no weights the engine can read (.safetensors).'),
  'incomplete-weights': msg('Some of the model’s weight files are missing.'),
  'no-tokenizer': msg('The model has no tokenizer.json.'),
  'repo-not-found': msg('This model is not on the Hugging Face Hub (or it is private and no token was sent).'),
  'revision-not-found': msg('This revision (branch, tag or commit) is not in the model’s repository.'),
  'unauthorized': msg('This model is gated or private: set a Hugging Face token with access to it, and accept its licence on its page.'),
  'invalid-token': msg('The Hugging Face Hub rejected the token: it may be mistyped, revoked or expired.'),
  'offline-not-cached': msg('Offline, and the model is not completely in the Hugging Face cache.'),
  'network': msg('Could not reach the Hugging Face Hub.'),
  'server': msg('The Hugging Face Hub answered with an error; try again later.'),
  'integrity': msg('A downloaded file did not match the Hub’s size or hash; it was discarded.'),
  'cache-io': msg('Could not read or write the Hugging Face cache.'),
};
const GENERIC = msg('Something went wrong.');

export interface LocalizableError {
  code?: string;
  message: string;
  limit?: number;
  length?: number;
}

/** The error's message in the UI language: as written in English; else a translated sentence with the English details. */
export function localizeError(error: LocalizableError): string {
  if (uiLanguage().toLowerCase().startsWith('en')) return error.message;
  const code = error.code ?? '';
  let sentence: string;
  if (code === 'too-long' && typeof error.limit === 'number' && typeof error.length === 'number') {
    sentence = t('The text is {0} tokens long; this model handles at most {1} tokens here. Select less text or analyze the first {1} tokens.', error.length, error.limit);
  } else {
    sentence = t(HEADLINES[code] ?? GENERIC);
  }
  return `${sentence} ${t('(Details: {0})', error.message)}`;
}

/** The code and numbers of an error, whatever its class (EngineRequestError info, EngineError, ModelSourceError). */
export function errorParts(error: unknown): LocalizableError {
  const info = (error as { info?: LocalizableError } | null)?.info;
  if (info && typeof info.message === 'string') return info;
  const e = error as { code?: unknown; message?: unknown; details?: { limit?: number; length?: number } } | null;
  return {
    code: typeof e?.code === 'string' ? e.code : undefined,
    message: error instanceof Error ? error.message : String(error),
    ...(e?.details ?? {}),
  };
}
