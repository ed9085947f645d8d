/**
 * A lock file that two VS Code windows (two extension-host processes) can both see, so that only
 * one of them downloads a given blob at a time. Node has no flock(), so the lock is a file created
 * with O_EXCL; its holder touches it every few seconds, and a lock whose holder died (same host, pid
 * gone) or that has not been touched for `staleMs` is taken over. The downloaded bytes are verified
 * against the Hub's hash before they are renamed into place, so even a lock mistakenly taken over
 * can never put a corrupt blob in the cache.
 */
import { hostname } from 'node:os';
import { link, mkdir, open, readFile, rename, stat, unlink, utimes } from 'node:fs/promises';
import { dirname } from 'node:path';
import { randomBytes } from 'node:crypto';
import { throwIfAborted } from './errors';

export interface LockOptions {
  /** Called while waiting for another holder (for progress reporting). */
  onWait?: () => void | Promise<void>;
  signal?: AbortSignal;
  /** How often the holder refreshes the lock's mtime. */
  heartbeatMs?: number;
  /** A lock untouched for this long is considered abandoned. */
  staleMs?: number;
  /** Polling interval while waiting. */
  pollMs?: number;
}

export interface HeldLock {
  release(): Promise<void>;
}

interface LockOwner {
  pid: number;
  host: string;
  nonce: string;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function readOwner(path: string): Promise<LockOwner | undefined> {
  try {
    const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid === 'number' && typeof parsed.host === 'string' && typeof parsed.nonce === 'string') {
      return parsed as LockOwner;
    }
  } catch {
    // Missing, or caught half-written: treat as unknown owner.
  }
  return undefined;
}

/**
 * The lock's identity when it is abandoned (its holder died on this host, or it has not been
 * touched for `staleMs`), undefined while it is held or gone. The identity is the owner's nonce, or
 * the mtime for a lock whose content cannot be read.
 */
async function staleIdentity(path: string, staleMs: number): Promise<string | undefined> {
  let mtimeMs: number;
  try {
    mtimeMs = (await stat(path)).mtimeMs;
  } catch {
    return undefined; // gone: not stale, just free
  }
  const owner = await readOwner(path);
  const identity = owner?.nonce ?? `mtime:${mtimeMs}`;
  if (owner && owner.host === hostname() && !processIsAlive(owner.pid)) return identity;
  // An owner that cannot be read yet is a lock being created right now, unless it is old.
  return Date.now() - mtimeMs > staleMs ? identity : undefined;
}

async function identityOf(path: string): Promise<string | undefined> {
  const owner = await readOwner(path);
  if (owner) return owner.nonce;
  try {
    return `mtime:${(await stat(path)).mtimeMs}`;
  } catch {
    return undefined;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/** Waits until the lock at `path` is ours. Rejects with `cancelled` when `signal` aborts. */
export async function acquireLock(path: string, options: LockOptions = {}): Promise<HeldLock> {
  const heartbeatMs = options.heartbeatMs ?? 2_000;
  const staleMs = options.staleMs ?? 30_000;
  const pollMs = options.pollMs ?? 150;
  const owner: LockOwner = { pid: process.pid, host: hostname(), nonce: randomBytes(8).toString('hex') };
  await mkdir(dirname(path), { recursive: true });

  for (;;) {
    throwIfAborted(options.signal);
    try {
      const handle = await open(path, 'wx');
      try {
        await handle.writeFile(JSON.stringify(owner));
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const stale = await staleIdentity(path, staleMs);
    if (stale !== undefined) {
      // Take the abandoned lock over by moving it aside under a unique name. If another process
      // took it over in between and what we moved is its fresh lock, put that back (link fails
      // rather than overwrite when yet another lock appeared meanwhile).
      const aside = `${path}.stale-${owner.nonce}`;
      try {
        await rename(path, aside);
        if ((await identityOf(aside)) !== stale) await link(aside, path).catch(() => undefined);
        await unlink(aside);
      } catch {
        // It vanished or was taken over first: try again.
      }
      continue;
    }
    await options.onWait?.();
    await sleep(pollMs, options.signal);
  }

  const heartbeat = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch(() => undefined);
  }, heartbeatMs);
  heartbeat.unref();

  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      clearInterval(heartbeat);
      // Only delete the lock if it is still ours (it could have been judged stale and taken over).
      const current = await readOwner(path);
      if (current?.nonce === owner.nonce) await unlink(path).catch(() => undefined);
    },
  };
}
