/**
 * Finding a Hugging Face access token the way `huggingface_hub` does: the environment first, then
 * the token file written by `huggingface-cli login` / `hf auth login`. Tokens are never logged;
 * callers should only ever show `source`.
 */
import { readFile } from 'node:fs/promises';
import { type Env, tokenFilePath } from './environment';

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

/** A token shown in a UI: `hf_abc…xyz` (never enough to use it). */
export function maskToken(token: string): string {
  return token.length <= 10 ? '•'.repeat(token.length) : `${token.slice(0, 5)}…${token.slice(-3)}`;
}
