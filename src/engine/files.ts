/**
 * Reading a model folder safely. A folder (or a Hub repository someone else prepared) decides what
 * its names point at, so every file is resolved to its real path and read only if it stays inside
 * the model folder — or inside its `models--…` repository folder for a Hugging Face cache snapshot,
 * whose files are symlinks into `../../blobs/` — and is a regular file (no FIFO that blocks a read
 * forever, no /dev/zero) of a plausible size. Messages name the file and what is wrong, never
 * what it contains.
 */
import * as fs from 'fs';
import * as path from 'path';
import { EngineError } from './errors';

/** Size caps per kind of file: real files are far smaller; past these, something is wrong. */
export const MAX_JSON_BYTES = {
  'config.json': 16 * 1024 * 1024,
  'model.safetensors.index.json': 64 * 1024 * 1024,
  // Gemma's is 34 MB, Llama 3's 9 MB.
  'tokenizer.json': 512 * 1024 * 1024,
} as const;

/** Where a folder's files may lead: the folder's real path, or its cache repository folder. */
export interface ModelFolder {
  /** As the user gave it (for messages). */
  folder: string;
  real: string;
  /** Files must resolve inside this folder. */
  root: string;
}

const errnoCode = (err: unknown) => (err as NodeJS.ErrnoException)?.code;

function fsProblem(err: unknown, what: string): EngineError {
  const code = errnoCode(err);
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
      return new EngineError('missing-file', `${what} does not exist.`);
    case 'EACCES':
    case 'EPERM':
      return new EngineError('missing-file', `${what} cannot be read (permission denied).`);
    case 'ELOOP':
      return new EngineError('bad-checkpoint', `${what} is a symbolic link that loops back on itself.`);
    case 'EISDIR':
      return new EngineError('bad-checkpoint', `${what} is a folder, not a file.`);
    case 'EMFILE':
    case 'ENFILE':
      return new EngineError('internal', `Too many open files while reading ${what}; close some programs and try again.`);
    default:
      return new EngineError('bad-checkpoint', `${what} cannot be read (${code ?? 'unknown error'}).`);
  }
}

/** Opens a model folder for reading. */
export function modelFolder(folder: string): ModelFolder {
  let real: string;
  try {
    real = fs.realpathSync(folder);
    if (!fs.statSync(real).isDirectory()) throw Object.assign(new Error('not a folder'), { code: 'ENOTDIR' });
  } catch (err) {
    if (errnoCode(err) === 'ENOENT' || errnoCode(err) === 'ENOTDIR') throw new EngineError('missing-file', `Model folder not found: ${folder}`);
    throw fsProblem(err, `The model folder ${folder}`);
  }
  // A snapshot of the Hugging Face cache: models--org--name/snapshots/<revision>.
  const snapshots = path.dirname(real);
  const repo = path.dirname(snapshots);
  const isSnapshot = path.basename(snapshots) === 'snapshots' && /^(models|datasets|spaces)--/.test(path.basename(repo));
  return { folder, real, root: isSnapshot ? repo : real };
}

/** The names in a model folder. */
export function listModelFolder(m: ModelFolder): string[] {
  try {
    return fs.readdirSync(m.real);
  } catch (err) {
    throw fsProblem(err, `The model folder ${m.folder}`);
  }
}

function inside(root: string, file: string): boolean {
  return file === root || file.startsWith(root.endsWith(path.sep) ? root : root + path.sep);
}

export interface ResolvedFile {
  /** The real path of a regular file inside the model's root. */
  real: string;
  size: number;
}

/**
 * Resolves `name` in the folder, or returns undefined when the folder has no such entry. Refuses
 * links that lead outside, dangling links (a cache blob deleted: re-download), and anything that
 * is not a regular file.
 */
export function resolveModelFile(m: ModelFolder, name: string): ResolvedFile | undefined {
  if (name !== path.basename(name) || name === '.' || name === '..') throw new EngineError('bad-checkpoint', `A model file name must not contain a folder.`);
  const file = path.join(m.real, name);
  try {
    fs.lstatSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw fsProblem(err, `${name} in ${m.folder}`);
  }
  let real: string;
  try {
    real = fs.realpathSync(file);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') {
      throw new EngineError('missing-file', `${name} in ${m.folder} is a link to a file that no longer exists (a deleted or incomplete download in the Hugging Face cache?). Download the model again.`);
    }
    throw fsProblem(err, `${name} in ${m.folder}`);
  }
  if (!inside(m.root, real)) {
    throw new EngineError('bad-checkpoint', `${name} in ${m.folder} is a link to a file outside the model folder; Attention Inspector reads only files inside it.`);
  }
  let stat: fs.Stats;
  try {
    stat = fs.statSync(real);
  } catch (err) {
    throw fsProblem(err, `${name} in ${m.folder}`);
  }
  if (stat.isDirectory()) throw new EngineError('bad-checkpoint', `${name} in ${m.folder} is a folder, not a file.`);
  if (!stat.isFile()) throw new EngineError('bad-checkpoint', `${name} in ${m.folder} is not a regular file (a pipe or a device?); Attention Inspector reads only regular files.`);
  return { real, size: stat.size };
}

/**
 * Opens a regular file for reading without ever blocking: O_NONBLOCK keeps a FIFO swapped in after
 * the check from stalling the open, and the descriptor is checked again.
 */
export function openRegularFile(file: string, label: string): { fd: number; size: number } {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0));
  } catch (err) {
    throw fsProblem(err, label);
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new EngineError('bad-checkpoint', `${label} is not a regular file; Attention Inspector reads only regular files.`);
    return { fd, size: stat.size };
  } catch (err) {
    fs.closeSync(fd);
    throw err instanceof EngineError ? err : fsProblem(err, label);
  }
}

/** Reads a whole regular file of at most `maxBytes`. */
export function readCapped(file: string, label: string, maxBytes: number): Buffer {
  const { fd, size } = openRegularFile(file, label);
  try {
    if (size > maxBytes) {
      throw new EngineError('bad-checkpoint', `${label} is ${formatBytes(size)}, more than such a file can plausibly be (at most ${formatBytes(maxBytes)}).`);
    }
    const buf = Buffer.allocUnsafe(size);
    let done = 0;
    while (done < size) {
      const n = fs.readSync(fd, buf, done, size - done, done);
      if (n === 0) break;
      done += n;
    }
    return buf.subarray(0, done);
  } catch (err) {
    throw err instanceof EngineError ? err : fsProblem(err, label);
  } finally {
    fs.closeSync(fd);
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses a JSON file of the model. The parser's message would quote the text near the error (how a
 * config.json linked to /etc/passwd once showed its first line); ours gives only the position.
 */
export function parseJsonFile(bytes: Uint8Array, label: string): unknown {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    throw new EngineError('bad-checkpoint', `${label} is not UTF-8 text: the file is damaged or not what its name says. Download it again.`);
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    const at = /position (\d+)/.exec((err as Error).message);
    const where = at ? ` (at character ${at[1]})` : text.trim().length === 0 ? ' (the file is empty)' : '';
    throw new EngineError('bad-checkpoint', `${label} is not valid JSON${where}: the file is damaged or incomplete. Download it again.`);
  }
}

/** Reads and parses a JSON file of the model that must hold an object. */
export function readJsonObject(m: ModelFolder, name: keyof typeof MAX_JSON_BYTES): Record<string, unknown> | undefined {
  const file = resolveModelFile(m, name);
  if (!file) return undefined;
  const label = `${name} in ${m.folder}`;
  const value = parseJsonFile(readCapped(file.real, label, MAX_JSON_BYTES[name]), label);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new EngineError('bad-checkpoint', `${label} must hold a JSON object, but it holds ${value === null ? 'null' : Array.isArray(value) ? 'an array' : `a ${typeof value}`}.`);
  }
  return value as Record<string, unknown>;
}

export function formatBytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} bytes`;
}

/** A value from a model file, quoted only when it is a plain identifier (never arbitrary content). */
export function quoted(value: unknown): string {
  return typeof value === 'string' && /^[\w.\-/@+]{1,100}$/.test(value) ? `"${value}"` : 'a value that is not a plain name';
}

/**
 * A config value for a message: numbers, booleans and short structures of plain names as JSON,
 * anything else described rather than quoted (a planted secret must not come back in a message).
 */
export function shownValue(value: unknown): string {
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'string') return quoted(value);
  const json = JSON.stringify(value);
  return json !== undefined && json.length <= 80 && /^[\w\s.,:{}\[\]"+-]*$/.test(json) ? json : `a ${Array.isArray(value) ? 'list' : typeof value} that is not shown`;
}
