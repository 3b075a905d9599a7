/**
 * Errors Express and its body parsers raise before a route runs, sorted into what went wrong, so
 * that each route family can word the answer for its callers (JSON-RPC for MCP, JSON for REST).
 */
import type { ErrorRequestHandler } from 'express';
import { z } from 'zod';
import { formatBytes } from '../../files/byte-size.js';

export type RequestErrorKind = 'body-too-large' | 'body-not-json' | 'malformed';

const ParserErrorSchema = z.object({ status: z.number().int(), type: z.string().optional() });

/**
 * The kind of a 4xx error raised before a route ran (a body too large or not JSON, a URL with a bad
 * %-escape, a body that cannot be read), or null for anything else.
 */
export function requestErrorKind(error: unknown): RequestErrorKind | null {
  const parsed = ParserErrorSchema.safeParse(error);
  if (!parsed.success || parsed.data.status < 400 || parsed.data.status >= 500) return null;
  if (parsed.data.type === 'entity.too.large') return 'body-too-large';
  if (parsed.data.type === 'entity.parse.failed') return 'body-not-json';
  return 'malformed';
}

export interface BodyLimit {
  readonly bytes: number;
  /** What to do instead of sending a body that large. */
  readonly hint: string;
}

/** The message for a body over `limit`, in every route family's answer. */
export function bodyTooLargeMessage(limit: BodyLimit): string {
  return `the request body is larger than ${formatBytes(limit.bytes)}: ${limit.hint}`;
}

/** The REST answer to those errors, `{error: CODE, message}`; anything else goes on to the app. */
export function restRequestErrorHandler(bodyLimit?: BodyLimit): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    const kind = requestErrorKind(error);
    if (kind === null || res.headersSent) {
      next(error);
      return;
    }
    if (kind === 'body-too-large') {
      const message = bodyLimit === undefined ? 'the request body is too large' : bodyTooLargeMessage(bodyLimit);
      res.status(413).json({ error: 'FILE_TOO_LARGE', message });
      return;
    }
    if (kind === 'body-not-json') {
      res.status(400).json({ error: 'INVALID_INPUT', message: 'the request body is not valid JSON' });
      return;
    }
    res.status(400).json({ error: 'INVALID_INPUT', message: 'the request is malformed (a bad %-escape in the URL, or a body that cannot be read)' });
  };
}
