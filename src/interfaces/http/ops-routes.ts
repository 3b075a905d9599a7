/**
 * Operations routes: /healthz for load balancers and container health checks, /metrics for
 * Prometheus (behind the API key when keys are set: pool and queue sizes are not public).
 *
 * /healthz answers everyone 200 `{"ok":true}` or 503 `{"ok":false}`: all a probe needs. The details
 * (whether Docker answers and, if not, its error; warm pool sizes; queue) go only to callers who may
 * use the API: with keys configured, a request that offers one; without keys, every caller, since
 * such a server runs anyone's code anyway (and listens on loopback unless CODECELL_ALLOW_OPEN).
 *
 * The check behind it (a Docker ping) is shared: concurrent probes wait for the one in flight, and
 * its report is reused for HEALTH_CACHE_MS, so a flood of unauthenticated probes costs Docker at
 * most a few pings a second.
 */
import { Router, type Request, type Response } from 'express';
import type { EngineApi } from '../../engine/types.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { requestLogger } from './request-context.js';

/** How long one health report answers every probe. */
export const HEALTH_CACHE_MS = 1_000;

type HealthReport = Awaited<ReturnType<EngineApi['health']>>;

/** `check` with concurrent calls coalesced and its result reused for `ttlMs` after it settles; a failure is not kept. */
export function sharedCheck(check: () => Promise<HealthReport>, ttlMs: number, now: () => number = Date.now): () => Promise<HealthReport> {
  let latest: { readonly report: Promise<HealthReport>; settledAt: number | undefined } | undefined;
  return () => {
    if (latest !== undefined && (latest.settledAt === undefined || now() - latest.settledAt < ttlMs)) return latest.report;
    const entry: { readonly report: Promise<HealthReport>; settledAt: number | undefined } = { report: check(), settledAt: undefined };
    latest = entry;
    entry.report.then(
      () => {
        entry.settledAt = now();
      },
      () => {
        if (latest === entry) latest = undefined;
      },
    );
    return entry.report;
  };
}

export function createHealthRouter(
  engine: Pick<EngineApi, 'health'>,
  logger: Logger,
  mayReadDetails: (req: Request) => boolean | Promise<boolean>,
): Router {
  const router = Router();
  const health = sharedCheck(() => engine.health(), HEALTH_CACHE_MS);
  router.get('/healthz', async (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    try {
      // Details (queue, pools) are read fresh: a cached report would show a queue of a second ago.
      // Only the bare ok/not ok, which anyone may ask for, comes from the shared check.
      const details = await mayReadDetails(req);
      const report = details ? await engine.health() : await health();
      res.status(report.ok ? 200 : 503).json(details ? report : { ok: report.ok });
    } catch (error) {
      requestLogger(req, logger).error({ err: error }, 'health check failed');
      res.status(503).json({ ok: false });
    }
  });
  return router;
}

export function createMetricsRouter(metrics: Metrics): Router {
  const router = Router();
  router.get('/metrics', async (_req: Request, res: Response) => {
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
