/**
 * Operations routes: /healthz for load balancers and container health checks, /metrics for
 * Prometheus (behind the API key when keys are set: pool and queue sizes are not public).
 *
 * /healthz answers everyone 200 `{"ok":true}` or 503 `{"ok":false}`: all a probe needs. The details
 * (whether Docker answers and, if not, its error; warm pool sizes; queue) go only to callers who may
 * use the API: with keys configured, a request that offers one; without keys, every caller, since
 * such a server runs anyone's code anyway (and listens on loopback unless CODECELL_ALLOW_OPEN).
 */
import { Router, type Request, type Response } from 'express';
import type { EngineApi } from '../../engine/types.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { requestLogger } from './request-context.js';

export function createHealthRouter(
  engine: Pick<EngineApi, 'health'>,
  logger: Logger,
  mayReadDetails: (req: Request) => boolean,
): Router {
  const router = Router();
  router.get('/healthz', async (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    try {
      const report = await engine.health();
      res.status(report.ok ? 200 : 503).json(mayReadDetails(req) ? report : { ok: report.ok });
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
