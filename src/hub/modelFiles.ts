/**
 * Which files of a checkpoint the engine needs, and the checks that a folder or a repo listing has
 * them. Only safetensors weights are ever read: pickle files (`pytorch_model.bin`, `.pt`, `.ckpt`)
 * can run arbitrary code when unpickled, so they are refused with instructions to convert.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ModelSourceError } from './errors';

export const CONFIG_FILE = 'config.json';
export const TOKENIZER_FILE = 'tokenizer.json';
export const SINGLE_WEIGHTS_FILE = 'model.safetensors';
export const WEIGHTS_INDEX_FILE = 'model.safetensors.index.json';
/** Downloaded when the repo has them; the engine reads them for special-token settings. */
export const OPTIONAL_FILES = ['tokenizer_config.json', 'special_tokens_map.json'] as const;

const PICKLE_FILE = /(^pytorch_model.*\.bin$)|(\.pt$)|(\.pth$)|(\.ckpt$)|(\.bin\.index\.json$)/i;

/** How a listing of root file names provides weights. */
export type WeightsLayout =
  | { kind: 'single'; file: typeof SINGLE_WEIGHTS_FILE }
  | { kind: 'sharded'; index: typeof WEIGHTS_INDEX_FILE };

/**
 * Picks the weights from the names of a checkpoint's root files, as transformers does:
 * `model.safetensors` first, then the shard index. Throws `pickle-only` or `no-safetensors`.
 * `where` names the folder or repo in messages; `convertFrom` is the path or hub id to convert from.
 */
export function chooseWeights(
  fileNames: readonly string[],
  where: string,
  convertFrom: string,
  fromHub = false,
): WeightsLayout {
  const names = new Set(fileNames);
  if (names.has(SINGLE_WEIGHTS_FILE)) return { kind: 'single', file: SINGLE_WEIGHTS_FILE };
  if (names.has(WEIGHTS_INDEX_FILE)) return { kind: 'sharded', index: WEIGHTS_INDEX_FILE };
  const pickles = fileNames.filter((name) => PICKLE_FILE.test(name));
  if (pickles.length > 0) throw pickleOnlyError(where, pickles, convertFrom, fromHub);
  const otherSafetensors = fileNames.filter((name) => name.endsWith('.safetensors'));
  throw new ModelSourceError(
    'no-safetensors',
    `${where} has no model weights in safetensors format (looked for ${SINGLE_WEIGHTS_FILE} or ` +
      `${WEIGHTS_INDEX_FILE}` +
      (otherSafetensors.length > 0 ? `; found only ${otherSafetensors.slice(0, 3).join(', ')}, which is not a full model` : '') +
      '). Choose a transformers checkpoint folder or model id.',
  );
}

/** Quotes a string for a Python single-quoted literal inside a double-quoted shell argument. */
function pythonLiteral(text: string): string {
  return `'${text.replace(/\\/g, '\\\\').replace(/'/g, "\\'").replace(/"/g, '\\"')}'`;
}

/** The one-line conversion command shown for pickle-only checkpoints. */
export function conversionCommand(source: string, target: string): string {
  return (
    `python -c "from transformers import AutoModel, AutoTokenizer; ` +
    `src, out = ${pythonLiteral(source)}, ${pythonLiteral(target)}; ` +
    `AutoModel.from_pretrained(src).save_pretrained(out, safe_serialization=True); ` +
    `AutoTokenizer.from_pretrained(src).save_pretrained(out)"`
  );
}

function pickleOnlyError(where: string, pickles: string[], convertFrom: string, fromHub: boolean): ModelSourceError {
  const target = `${convertFrom.replace(/[\\/]+$/, '')}-safetensors`;
  const hubHint = fromHub
    ? ` Or look on the model page for a pull request by the Hub's safetensors conversion bot and use ` +
      `"${convertFrom}@refs/pr/N" with its number.`
    : '';
  return new ModelSourceError(
    'pickle-only',
    `${where} has only PyTorch pickle weights (${pickles.slice(0, 3).join(', ')}). They are not loaded: ` +
      `unpickling a file can run arbitrary code. Convert the checkpoint to safetensors once, in a ` +
      `Python environment you trust, and open the converted folder:\n` +
      conversionCommand(convertFrom, fromHub ? `./${target.split('/').pop()}` : target) +
      hubHint,
  );
}

/** Shard file names from a `model.safetensors.index.json` text; throws `incomplete-weights`. */
export function shardsFromIndex(indexText: string, where: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(indexText);
  } catch {
    throw new ModelSourceError('incomplete-weights', `${WEIGHTS_INDEX_FILE} in ${where} is not valid JSON.`);
  }
  const weightMap = (parsed as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null) {
    throw new ModelSourceError('incomplete-weights', `${WEIGHTS_INDEX_FILE} in ${where} has no "weight_map".`);
  }
  const shards = [...new Set(Object.values(weightMap as Record<string, unknown>))];
  for (const shard of shards) {
    // Shards sit beside the index; a name with a path could point anywhere, so refuse it.
    if (typeof shard !== 'string' || !/^[\w.-]+\.safetensors$/.test(shard) || shard.startsWith('.')) {
      throw new ModelSourceError(
        'incomplete-weights',
        `${WEIGHTS_INDEX_FILE} in ${where} names an invalid shard file: ${JSON.stringify(shard)}.`,
      );
    }
  }
  if (shards.length === 0) {
    throw new ModelSourceError('incomplete-weights', `${WEIGHTS_INDEX_FILE} in ${where} lists no shards.`);
  }
  return (shards as string[]).sort();
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile(); // follows the snapshot symlinks to their blobs
  } catch {
    return false;
  }
}

/**
 * What a local folder in the Hugging Face layout lacks for the engine, without throwing:
 * `problem` is the first error `checkModelFolder` would throw, or undefined when it is usable.
 * Reads only file names, the shard index and file sizes: nothing in the folder is executed.
 */
export async function inspectModelFolder(folder: string): Promise<{ problem?: ModelSourceError; weightFiles: string[] }> {
  let entries: string[];
  try {
    if (!(await stat(folder)).isDirectory()) {
      return { problem: new ModelSourceError('folder-not-found', `${folder} is a file, not a model folder.`), weightFiles: [] };
    }
    entries = await readdir(folder);
  } catch {
    return { problem: new ModelSourceError('folder-not-found', `Model folder ${folder} does not exist.`), weightFiles: [] };
  }
  // Snapshot entries can be dangling symlinks (blob deleted): only count files that open.
  const present: string[] = [];
  for (const name of entries) if (await isFile(join(folder, name))) present.push(name);
  const where = `Folder ${folder}`;
  try {
    const layout = chooseWeights(present, where, folder);
    if (!present.includes(CONFIG_FILE)) {
      throw new ModelSourceError('no-config', `${where} has no ${CONFIG_FILE}: it is not a transformers checkpoint folder.`);
    }
    let weightFiles: string[] = [SINGLE_WEIGHTS_FILE];
    if (layout.kind === 'sharded') {
      weightFiles = shardsFromIndex(await readFile(join(folder, WEIGHTS_INDEX_FILE), 'utf8'), where);
      const missing = weightFiles.filter((shard) => !present.includes(shard));
      if (missing.length > 0) {
        throw new ModelSourceError(
          'incomplete-weights',
          `${where} is missing ${missing.length} of the ${weightFiles.length} weight shards its index lists ` +
            `(${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''}).`,
        );
      }
    }
    if (!present.includes(TOKENIZER_FILE)) {
      throw new ModelSourceError(
        'no-tokenizer',
        `${where} has no ${TOKENIZER_FILE}. The inspector tokenizes with the fast-tokenizer file; create it ` +
          `with: python -c "from transformers import AutoTokenizer; AutoTokenizer.from_pretrained(${pythonLiteral(folder)}).save_pretrained(${pythonLiteral(folder)})"`,
      );
    }
    return { weightFiles };
  } catch (error) {
    if (error instanceof ModelSourceError) return { problem: error, weightFiles: [] };
    throw error;
  }
}

/**
 * Checks that a local folder holds a checkpoint the engine can load (config.json, tokenizer.json and
 * safetensors weights, all shards present). Throws a `ModelSourceError` that says what to do:
 * `pickle-only` explains why pickle is refused and how to convert.
 */
export async function checkModelFolder(folder: string): Promise<void> {
  const { problem } = await inspectModelFolder(folder);
  if (problem) throw problem;
}

/** Name shown for a local folder: the folder's own name. */
export function folderDisplayName(folder: string): string {
  return basename(folder.replace(/[\\/]+$/, '')) || folder;
}
