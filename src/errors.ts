/**
 * Errors Codecell reports to callers. Each has a stable `code`, a message that states what happened
 * in terms every caller shares, and `fields` with the facts. What to do next depends on who asks
 * (an MCP tool, a REST route, a CLI command), so the interfaces word that at one edge each, from the
 * code and the fields. A user program that fails is NOT an error here: it is a result.
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
  | 'DATA_DIR_IN_USE'
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
  DATA_DIR_IN_USE: 503,
  INTERNAL: 500,
};

/** Why a session is not found: `unknown` is also what someone else's session looks like. */
export type SessionGone = 'unknown' | 'expired';

/** The facts an error is about, for the interfaces to word advice from. */
export interface ErrorFields {
  /** The session id as the caller gave it (SESSION_NOT_FOUND). */
  readonly sessionId?: string;
  readonly sessionGone?: SessionGone;
  /** The server's session maximum (SESSION_LIMIT). */
  readonly maxSessions?: number;
  /** The caller's own session maximum, when that is the limit reached (SESSION_LIMIT). */
  readonly maxSessionsPerPrincipal?: number;
  readonly maxSessionsPerKey?: number;
  /** The data dir another engine owns, with that owner (DATA_DIR_IN_USE). */
  readonly dataDir?: string;
  readonly ownerPid?: number;
  readonly ownerHost?: string;
  /** The owner runs on another host or in another container, so its liveness cannot be checked. */
  readonly ownerElsewhere?: boolean;
  /** The owner record, to remove by hand once that owner is known to be gone (DATA_DIR_IN_USE). */
  readonly ownerRecordFile?: string;
}

export class CodecellError extends Error {
  override readonly name: string = 'CodecellError';
  constructor(
    readonly code: CodecellErrorCode,
    message: string,
    /** Seconds after which a retry may succeed (QUEUE_FULL). */
    readonly retryAfterSeconds?: number,
    readonly fields: ErrorFields = {},
  ) {
    super(message);
  }
}

/** SESSION_NOT_FOUND for a session the caller named: missing, closed, expired, or someone else's. */
export function sessionNotFound(sessionId: string, gone: SessionGone, detail: string): CodecellError {
  return new CodecellError('SESSION_NOT_FOUND', detail, undefined, { sessionId, sessionGone: gone });
}

/** SESSION_LIMIT: the server holds as many sessions as it may. */
export function sessionLimitReached(maxSessions: number): CodecellError {
  return new CodecellError(
    'SESSION_LIMIT',
    `the server holds its maximum of ${maxSessions} sessions (MAX_SESSIONS)`,
    undefined,
    { maxSessions },
  );
}

/** SESSION_LIMIT: the caller holds as many sessions as one principal may; others are unaffected. */
export function keySessionLimitReached(maxSessionsPerKey: number): CodecellError {
  return new CodecellError(
    'SESSION_LIMIT',
    `the users of your API key hold their maximum of ${maxSessionsPerKey} sessions (MAX_SESSIONS_PER_KEY)`,
    undefined,
    { maxSessionsPerKey },
  );
}

export function principalSessionLimitReached(maxSessionsPerPrincipal: number): CodecellError {
  return new CodecellError(
    'SESSION_LIMIT',
    `you hold your maximum of ${maxSessionsPerPrincipal} sessions (MAX_SESSIONS_PER_USER)`,
    undefined,
    { maxSessionsPerPrincipal },
  );
}

export function isCodecellError(error: unknown): error is CodecellError {
  return error instanceof CodecellError;
}
