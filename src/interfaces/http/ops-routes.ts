/**
 * Operations routes: /healthz (liveness) and /readyz (readiness) for load balancers and container
 * health checks, /metrics for Prometheus (behind an API key or a metrics-only key when keys are
 * set: pool and queue sizes are not public).
 *
 * /readyz answers 200 `{"ready":true}` once the executor answers and every warm pool has had its
 * first runner, 503 `{"ready":false}` before that or when a pool's starts failed first; callers
 * who may read details get the reason and each pool's state, as with /healthz.
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
import { Router, type NextFunction, type Request, type Response } from 'express';
import type { EngineApi } from '../../engine/types.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { requestLogger } from './request-context.js';

/** How long one health report answers every probe. */
export const HEALTH_CACHE_MS = 1_000;

/** `check` with concurrent calls coalesced and its result reused for `ttlMs` after it settles; a failure is not kept. */
export function sharedCheck<Report>(check: () => Promise<Report>, ttlMs: number, now: () => number = Date.now): () => Promise<Report> {
  let latest: { readonly report: Promise<Report>; settledAt: number | undefined } | undefined;
  return () => {
    if (latest !== undefined && (latest.settledAt === undefined || now() - latest.settledAt < ttlMs)) return latest.report;
    const entry: { readonly report: Promise<Report>; settledAt: number | undefined } = { report: check(), settledAt: undefined };
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
  engine: Pick<EngineApi, 'health' | 'readiness'>,
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
  const readiness = sharedCheck(() => engine.readiness(), HEALTH_CACHE_MS);
  router.get('/readyz', async (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    try {
      const details = await mayReadDetails(req);
      const report = details ? await engine.readiness() : await readiness();
      res.status(report.ready ? 200 : 503).json(details ? report : { ready: report.ready });
    } catch (error) {
      requestLogger(req, logger).error({ err: error }, 'readiness check failed');
      res.status(503).json({ ready: false });
    }
  });
  return router;
}

/**
 * GET /metrics. Mounted twice: before apiKeyAuth with `admits` = "offers a metrics-only key" (any
 * other request passes on to the next route), and after it for API keys and open servers.
 */
export function createMetricsRouter(metrics: Metrics, admits: (req: Request) => boolean = () => true): Router {
  const router = Router();
  router.get('/metrics', async (req: Request, res: Response, next: NextFunction) => {
    if (!admits(req)) {
      next();
      return;
    }
    res.set('Content-Type', metrics.registry.contentType).send(await metrics.registry.metrics());
  });
  return router;
}
