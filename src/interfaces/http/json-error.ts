/**
 * The one way REST routes answer a failure: `{error: CODE, message}` with the status errors.ts gives
 * the code, the message ending with what to do next in REST terms (routes). A route family may shape
 * some answers its own way (`answerFor`, e.g. LibreChat's 429).
 */
import type { Request, Response } from 'express';
import { HTTP_STATUS, isCodecellError, type CodecellError, type CodecellErrorCode } from '../../errors.js';
import type { Logger } from '../../logger.js';

export interface ErrorAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

export interface JsonErrorOptions {
  /** Named in the log line of an unexpected failure. */
  readonly what: string;
  readonly statusOverrides?: Partial<Record<CodecellErrorCode, number>>;
  /** The routes take the word "default" in place of a session id (the /v1/sessions routes do). */
  readonly defaultSessionWord?: boolean;
  /** A different answer for some known errors; undefined keeps the standard one. */
  readonly answerFor?: (error: CodecellError) => ErrorAnswer | undefined;
}

export function sendJsonError(
  req: Request,
  res: Response,
  error: unknown,
  logger: Logger | undefined,
  options: JsonErrorOptions,
): void {
  if (res.headersSent) {
    res.destroy(); // mid-download: the client sees a cut transfer, which is the truth
    return;
  }
  // Whatever of the body was not read is dropped: answer, then close the connection.
  if (!req.complete) {
    res.setHeader('Connection', 'close');
    req.resume();
  }
  if (isCodecellError(error)) {
    if (error.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(error.retryAfterSeconds));
    const special = options.answerFor?.(error);
    if (special) {
      res.status(special.status).json(special.body);
      return;
    }
    const status = options.statusOverrides?.[error.code] ?? HTTP_STATUS[error.code];
    const advice = routeAdvice(error, options.defaultSessionWord === true);
    res.status(status).json({ error: error.code, message: advice === undefined ? error.message : `${error.message}. ${advice}` });
    return;
  }
  logger?.error({ err: error }, `${options.what} failed unexpectedly`);
  res.status(500).json({ error: 'INTERNAL', message: 'the server failed to handle this request' });
}

/**
 * What a REST caller can do about an error, naming the routes; undefined when nothing specific.
 * `defaultSessionWord`: the failing route takes "default" for a session id, so that may be advised.
 */
export function routeAdvice(error: CodecellError, defaultSessionWord = false): string | undefined {
  if (error.code === 'SESSION_NOT_FOUND' && error.fields.sessionGone !== undefined) {
    return defaultSessionWord
      ? 'Put the word "default" in place of the session id (e.g. GET /v1/sessions/default/files) to use your default session.'
      : 'A new session starts with your next upload (POST /v1/upload) or run (POST /v1/exec) without a session id.';
  }
  if (error.code === 'SESSION_LIMIT') return 'Idle sessions expire: retry later.';
  return undefined;
}
