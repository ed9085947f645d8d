/**
 * Where Hugging Face keeps things, read from the environment the way `huggingface_hub` (Python)
 * reads it, so that both find the same cache, token and endpoint.
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export type Env = Readonly<Record<string, string | undefined>>;

export const DEFAULT_HUB_URL = 'https://huggingface.co';

function nonEmpty(value: string | undefined): string | undefined {
  return value !== undefined && value.trim() !== '' ? value.trim() : undefined;
}

/** `~` and `~/x` expanded as Python's os.path.expanduser does for the current user. */
export function expandHome(path: string, home = homedir()): string {
  if (path === '~') return home;
  if (path.startsWith('~/') || path.startsWith('~\\')) return join(home, path.slice(2));
  return path;
}

/** `$HF_HOME`, else `$XDG_CACHE_HOME/huggingface`, else `~/.cache/huggingface`. */
export function huggingFaceHome(env: Env = process.env, home = homedir()): string {
  const hfHome = nonEmpty(env.HF_HOME);
  if (hfHome) return expandHome(hfHome, home);
  const xdg = nonEmpty(env.XDG_CACHE_HOME);
  return join(xdg ? expandHome(xdg, home) : join(home, '.cache'), 'huggingface');
}

/**
 * The hub cache: `$HF_HUB_CACHE`, else the legacy `$HUGGINGFACE_HUB_CACHE`, else
 * `huggingFaceHome()/hub` (so `~/.cache/huggingface/hub` by default).
 */
export function defaultCacheDir(env: Env = process.env, home = homedir()): string {
  const explicit = nonEmpty(env.HF_HUB_CACHE) ?? nonEmpty(env.HUGGINGFACE_HUB_CACHE);
  if (explicit) return expandHome(explicit, home);
  return join(huggingFaceHome(env, home), 'hub');
}

/** The token file `huggingface-cli login` writes: `$HF_TOKEN_PATH`, else `huggingFaceHome()/token`. */
export function tokenFilePath(env: Env = process.env, home = homedir()): string {
  const explicit = nonEmpty(env.HF_TOKEN_PATH);
  return explicit ? expandHome(explicit, home) : join(huggingFaceHome(env, home), 'token');
}

/** `$HF_ENDPOINT` (a mirror or a private hub) or https://huggingface.co, without a trailing slash. */
export function defaultHubUrl(env: Env = process.env): string {
  return normalizeHubUrl(nonEmpty(env.HF_ENDPOINT) ?? DEFAULT_HUB_URL);
}

export function normalizeHubUrl(url: string): string {
  return url.trim().replace(/\/+$/, '');
}

/** Python's truthy spellings for boolean environment variables. */
function isTrue(value: string | undefined): boolean {
  return value !== undefined && ['1', 'ON', 'YES', 'TRUE'].includes(value.trim().toUpperCase());
}

/** `HF_HUB_OFFLINE=1` (or transformers' `TRANSFORMERS_OFFLINE=1`) forbids all network access. */
export function offlineFromEnv(env: Env = process.env): boolean {
  return isTrue(env.HF_HUB_OFFLINE) || isTrue(env.TRANSFORMERS_OFFLINE);
}
