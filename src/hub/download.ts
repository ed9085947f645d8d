/**
 * Downloading one file of a repo into blobs/<etag> so that the cache never holds a broken file:
 * bytes go to a temporary file beside the blob, an interrupted transfer resumes with an HTTP Range
 * request, the size and hash are checked against the Hub's metadata (sha256 for LFS files, the git
 * blob sha1 for the others) and only then is the file renamed into place. A cross-process lock per
 * blob keeps two windows from writing the same temporary file.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ModelSourceError, cancelledError, describeCause } from './errors';
import { errorFromResponse, type HubRequestContext } from './http';
import { acquireLock } from './lock';
import { blobPath, hasBlob } from './cacheLayout';

export interface RemoteFile {
  /** Path in the repo (for messages and the snapshot link). */
  path: string;
  /** Blob name: the LFS sha256, or the git blob sha1 for files kept in git. */
  etag: string;
  size: number;
  /** How `etag` was computed from the content. */
  hashKind: 'sha256' | 'git-sha1';
  url: string;
}

export interface DownloadTuning {
  /** Consecutive failed attempts (without any byte received) before giving up. */
  maxAttempts: number;
  /** First retry delay; doubles each time. */
  retryDelayMs: number;
  /** A transfer that receives nothing for this long is treated as a dropped connection. */
  stallTimeoutMs: number;
  /** Lock file timing (see lock.ts). */
  lockStaleMs: number;
  lockHeartbeatMs: number;
}

export const DEFAULT_TUNING: DownloadTuning = {
  maxAttempts: 5,
  retryDelayMs: 500,
  stallTimeoutMs: 60_000,
  lockStaleMs: 30_000,
  lockHeartbeatMs: 2_000,
};

export interface BlobDownloadContext {
  repoDir: string;
  locksDir: string;
  /** The hub fetch (auth, mapped errors) letting 206, 416 and 5xx through for retry decisions. */
  fetch: typeof fetch;
  signal?: AbortSignal;
  request: (action: string) => HubRequestContext;
  /** Bytes of this file present so far (absolute, may go back to 0 when a transfer restarts). */
  onFileBytes: (file: RemoteFile, bytes: number) => void;
  tuning: DownloadTuning;
}

/** Suffix of our temporary files: distinct from Python's `.incomplete`, which it resumes on its own. */
export const TEMP_SUFFIX = '.attention-inspector.incomplete';

/** A transfer failure worth retrying (with Range from where it stopped). */
class RetryableError extends Error {
  constructor(message: string, cause: unknown) {
    super(message, { cause });
  }
}

function newHash(file: RemoteFile): Hash {
  if (file.hashKind === 'sha256') return createHash('sha256');
  // A git blob id is sha1("blob <size>\0" + content).
  return createHash('sha1').update(`blob ${file.size}\0`);
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}

async function hashExisting(path: string, hash: Hash, signal?: AbortSignal): Promise<void> {
  for await (const chunk of createReadStream(path, { signal })) hash.update(chunk as Buffer);
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(cancelledError());
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(cancelledError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Parses `bytes start-end/total` and returns start, or undefined. */
function contentRangeStart(header: string | null): number | undefined {
  const match = /^bytes (\d+)-\d+\/(?:\d+|\*)$/.exec(header?.trim() ?? '');
  return match ? Number(match[1]) : undefined;
}

/**
 * Makes sure blobs/<etag> holds the verified content of `file` and returns its path. Safe to call
 * from several processes at once. On cancel the temporary file is removed; on a network failure it
 * is kept so that the next call resumes it; on a hash mismatch it is removed and `integrity` thrown.
 */
export async function ensureBlob(file: RemoteFile, ctx: BlobDownloadContext): Promise<string> {
  const finalPath = blobPath(ctx.repoDir, file.etag);
  if (await hasBlob(finalPath, file.size)) return finalPath;
  const tempPath = finalPath + TEMP_SUFFIX;

  const lock = await acquireLock(join(ctx.locksDir, `${file.etag}.attention-inspector.lock`), {
    signal: ctx.signal,
    staleMs: ctx.tuning.lockStaleMs,
    heartbeatMs: ctx.tuning.lockHeartbeatMs,
    // Another window is downloading this blob: show its progress from the size of its temp file.
    onWait: async () => ctx.onFileBytes(file, Math.min(await sizeOf(tempPath), file.size)),
  });
  try {
    // The other holder may have finished it while we waited.
    if (await hasBlob(finalPath, file.size)) return finalPath;
    await mkdir(dirname(finalPath), { recursive: true });
    await downloadVerified(file, tempPath, ctx);
    await rename(tempPath, finalPath);
    return finalPath;
  } catch (error) {
    if (error instanceof ModelSourceError && (error.code === 'cancelled' || error.code === 'integrity')) {
      await unlink(tempPath).catch(() => undefined);
    }
    throw error;
  } finally {
    await lock.release();
  }
}

/** Bytes in the temp file so far and the hash of exactly those bytes. */
interface TransferState {
  offset: number;
  hash: Hash;
}

async function downloadVerified(file: RemoteFile, tempPath: string, ctx: BlobDownloadContext): Promise<void> {
  const state: TransferState = { offset: await sizeOf(tempPath), hash: newHash(file) };
  if (state.offset > file.size) {
    await truncate(tempPath, 0);
    state.offset = 0;
  }
  if (state.offset > 0) {
    try {
      await hashExisting(tempPath, state.hash, ctx.signal);
    } catch (error) {
      if (ctx.signal?.aborted) throw cancelledError();
      throw error;
    }
  }
  // An empty file needs no request; its hash is still checked below.
  if (file.size === 0) await writeFile(tempPath, '');
  ctx.onFileBytes(file, state.offset);

  let failures = 0;
  while (state.offset < file.size) {
    if (ctx.signal?.aborted) throw cancelledError();
    const before = state.offset;
    try {
      await transfer(file, tempPath, state, ctx);
      if (state.offset <= before) throw new RetryableError('the server sent no data', undefined);
    } catch (error) {
      if (!(error instanceof RetryableError)) throw error;
      // Count only failures in a row that made no progress: long downloads over a flaky line go on.
      failures = state.offset > before ? 1 : failures + 1;
      if (failures >= ctx.tuning.maxAttempts) {
        const kept = state.offset > 0
          ? ` The ${formatMiB(state.offset)} already received are kept and the download resumes from there next time.`
          : '';
        // The Hub kept answering 5xx: report its answer; otherwise the connection is the problem.
        if (error.cause instanceof ModelSourceError) {
          throw new ModelSourceError(error.cause.code, `${error.cause.message} Tried ${failures} times.${kept}`);
        }
        throw new ModelSourceError(
          'network',
          `Downloading ${file.path} failed: ${error.message} (${failures} attempts).${kept} Check your connection and try again.`,
          { cause: error.cause },
        );
      }
      await delay(ctx.tuning.retryDelayMs * 2 ** Math.min(failures - 1, 5), ctx.signal);
    }
  }

  const digest = state.hash.digest('hex');
  const finalSize = await sizeOf(tempPath);
  if (finalSize !== file.size || digest !== file.etag) {
    throw new ModelSourceError(
      'integrity',
      `The download of ${file.path} is corrupt: expected ${file.size} bytes with ${file.hashKind} ${file.etag}, ` +
        `got ${finalSize} bytes with ${file.hashKind} ${digest}. Nothing was saved; try again ` +
        `(a proxy or antivirus that rewrites downloads can cause this).`,
    );
  }
}

function formatMiB(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MiB`;
}

/**
 * One HTTP request: appends what arrives to the temp file from `state.offset`, feeding `state.hash`
 * (both restart from 0 when the server ignores the range). Every chunk is written before it is
 * hashed, so `state` always describes the file's content, also after a failure.
 * Throws RetryableError for dropped connections, stalls and 5xx answers.
 */
async function transfer(file: RemoteFile, tempPath: string, state: TransferState, ctx: BlobDownloadContext): Promise<void> {
  const offset = state.offset;
  const stall = new AbortController();
  const signal = ctx.signal ? AbortSignal.any([ctx.signal, stall.signal]) : stall.signal;
  let stallTimer: NodeJS.Timeout | undefined;
  const armStallTimer = (): void => {
    clearTimeout(stallTimer);
    stallTimer = setTimeout(() => stall.abort(), ctx.tuning.stallTimeoutMs);
  };
  const requestContext = ctx.request(`downloading ${file.path}`);
  const failure = (error: unknown): Error => {
    if (ctx.signal?.aborted) return cancelledError();
    if (stall.signal.aborted) return new RetryableError(`no data arrived for ${Math.round(ctx.tuning.stallTimeoutMs / 1000)} s`, error);
    if (error instanceof ModelSourceError && error.code !== 'network') return error;
    return new RetryableError(`the connection broke (${describeCause(error)})`, error);
  };

  armStallTimer();
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    let response: Response;
    try {
      response = await ctx.fetch(file.url, {
        headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
        signal,
      });
    } catch (error) {
      throw failure(error);
    }

    if (response.status >= 500) {
      await response.body?.cancel().catch(() => undefined);
      const mapped = errorFromResponse(response, requestContext);
      throw new RetryableError(mapped.message, mapped);
    }
    if (response.status === 416) {
      // Our temp file is longer than what the server has, or exactly complete: restart cleanly.
      await response.body?.cancel().catch(() => undefined);
      await truncate(tempPath, 0).catch(() => undefined);
      state.offset = 0;
      state.hash = newHash(file);
      return;
    }
    if (response.status !== 200 && response.status !== 206) {
      await response.body?.cancel().catch(() => undefined);
      throw errorFromResponse(response, requestContext);
    }

    if (response.status === 200 || contentRangeStart(response.headers.get('content-range')) !== offset) {
      // The server ignored the range (or answered another one): start over from byte 0.
      state.offset = 0;
      state.hash = newHash(file);
    }
    handle = await open(tempPath, state.offset === 0 ? 'w' : 'a');
    ctx.onFileBytes(file, state.offset);
    if (!response.body) return;
    try {
      for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
        armStallTimer();
        if (state.offset + chunk.byteLength > file.size) {
          throw new ModelSourceError(
            'integrity',
            `The download of ${file.path} is corrupt: the server sent more than the ${file.size} bytes the Hub listed. Nothing was saved; try again.`,
          );
        }
        await handle.write(chunk);
        state.hash.update(chunk);
        state.offset += chunk.byteLength;
        ctx.onFileBytes(file, state.offset);
      }
    } catch (error) {
      if (error instanceof ModelSourceError) throw error;
      if ((error as NodeJS.ErrnoException).code === 'ENOSPC' || (error as NodeJS.ErrnoException).code === 'EACCES') {
        throw new ModelSourceError('cache-io', `Cannot write ${file.path} into the Hugging Face cache: ${describeCause(error)}.`, { cause: error });
      }
      // Keep what was written: the retry resumes from the file's size.
      await handle.sync().catch(() => undefined);
      throw failure(error);
    }
    if (state.offset < file.size) {
      throw new RetryableError(`the server closed the connection after ${state.offset} of ${file.size} bytes`, undefined);
    }
  } finally {
    clearTimeout(stallTimer);
    await handle?.close().catch(() => undefined);
  }
}
