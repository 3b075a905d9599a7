/**
 * How the LibreChat Code API answers failures: `{error: CODE, message}` with the status errors.ts
 * gives the code (as the /v1 files routes do), except that "busy" is LibreChat's own shape,
 * 429 `{error: "rate_limited", retry_after_seconds}`, which LibreChat turns into "retry after N s".
 * A program that fails is not a failure here: /exec answers 200 with its stderr.
 */
import type { Request, Response } from 'express';
import { sendJsonError } from '../json-error.js';
import type { Logger } from '../../../logger.js';

/** When the server holds its maximum of sessions: idle ones expire, so a retry later may work. */
const SESSION_LIMIT_RETRY_SECONDS = 60;

/** What a Code API client can do about too many sessions, in this API's own terms. */
export const SESSION_LIMIT_ADVICE =
  'Every upload, and every /exec without a session it may reuse, makes a session, and idle sessions expire ' +
  '(CODECELL_SESSION_TTL_SECONDS). Retry later; runs that send the same runtime_session_hint (LibreChat\'s stateful mode) reuse one session.';

export function sendApiError(req: Request, res: Response, error: unknown, logger: Logger | undefined): void {
  sendJsonError(req, res, error, logger, {
    what: 'LibreChat Code API route',
    answerFor: (known) => {
      if (known.code !== 'QUEUE_FULL' && known.code !== 'SESSION_LIMIT') return undefined;
      const retryAfter = known.retryAfterSeconds ?? (known.code === 'SESSION_LIMIT' ? SESSION_LIMIT_RETRY_SECONDS : 1);
      res.setHeader('Retry-After', String(retryAfter));
      const message = known.code === 'SESSION_LIMIT' ? `${known.message}. ${SESSION_LIMIT_ADVICE}` : known.message;
      return { status: 429, body: { error: 'rate_limited', retry_after_seconds: retryAfter, message } };
    },
  });
}
