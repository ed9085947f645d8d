/**
 * What Select Model checks before it accepts a folder, so that a folder the engine cannot load is
 * refused when it is picked (and marked in Recent), not at the first run: the files the engine
 * reads (safetensors, config.json, tokenizer.json, every shard; pickle-only refused) and a
 * `model_type` the engine implements. Messages never quote the file beyond a plain model_type.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineError } from '../engine/errors';
import { checkModelFolder, isModelSourceError } from '../hub';
import { supportedModelTypes } from '../models/registry';
import { errorParts, localizeError } from '../l10n/errors';

/** config.json files are a few kB; anything this large is not one. */
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

export async function checkPickedFolder(folder: string): Promise<void> {
  await checkModelFolder(folder);
  const file = join(folder, 'config.json');
  const where = `${file}`;
  let config: unknown;
  try {
    if ((await stat(file)).size > MAX_CONFIG_BYTES) throw new Error('too large');
    config = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw new EngineError('bad-checkpoint', `${where} is not a readable JSON config (larger than 4 MB, unreadable or not JSON): re-save the model with transformers.`);
  }
  const type = (config as { model_type?: unknown } | null)?.model_type;
  const supported = supportedModelTypes();
  if (typeof type === 'string' && supported.includes(type)) return;
  const named = typeof type === 'string' && /^[A-Za-z0-9_.-]{1,64}$/.test(type) ? `Model type "${type}"` : 'The model_type in config.json';
  throw new EngineError('unsupported-architecture', `${named} (${folder}) is not supported. Supported model types: ${supported.join(', ')}.`);
}

/**
 * Recent local folders checked as when they are picked: `gone` are those whose folder no longer
 * exists (to drop from Recent), `problems` those that exist but no longer load, with the reason.
 */
export async function checkRecentFolders(recent: readonly string[], folderOf: (spec: string) => string | undefined): Promise<{ problems: Map<string, string>; gone: string[] }> {
  const problems = new Map<string, string>();
  const gone: string[] = [];
  for (const spec of recent) {
    const folder = folderOf(spec);
    if (folder === undefined) continue;
    try {
      await checkPickedFolder(folder);
    } catch (error) {
      if (isModelSourceError(error, 'folder-not-found')) gone.push(spec);
      else problems.set(spec, localizeError(errorParts(error)));
    }
  }
  return { problems, gone };
}
