import type { EngineErrorCode, EngineErrorInfo } from '../protocol/types';

/** An error the user can act on; `code` lets the host offer the right action. */
export class EngineError extends Error {
  constructor(
    readonly code: EngineErrorCode,
    message: string,
    readonly details: { limit?: number; length?: number } = {},
  ) {
    super(message);
    this.name = 'EngineError';
  }

  toInfo(): EngineErrorInfo {
    return { code: this.code, message: this.message, ...this.details };
  }
}

export function toErrorInfo(err: unknown): EngineErrorInfo {
  if (err instanceof EngineError) return err.toInfo();
  const message = err instanceof Error ? err.message : String(err);
  return { code: 'internal', message };
}
