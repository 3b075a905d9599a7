/**
 * Per-principal budgets for open HTTP requests, so one principal cannot starve the rest: event
 * streams (legacy SSE and Streamable HTTP GET) and other requests in progress (tool calls, runs,
 * uploads, waiting ones included) are counted per principal and refused past their limits with 429.
 * Every queued call is an open request, so this also bounds one principal's share of the queue.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Principal } from '../../sessions/principal.js';

export type BudgetKind = 'stream' | 'request';

export interface PrincipalBudgetOptions {
  readonly streamsPerPrincipal: number;
  readonly requestsPerPrincipal: number;
  readonly principalOf: (req: Request) => Principal;
  /** Which budget a request draws from. */
  readonly kindOf: (req: Request) => BudgetKind;
  /** Answers a refused request (its shape depends on the route: JSON-RPC or REST). */
  readonly refuse: (req: Request, res: Response, kind: BudgetKind, limit: number) => void;
}

export function principalBudget(options: PrincipalBudgetOptions): RequestHandler {
  const open = new Map<string, number>();
  const limits: Record<BudgetKind, number> = {
    stream: options.streamsPerPrincipal,
    request: options.requestsPerPrincipal,
  };
  return (req: Request, res: Response, next: NextFunction) => {
    const kind = options.kindOf(req);
    const key = `${kind}:${options.principalOf(req).id}`;
    const count = open.get(key) ?? 0;
    if (count >= limits[kind]) {
      res.set('Retry-After', '1');
      options.refuse(req, res, kind, limits[kind]);
      return;
    }
    open.set(key, count + 1);
    res.once('close', () => {
      const left = (open.get(key) ?? 1) - 1;
      if (left > 0) open.set(key, left);
      else open.delete(key);
    });
    next();
  };
}

/** The words of a refusal, shared by the REST and JSON-RPC answers. */
export function budgetMessage(kind: BudgetKind, limit: number): string {
  return kind === 'stream'
    ? `you have ${limit} event streams open, your maximum (CODECELL_STREAMS_PER_USER): close one first`
    : `you have ${limit} requests in progress, your maximum (CODECELL_REQUESTS_PER_USER): wait for one to finish`;
}
