/**
 * How the LibreChat Code API answers failures: `{error: CODE, message}` with the status errors.ts
 * gives the code (as the /v1 files routes do), except that "busy" is LibreChat's own shape,
 * 429 `{error: "rate_limited", retry_after_seconds}`, which LibreChat turns into "retry after N s".
 * A program that fails is not a failure here: /exec answers 200 with its stderr.
 */
import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { z } from 'zod';
import { sendJsonError } from '../json-error.js';
import type { Logger } from '../../../logger.js';

/** When the server holds its maximum of sessions: idle ones expire, so a retry later may work. */
const SESSION_LIMIT_RETRY_SECONDS = 60;

export function sendApiError(req: Request, res: Response, error: unknown, logger: Logger | undefined): void {
  sendJsonError(req, res, error, logger, {
    what: 'LibreChat Code API route',
    answerFor: (known) => {
      if (known.code !== 'QUEUE_FULL' && known.code !== 'SESSION_LIMIT') return undefined;
      const retryAfter = known.retryAfterSeconds ?? (known.code === 'SESSION_LIMIT' ? SESSION_LIMIT_RETRY_SECONDS : 1);
      res.setHeader('Retry-After', String(retryAfter));
      return { status: 429, body: { error: 'rate_limited', retry_after_seconds: retryAfter, message: known.message } };
    },
  });
}

/** Runs a route body and turns whatever it throws into the JSON error answer. */
export function guarded(logger: Logger | undefined, body: (req: Request, res: Response) => Promise<void>): RequestHandler {
  return async (req, res) => {
    try {
      await body(req, res);
    } catch (error) {
      sendApiError(req, res, error, logger);
    }
  };
}

const BodyParserErrorSchema = z.object({ status: z.number().int(), type: z.string().optional() });

/**
 * Errors raised before a route runs: a JSON body that does not parse or is too large, or a URL
 * with a bad %-escape. Answered in the same JSON shape; anything else goes on to the app.
 */
export function requestErrorHandler(bodyLimitText: string): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    const parsed = BodyParserErrorSchema.safeParse(error);
    if (!parsed.success || parsed.data.status < 400 || parsed.data.status >= 500 || res.headersSent) {
      next(error);
      return;
    }
    if (parsed.data.type === 'entity.too.large') {
      res.status(413).json({ error: 'FILE_TOO_LARGE', message: `the request body is larger than ${bodyLimitText}; put large data in files (POST /upload)` });
      return;
    }
    if (parsed.data.type === 'entity.parse.failed') {
      res.status(400).json({ error: 'INVALID_INPUT', message: 'the request body is not valid JSON' });
      return;
    }
    res.status(400).json({ error: 'INVALID_INPUT', message: 'the request is malformed (a bad %-escape in the URL, or a body that cannot be read)' });
  };
}
