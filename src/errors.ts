/**
 * Errors Codecell reports to callers. Each has a stable `code`; the interfaces (MCP, REST, CLI)
 * map them at one edge each. A user program that fails is NOT an error here: it is a result.
 */
export type CodecellErrorCode =
  | 'INVALID_INPUT'
  | 'SESSION_NOT_FOUND'
  | 'SESSION_LIMIT'
  | 'QUEUE_FULL'
  | 'RUNTIME_UNAVAILABLE'
  | 'FILE_NOT_FOUND'
  | 'FILE_TOO_LARGE'
  | 'QUOTA_EXCEEDED'
  | 'UNAUTHORIZED'
  | 'SHUTTING_DOWN'
  | 'INTERNAL';

/** HTTP status each code maps to on the REST surface. */
export const HTTP_STATUS: Record<CodecellErrorCode, number> = {
  INVALID_INPUT: 400,
  SESSION_NOT_FOUND: 404,
  SESSION_LIMIT: 429,
  QUEUE_FULL: 429,
  RUNTIME_UNAVAILABLE: 503,
  FILE_NOT_FOUND: 404,
  FILE_TOO_LARGE: 413,
  QUOTA_EXCEEDED: 413,
  UNAUTHORIZED: 401,
  SHUTTING_DOWN: 503,
  INTERNAL: 500,
};

export class CodecellError extends Error {
  override readonly name: string = 'CodecellError';
  constructor(
    readonly code: CodecellErrorCode,
    message: string,
    /** Seconds after which a retry may succeed (QUEUE_FULL). */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export function isCodecellError(error: unknown): error is CodecellError {
  return error instanceof CodecellError;
}
