/**
 * What models the Hugging Face cache holds, for the model picker. Written here rather than with
 * `@huggingface/hub`'s scanCacheDir because that rejects a whole repo when one ref points at a
 * deleted snapshot (common after manual clean-ups), skips nested refs such as `refs/pr/1`, and does
 * not say whether a snapshot is usable by the engine.
 */
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { COMMIT_HASH, repoFolderName } from './cacheLayout';
import { defaultCacheDir } from './environment';
import type { ModelSourceErrorCode } from './errors';
import { inspectModelFolder } from './modelFiles';

export interface CachedRevision {
  commit: string;
  /** Branches and tags that point at this commit (`main`, `v1.0`, `refs/pr/1`). */
  refs: string[];
  /** The snapshot folder (what resolveModel returns for it). */
  folder: string;
  /** True when the engine can load it (config, tokenizer and all safetensors weights present). */
  usable: boolean;
  /** Why it is not usable (the first problem), for the picker's detail line. */
  problem?: string;
  problemCode?: ModelSourceErrorCode;
}

export interface CachedModel {
  id: string;
  revisions: CachedRevision[];
  /** Bytes on disk of the repo's blobs (partial downloads included) and of files copied into snapshots. */
  sizeOnDisk: number;
  /** Most recent modification of any snapshot or blob (ms since epoch), for sorting. */
  lastModified: number;
}

async function listDir(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch {
    return [];
  }
}

/** Sizes and newest mtime of regular files below `path`, without following symlinks. */
async function diskUsage(path: string): Promise<{ bytes: number; newest: number }> {
  let bytes = 0;
  let newest = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const name of await listDir(dir)) {
      const child = join(dir, name);
      const info = await lstat(child).catch(() => undefined);
      if (!info) continue;
      if (info.isDirectory()) await walk(child);
      else if (info.isFile()) {
        bytes += info.size;
        newest = Math.max(newest, info.mtimeMs);
      }
    }
  };
  await walk(path);
  return { bytes, newest };
}

/** refs/ maps names (nested for `refs/pr/1`) to commits. */
async function readRefs(refsDir: string, prefix = ''): Promise<Map<string, string>> {
  const refs = new Map<string, string>();
  for (const name of await listDir(refsDir)) {
    const path = join(refsDir, name);
    const info = await stat(path).catch(() => undefined);
    if (info?.isDirectory()) {
      for (const [ref, commit] of await readRefs(path, `${prefix}${name}/`)) refs.set(ref, commit);
    } else if (info?.isFile()) {
      const commit = (await readFile(path, 'utf8').catch(() => '')).trim();
      if (COMMIT_HASH.test(commit)) refs.set(`${prefix}${name}`, commit);
    }
  }
  return refs;
}

/** Reads one `models--owner--name` folder; undefined when it has no snapshot. */
export async function scanCachedModel(cacheDir: string, id: string): Promise<CachedModel | undefined> {
  const repo = join(cacheDir, repoFolderName(id));
  const refs = await readRefs(join(repo, 'refs'));
  const revisions: CachedRevision[] = [];
  for (const commit of await listDir(join(repo, 'snapshots'))) {
    const folder = join(repo, 'snapshots', commit);
    if (!(await stat(folder).catch(() => undefined))?.isDirectory()) continue;
    const { problem } = await inspectModelFolder(folder);
    revisions.push({
      commit,
      refs: [...refs].filter(([, target]) => target === commit).map(([ref]) => ref).sort(),
      folder,
      usable: problem === undefined,
      problem: problem?.message,
      problemCode: problem?.code,
    });
  }
  if (revisions.length === 0) return undefined;
  // Revisions with refs (main first) before detached ones.
  revisions.sort((a, b) => Number(b.refs.includes('main')) - Number(a.refs.includes('main')) || b.refs.length - a.refs.length);
  // Blobs (partial downloads included) and files copied into snapshots where symlinks are not allowed.
  const blobs = await diskUsage(join(repo, 'blobs'));
  const copies = await diskUsage(join(repo, 'snapshots'));
  return { id, revisions, sizeOnDisk: blobs.bytes + copies.bytes, lastModified: Math.max(blobs.newest, copies.newest) };
}

/**
 * Models in the cache (default: the standard Hugging Face cache), most recently changed first.
 * Datasets and spaces are skipped; a missing cache folder is an empty list.
 */
export async function listCachedModels(cacheDir: string = defaultCacheDir()): Promise<CachedModel[]> {
  const models: CachedModel[] = [];
  for (const entry of await listDir(cacheDir)) {
    if (!entry.startsWith('models--')) continue;
    const id = entry.slice('models--'.length).split('--').join('/');
    const model = await scanCachedModel(cacheDir, id);
    if (model) models.push(model);
  }
  return models.sort((a, b) => b.lastModified - a.lastModified);
}
