/**
 * What the user typed as a model (setting `attentionInspector.model`, the picker's input box):
 * the built-in model, a local folder, or a Hugging Face model id with an optional `@revision`.
 */
import { ModelSourceError } from './errors';

export type ModelSpec =
  | { kind: 'builtin' }
  /** `path` as typed (may be relative or start with `~`); resolveModel makes it absolute. */
  | { kind: 'local'; path: string }
  /** `revision` is undefined when none was given (the Hub's default branch, `main`). */
  | { kind: 'hub'; id: string; revision: string | undefined };

/** Words that name the built-in model in the setting (empty means built-in too). */
const BUILTIN_NAMES = new Set(['builtin', 'built-in', '(built-in)']);

// The Hub's rules for names: letters, digits, '-', '_', '.'; no leading/trailing '-' or '.', no '--'
// or '..'; at most 96 characters. An owner is optional only for legacy ids such as `gpt2`.
const NAME_PART = /^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?$/;

/** True for a Hub repo id (`owner/name` or a legacy single-segment id). */
export function isValidHubId(id: string): boolean {
  const parts = id.split('/');
  if (parts.length < 1 || parts.length > 2) return false;
  return parts.every((part) => NAME_PART.test(part) && !part.includes('--') && !part.includes('..'));
}

/**
 * True for a revision that is safe to send and to use as a path below `refs/` (Python stores
 * `refs/pr/1` as nested folders there): a branch, a tag, `refs/pr/N`, or a commit hash.
 */
export function isValidRevision(revision: string): boolean {
  if (revision.length === 0 || revision.length > 255) return false;
  if (/[\s\\:~^?*[\]\u0000-\u001f]/.test(revision)) return false;
  return revision.split('/').every((segment) => segment !== '' && segment !== '.' && segment !== '..');
}

function looksLikePath(spec: string): boolean {
  return (
    spec.startsWith('/') ||
    spec.startsWith('./') ||
    spec.startsWith('../') ||
    spec === '.' ||
    spec === '..' ||
    spec === '~' ||
    spec.startsWith('~/') ||
    spec.includes('\\') ||
    /^[A-Za-z]:/.test(spec) || // Windows drive
    spec.startsWith('file://')
  );
}

/**
 * Parses a model spec. Paths must look like paths (absolute, `./`, `../`, `~/`, a drive letter or
 * a backslash) so that `owner/name` is never mistaken for a folder, as in the `transformers` CLI;
 * everything else must be a valid hub id. Throws `invalid-spec` with a message saying what is accepted.
 */
export function parseModelSpec(spec: string): ModelSpec {
  const trimmed = spec.trim();
  if (trimmed === '' || BUILTIN_NAMES.has(trimmed.toLowerCase())) return { kind: 'builtin' };
  if (looksLikePath(trimmed)) {
    const path = trimmed.startsWith('file://') ? decodeURIComponent(new URL(trimmed).pathname) : trimmed;
    return { kind: 'local', path };
  }
  // Model ids on the Hub are often pasted as URLs: accept https://huggingface.co/owner/name[/tree/rev].
  const fromUrl = /^https?:\/\/[^/]+\/([^/?#]+(?:\/[^/?#]+)?)(?:\/tree\/([^?#]+))?\/?(?:[?#].*)?$/.exec(trimmed);
  let id: string;
  let revision: string | undefined;
  if (fromUrl) {
    id = fromUrl[1];
    revision = fromUrl[2] !== undefined ? decodeURIComponent(fromUrl[2]) : undefined;
  } else {
    const at = trimmed.indexOf('@');
    id = at < 0 ? trimmed : trimmed.slice(0, at);
    revision = at < 0 ? undefined : trimmed.slice(at + 1);
  }
  if (!isValidHubId(id)) {
    throw new ModelSourceError(
      'invalid-spec',
      `"${trimmed}" is not a model the inspector can load. Use a Hugging Face model id such as ` +
        `"openai-community/gpt2" (optionally "@revision"), a folder path (absolute, or starting with ` +
        `"./", "../" or "~/"), or leave the setting empty for the built-in model.`,
    );
  }
  if (revision !== undefined && !isValidRevision(revision)) {
    throw new ModelSourceError(
      'invalid-spec',
      `"${revision}" is not a valid revision for ${id}: use a branch, a tag, refs/pr/N or a commit hash after "@".`,
    );
  }
  return { kind: 'hub', id, revision };
}

/** The spec string for a hub model (inverse of parseModelSpec for hub ids). */
export function formatHubSpec(id: string, revision: string | undefined): string {
  return revision === undefined ? id : `${id}@${revision}`;
}
