/**
 * The Hugging Face cache layout, as `huggingface_hub` (Python) writes it, so that models downloaded
 * by either are used by the other:
 *
 *   <cache>/models--<owner>--<name>/
 *     blobs/<etag>                      file contents, named by LFS sha256 or git blob sha1
 *     snapshots/<commit>/<file>         relative symlinks to ../../blobs/<etag>
 *     refs/<revision>                   text file holding the commit a branch or tag pointed to
 *     .no_exist/<commit>/<file>         empty marker: the file does not exist in that commit
 *   <cache>/.locks/models--<owner>--<name>/   lock files
 */
import { randomBytes } from 'node:crypto';
import { copyFile, lstat, mkdir, readFile, readlink, rename, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';

export const COMMIT_HASH = /^[0-9a-f]{40}$/;
/** Blob names: git sha1 (40 hex) or sha256 (64 hex). Anything else from a server is refused. */
export const BLOB_NAME = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** `models--owner--name`, as Python names it. */
export function repoFolderName(id: string): string {
  return ['models', ...id.split('/')].join('--');
}

export function repoDir(cacheDir: string, id: string): string {
  return join(cacheDir, repoFolderName(id));
}

export function locksDir(cacheDir: string, id: string): string {
  return join(cacheDir, '.locks', repoFolderName(id));
}

export function snapshotDir(repo: string, commit: string): string {
  return join(repo, 'snapshots', commit);
}

export function blobPath(repo: string, etag: string): string {
  return join(repo, 'blobs', etag);
}

function refPath(repo: string, revision: string): string {
  return join(repo, 'refs', ...revision.split('/'));
}

function noExistPath(repo: string, commit: string, file: string): string {
  return join(repo, '.no_exist', commit, file);
}

function tempName(path: string): string {
  return join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
}

/** Writes a file so that readers see the old or the new content, never a partial one. */
export async function writeFileAtomic(path: string, content: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temp = tempName(path);
  try {
    await writeFile(temp, content);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** The commit a branch or tag pointed to when it was last resolved, from refs/<revision>. */
export async function readRef(repo: string, revision: string): Promise<string | undefined> {
  try {
    const commit = (await readFile(refPath(repo, revision), 'utf8')).trim();
    return COMMIT_HASH.test(commit) ? commit : undefined;
  } catch {
    return undefined;
  }
}

export async function writeRef(repo: string, revision: string, commit: string): Promise<void> {
  await writeFileAtomic(refPath(repo, revision), commit);
}

/** Records that `file` does not exist in `commit` (Python's `.no_exist` marker). */
export async function markMissing(repo: string, commit: string, file: string): Promise<void> {
  const path = noExistPath(repo, commit, file);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, '', { flag: 'a' });
}

export async function isMarkedMissing(repo: string, commit: string, file: string): Promise<boolean> {
  try {
    await lstat(noExistPath(repo, commit, file));
    return true;
  } catch {
    return false;
  }
}

/** True when blobs/<etag> is a complete regular file of the expected size. */
export async function hasBlob(path: string, size: number): Promise<boolean> {
  try {
    const info = await lstat(path);
    return info.isFile() && info.size === size;
  } catch {
    return false;
  }
}

/**
 * Points snapshots/<commit>/<file> at the blob with a relative symlink (the cache stays valid when
 * moved), replacing any existing entry atomically. Where symlinks are not allowed (Windows without
 * developer mode) the blob is copied instead, as Python does.
 */
export async function linkIntoSnapshot(snapshot: string, file: string, blob: string): Promise<void> {
  const target = join(snapshot, file);
  const linkText = relative(dirname(target), blob);
  try {
    if ((await readlink(target)) === linkText) return;
  } catch {
    // absent, or a plain file (copied blob): (re)create below
  }
  await mkdir(dirname(target), { recursive: true });
  const temp = tempName(target);
  try {
    try {
      await symlink(linkText, temp);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'EPERM' && code !== 'EACCES' && code !== 'ENOTSUP' && code !== 'EINVAL') throw error;
      await copyFile(blob, temp);
    }
    await rename(temp, target);
  } catch (error) {
    await unlink(temp).catch(() => undefined);
    throw error;
  }
}

/** True when `path` resolves (through symlinks) to a regular file. */
export async function fileExists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/** Absolute, normalized path (no trailing separator). */
export function absolute(path: string, base?: string): string {
  return base ? resolve(base, path) : resolve(path);
}
