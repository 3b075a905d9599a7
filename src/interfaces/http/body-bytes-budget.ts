/**
 * Bytes of large request bodies in flight across the whole server, capped. The per-user and per-key
 * budgets count requests, not bytes: 250 requests of one key with ~34 MiB MCP bodies each held ~85 MB
 * of memory apiece (buffer, string, parsed JSON), far past the heap. A body over `smallBytes` is
 * charged its declared length (the cap when it is chunked) from the request until its response
 * ends; one that would pass `maxBytes` gets 503 at once, unread. Small bodies are never charged.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';

export function bodyBytesBudget(options: {
  readonly maxBytes: number;
  readonly bodyLimit: number;
  readonly smallBytes: number;
  readonly refuse: (res: Response) => void;
}): RequestHandler {
  let inFlight = 0;
  return (req: Request, res: Response, next: NextFunction) => {
    const length = req.headers['content-length'];
    const declared = length === undefined ? 0 : Number(length);
    // A chunked body declares no length: charged the cap. No body (a GET stream): nothing.
    const chunked = req.headers['transfer-encoding'] !== undefined;
    const charge = chunked || !Number.isFinite(declared) ? options.bodyLimit : Math.min(Math.max(0, declared), options.bodyLimit);
    if (charge <= options.smallBytes) {
      next();
      return;
    }
    if (inFlight + charge > options.maxBytes) {
      res.setHeader('Connection', 'close'); // the unread body is not drained into memory
      res.setHeader('Retry-After', '1');
      options.refuse(res);
      return;
    }
    inFlight += charge;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      inFlight -= charge;
    };
    res.once('finish', release);
    res.once('close', release);
    next();
  };
}
