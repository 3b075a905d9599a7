/**
 * One request id and one child logger per HTTP request. The id comes from the caller's
 * X-Request-Id when it looks sane (so a proxy's id links both logs), else a fresh UUID, and is
 * echoed back. MCP tool handlers run deep inside the SDK, out of reach of `req`; routes run them
 * in a request scope (AsyncLocalStorage) so that they can log under the same id.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../logger.js';
import { requestOrigin } from './request-origin.js';

const REQUEST_ID_HEADER = 'x-request-id';

/** Short, printable, no spaces: anything else could forge log lines or bloat them. */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

interface RequestScope {
  readonly requestId: string;
  readonly logger: Logger;
  /** Aborts when the client closes the connection before the response is complete. */
  readonly clientGone: AbortSignal;
  /** Where the client sent the request (request-origin.ts); undefined when its Host is unusable. */
  readonly origin: string | undefined;
}

const scopes = new WeakMap<Request, RequestScope>();
const currentScope = new AsyncLocalStorage<RequestScope>();

export function saneRequestId(candidate: string | undefined): string | null {
  return candidate !== undefined && SANE_REQUEST_ID.test(candidate) ? candidate : null;
}

export function requestContext(logger: Logger): RequestHandler {
  return (req: Request, res: Response, next: NextFunction) => {
    const requestId = saneRequestId(req.get(REQUEST_ID_HEADER)) ?? randomUUID();
    res.setHeader('X-Request-Id', requestId);
    const requestLogger = logger.child({ requestId });
    const clientGone = new AbortController();
    const origin = requestOrigin(req.protocol, req.host, { host: req.get('X-Forwarded-Host'), proto: req.get('X-Forwarded-Proto') });
    scopes.set(req, { requestId, logger: requestLogger, clientGone: clientGone.signal, origin });

    const startedAt = process.hrtime.bigint();
    // 'close' fires for finished and aborted responses alike; long SSE streams log when they end.
    res.on('close', () => {
      if (!res.writableFinished) clientGone.abort(new Error('the client closed the request before its answer'));
      const durationMs = Number(process.hrtime.bigint() - startedAt) / 1e6;
      requestLogger.info(
        { method: req.method, path: req.path, status: res.statusCode, durationMs: Math.round(durationMs), aborted: !res.writableFinished },
        'request',
      );
    });
    next();
  };
}

/** The request's child logger; falls back to `fallback` for requests the middleware never saw. */
export function requestLogger(req: Request, fallback: Logger): Logger {
  return scopes.get(req)?.logger ?? fallback;
}

/**
 * Runs `task` in the request's scope. Routes call this after body parsing: stream callbacks there
 * do not carry async context, so the scope starts where the request's real work starts.
 */
export function inRequestScope<T>(req: Request, task: () => Promise<T>): Promise<T> {
  const scope = scopes.get(req);
  return scope === undefined ? task() : currentScope.run(scope, task);
}

/**
 * Aborts when the client of the HTTP request whose work is running now closes it before its answer
 * is complete: nobody is left to receive the answer. Undefined outside a request scope.
 */
export function currentClientGone(): AbortSignal | undefined {
  return currentScope.getStore()?.clientGone;
}

/** The id of the HTTP request whose work is running now, if any. */
export function currentRequestId(): string | undefined {
  return currentScope.getStore()?.requestId;
}

/** The origin of the HTTP request whose work is running now (for links back); undefined outside one. */
export function currentOrigin(): string | undefined {
  return currentScope.getStore()?.origin;
}
