/**
 * Errors of the model-source layer. Every failure the user can act on is a `ModelSourceError` with a
 * stable `code` (for the host to pick an action, e.g. "Set Token") and a message that says what to do.
 * Messages never contain a token.
 */

export type ModelSourceErrorCode =
  /** The model spec is neither a hub id, a path nor the built-in model. */
  | 'invalid-spec'
  /** A local folder does not exist or is not a directory. */
  | 'folder-not-found'
  /** The folder or repo has no config.json. */
  | 'no-config'
  /** Only pickle weights (pytorch_model.bin, .pt, .ckpt): never loaded. */
  | 'pickle-only'
  /** No weights the engine can read at all. */
  | 'no-safetensors'
  /** A shard listed in model.safetensors.index.json is missing, or the index is malformed. */
  | 'incomplete-weights'
  /** No tokenizer.json (the engine tokenizes with the fast-tokenizer file only). */
  | 'no-tokenizer'
  /** The repo does not exist (or is private and no token was sent). */
  | 'repo-not-found'
  /** The branch, tag or commit does not exist in the repo. */
  | 'revision-not-found'
  /** 401/403: gated or private, no token or a token without access. */
  | 'unauthorized'
  /** The token itself was rejected (invalid or expired). */
  | 'invalid-token'
  /** Offline (setting, HF_HUB_OFFLINE or the option) and the model is not fully in the cache. */
  | 'offline-not-cached'
  /** Could not reach the Hub, or the connection broke and could not be resumed. */
  | 'network'
  /** The Hub answered with an error (5xx, 429, unexpected response). */
  | 'server'
  /** A downloaded file's size or hash did not match the Hub's metadata. */
  | 'integrity'
  /** Cancelled through the AbortSignal. */
  | 'cancelled'
  /** The user declined the download (confirmDownload returned false). */
  | 'declined'
  /** Reading or writing the cache failed (permissions, disk full...). */
  | 'cache-io';

export class ModelSourceError extends Error {
  override readonly name = 'ModelSourceError';
  constructor(
    readonly code: ModelSourceErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export function isModelSourceError(error: unknown, code?: ModelSourceErrorCode): error is ModelSourceError {
  return error instanceof ModelSourceError && (code === undefined || error.code === code);
}

/** True for the error an aborted fetch or stream throws (DOMException AbortError or our own). */
export function isAbortError(error: unknown): boolean {
  if (isModelSourceError(error, 'cancelled')) return true;
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}

export function cancelledError(): ModelSourceError {
  return new ModelSourceError('cancelled', 'Model download cancelled.');
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError();
}

const NETWORK_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  ETIMEDOUT: 'timed out',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed by the other side',
  UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
  UND_ERR_BODY_TIMEOUT: 'the transfer stalled',
};

/**
 * Short description of a low-level error for messages: `ECONNREFUSED: connection refused`, a TLS
 * problem named as such (often a proxy intercepting HTTPS), or the error's own message.
 */
export function describeCause(error: unknown): string {
  if (typeof error !== 'object' || error === null) return String(error);
  // fetch wraps socket errors: TypeError('fetch failed', { cause: Error{ code: 'ECONNREFUSED' } }).
  const outer = error as { code?: unknown; message?: unknown; cause?: unknown };
  const inner = (typeof outer.cause === 'object' && outer.cause !== null ? outer.cause : undefined) as typeof outer | undefined;
  const code = typeof inner?.code === 'string' ? inner.code : typeof outer.code === 'string' ? outer.code : undefined;
  if (code && NETWORK_CODES[code]) return `${code}: ${NETWORK_CODES[code]}`;
  if (code && /CERT|SSL|TLS/i.test(code)) return `${code}: TLS certificate problem (a proxy may be intercepting HTTPS)`;
  if (code) return code;
  if (typeof inner?.message === 'string') return inner.message;
  return typeof outer.message === 'string' ? outer.message : String(error);
}
