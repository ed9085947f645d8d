/**
 * Finding a Hugging Face access token the way `huggingface_hub` does: the environment first, then
 * the token file written by `huggingface-cli login` / `hf auth login`. Tokens are never logged;
 * callers should only ever show `source`.
 */
import { readFile } from 'node:fs/promises';
import { type Env, tokenFilePath } from './environment';
import { describeCause } from './errors';

export interface FoundToken {
  token: string;
  /** Where it came from, safe to show: `HF_TOKEN`, `HUGGING_FACE_HUB_TOKEN` or the file path. */
  source: string;
}

export async function findToken(env: Env = process.env, home?: string): Promise<FoundToken | undefined> {
  for (const name of ['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN'] as const) {
    const value = env[name]?.trim();
    if (value) return { token: value, source: name };
  }
  const file = tokenFilePath(env, home);
  try {
    const token = (await readFile(file, 'utf8')).trim();
    return token ? { token, source: file } : undefined;
  } catch {
    // No file (not logged in) or unreadable: no token, as in Python.
    return undefined;
  }
}

export type TokenCheck =
  | { status: 'valid'; account: string }
  /** The Hub answered 401: the token is wrong, revoked or expired. */
  | { status: 'rejected' }
  /** Could not ask (offline, proxy, server error): the token may still be fine. */
  | { status: 'unverified'; reason: string };

/**
 * Asks the Hub whose token this is (GET /api/whoami-v2), so a mistyped token is caught when it is
 * set rather than at the next gated download. Gives up after `timeoutMs`.
 */
export async function checkToken(token: string, hubUrl: string, timeoutMs = 10_000): Promise<TokenCheck> {
  try {
    const response = await fetch(`${hubUrl.replace(/\/+$/, '')}/api/whoami-v2`, {
      headers: { Authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status === 401) return { status: 'rejected' };
    if (!response.ok) return { status: 'unverified', reason: `the Hub answered HTTP ${response.status}` };
    const body = (await response.json()) as { name?: unknown };
    return { status: 'valid', account: typeof body.name === 'string' ? body.name : 'unknown account' };
  } catch (error) {
    const name = (error as { name?: string }).name;
    return { status: 'unverified', reason: name === 'TimeoutError' ? 'the Hub did not answer in time' : describeCause(error) };
  }
}
