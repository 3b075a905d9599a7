/**
 * Operations routes: /healthz for load balancers and container health checks (no auth, and it
 * reveals nothing beyond whether Docker answers and how full the pools are), /metrics for
 * Prometheus (behind the API key when keys are set: pool and queue sizes are not public).
 */
import { Router, type Request, type Response } from 'express';
import type { EngineApi } from '../../engine/types.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { requestLogger } from './request-context.js';

export function createHealthRouter(engine: Pick<EngineApi, 'health'>, logger: Logger): Router {
  const router = Router();
  router.get('/healthz', async (req: Request, res: Response) => {
    res.set('Cache-Control', 'no-store');
    try {
      const report = await engine.health();
      res.status(report.ok ? 200 : 503).json(report);
    } catch (error) {
      requestLogger(req, logger).error({ err: error }, 'health check failed');
      res.status(503).json({ ok: false, error: 'health check failed; see the server log' });
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
