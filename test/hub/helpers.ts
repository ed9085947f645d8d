/** Shared helpers for the model-source tests. */
import { strict as assert } from 'node:assert';
import { createHash } from 'node:crypto';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ResolveOptions } from '../../src/hub';
import { ModelSourceError, type ModelSourceErrorCode } from '../../src/hub';

export function makeTempDir(label: string): string {
  return mkdtempSync(join(tmpdir(), `ai-hub-${label}-`));
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Options for resolveModel against the fake hub, with retries short enough for tests. */
export function hubOptions(hubUrl: string, cacheDir: string, extra: Partial<ResolveOptions> = {}): ResolveOptions {
  return {
    builtinFolder: '/nonexistent/builtin',
    hubUrl,
    cacheDir,
    env: {}, // never the developer's HF_* variables
    ...extra,
    tuning: { retryDelayMs: 10, stallTimeoutMs: 2_000, maxAttempts: 3, ...extra.tuning },
  };
}

/** Awaits a rejection with a ModelSourceError of `code` and returns it for more checks. */
export async function rejectsWith(promise: Promise<unknown>, code: ModelSourceErrorCode): Promise<ModelSourceError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ModelSourceError, `expected a ModelSourceError, got ${String(error)}`);
    assert.equal(error.code, code, `expected code ${code}, got ${error.code}: ${error.message}`);
    return error;
  }
  assert.fail(`expected a rejection with code ${code}`);
}

export function sha256Hex(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Every path below `dir` (relative, sorted), not following symlinks. */
export function listTree(dir: string, prefix = ''): string[] {
  let out: string[] = [];
  let names: string[];
  try {
    names = readdirSync(join(dir, prefix));
  } catch {
    return [];
  }
  for (const name of names.sort()) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const info = lstatSync(join(dir, rel));
    out.push(rel);
    if (info.isDirectory()) out = out.concat(listTree(dir, rel));
  }
  return out;
}

export function readLink(path: string): string {
  return readlinkSync(path);
}

export function readBytes(path: string): Buffer {
  return readFileSync(path);
}
