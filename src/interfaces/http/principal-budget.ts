/**
 * Per-principal and per-key budgets for open HTTP requests, so one principal, or one key whose
 * callers rotate X-User-Id, cannot starve the rest: event streams (legacy SSE and Streamable HTTP
 * GET) and other requests in progress (tool calls, runs, uploads, waiting ones included) are
 * counted per principal and per API key, and refused past either limit with 429. Every queued call
 * is an open request, so this also bounds one principal's share of the queue. It runs before any
 * body is read, so a slow body holds a place of its own key only.
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Principal } from '../../sessions/principal.js';

export type BudgetKind = 'stream' | 'request';

/** Whose budget was spent: the caller's own, or that of all callers of its API key together. */
export type BudgetScope = 'principal' | 'key';

export interface PrincipalBudgetOptions {
  readonly streamsPerPrincipal: number;
  readonly requestsPerPrincipal: number;
  readonly streamsPerKey: number;
  readonly requestsPerKey: number;
  readonly principalOf: (req: Request) => Principal;
  /** Which budget a request draws from. */
  readonly kindOf: (req: Request) => BudgetKind;
  /** Answers a refused request (its shape depends on the route: JSON-RPC or REST). */
  readonly refuse: (req: Request, res: Response, kind: BudgetKind, scope: BudgetScope, limit: number) => void;
}

export function principalBudget(options: PrincipalBudgetOptions): RequestHandler {
  const open = new Map<string, number>();
  const limits: Record<BudgetScope, Record<BudgetKind, number>> = {
    principal: { stream: options.streamsPerPrincipal, request: options.requestsPerPrincipal },
    key: { stream: options.streamsPerKey, request: options.requestsPerKey },
  };
  return (req: Request, res: Response, next: NextFunction) => {
    const kind = options.kindOf(req);
    const principal = options.principalOf(req);
    // Principal ids and key ids are both hex digests; the scope keeps their counters apart.
    const counters: ReadonlyArray<[BudgetScope, string]> = [
      ['principal', `${kind}:principal:${principal.id}`],
      ['key', `${kind}:key:${principal.keyId}`],
    ];
    for (const [scope, counter] of counters) {
      if ((open.get(counter) ?? 0) >= limits[scope][kind]) {
        res.set('Retry-After', '1');
        // The body is unread: closing the connection keeps a refused slow body from holding it anyway.
        res.set('Connection', 'close');
        options.refuse(req, res, kind, scope, limits[scope][kind]);
        return;
      }
    }
    for (const [, counter] of counters) open.set(counter, (open.get(counter) ?? 0) + 1);
    res.once('close', () => {
      for (const [, counter] of counters) {
        const left = (open.get(counter) ?? 1) - 1;
        if (left > 0) open.set(counter, left);
        else open.delete(counter);
      }
    });
    next();
  };
}

/** The words of a refusal, shared by the REST and JSON-RPC answers. */
export function budgetMessage(kind: BudgetKind, scope: BudgetScope, limit: number): string {
  if (scope === 'key') {
    return kind === 'stream'
      ? `the users of your API key have ${limit} event streams open, its maximum (CODECELL_STREAMS_PER_KEY): retry shortly`
      : `the users of your API key have ${limit} requests in progress, its maximum (CODECELL_REQUESTS_PER_KEY): retry shortly`;
  }
  return kind === 'stream'
    ? `you have ${limit} event streams open, your maximum (CODECELL_STREAMS_PER_USER): close one first`
    : `you have ${limit} requests in progress, your maximum (CODECELL_REQUESTS_PER_USER): wait for one to finish`;
}
