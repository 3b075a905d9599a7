/**
 * /metrics and /readyz over loopback HTTP, mounted as create-app.ts mounts them: a metrics-only key
 * opens GET /metrics and nothing else, an API key still opens /metrics, and /readyz tells everyone
 * ready or not and key holders why. Behind it: a FakeEngine (test/fakes) and the readiness verdict.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readinessVerdict } from '../../../src/engine/engine.js';
import { apiKeyAuth, offersMetricsKey, offersValidKey } from '../../../src/interfaces/http/auth.js';
import { createHealthRouter, createMetricsRouter } from '../../../src/interfaces/http/ops-routes.js';
import { createLogger } from '../../../src/logger.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { startFakeEngine, type FakeEngineFixture } from '../../fakes/fake-engine.js';

const API_KEY = 'api-key-0123456789abcdef';
const METRICS_KEY = 'metrics-key-0123456789abcdef';

let fx: FakeEngineFixture;
let server: http.Server;
let base: string;

beforeAll(async () => {
  fx = await startFakeEngine();
  const logger = createLogger('silent');
  const metrics = new Metrics({ collectProcessMetrics: false });
  const app = express();
  app.use(createHealthRouter(fx.engine, logger, offersValidKey([API_KEY])));
  app.use(createMetricsRouter(metrics, offersMetricsKey([METRICS_KEY])));
  app.use(apiKeyAuth([API_KEY]));
  app.use(createMetricsRouter(metrics));
  app.get('/v1/anything', (_req, res) => {
    res.json({ reached: true });
  });
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await fx.close();
});

const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

describe('the metrics-only key over HTTP', () => {
  it('opens GET /metrics, as an API key does; nothing opens it without a key', async () => {
    for (const key of [METRICS_KEY, API_KEY]) {
      const response = await fetch(`${base}/metrics`, { headers: bearer(key) });
      expect(response.status).toBe(200);
      expect(await response.text()).toContain('codecell_executions_total{language="python",status="oom"} 0');
    }
    expect((await fetch(`${base}/metrics`)).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { headers: bearer('not-a-key') })).status).toBe(401);
  });

  it('opens nothing else', async () => {
    expect((await fetch(`${base}/v1/anything`, { headers: bearer(METRICS_KEY) })).status).toBe(401);
    expect((await fetch(`${base}/metrics`, { method: 'POST', headers: bearer(METRICS_KEY) })).status).toBe(401);
    expect(await (await fetch(`${base}/v1/anything`, { headers: bearer(API_KEY) })).json()).toEqual({ reached: true });
  });
});

describe('/readyz', () => {
  it('answers everyone ready or not, and key holders the report', async () => {
    const bare = await fetch(`${base}/readyz`);
    expect(bare.status).toBe(200);
    expect(await bare.json()).toEqual({ ready: true });
    // The metrics key is no API key: it gets the bare answer.
    expect(await (await fetch(`${base}/readyz`, { headers: bearer(METRICS_KEY) })).json()).toEqual({ ready: true });
    expect(await (await fetch(`${base}/readyz`, { headers: bearer(API_KEY) })).json()).toEqual({ ready: true, pools: {} });
  });
});

describe('readinessVerdict', () => {
  const up = { reachable: true };
  it('is ready when the executor answers and every pool is warm', () => {
    expect(readinessVerdict(up, { python: { state: 'ready' }, node: { state: 'ready' } }, false)).toEqual({ ready: true });
  });

  it('names failed pools first, then warming ones', () => {
    const pools = { python: { state: 'warming' as const }, node: { state: 'failed' as const, error: 'no image' } };
    expect(readinessVerdict(up, pools, false)).toEqual({ ready: false, reason: 'warm runners failed to start: node (no image)' });
    expect(readinessVerdict(up, { python: { state: 'warming' }, bash: { state: 'warming' } }, false)).toEqual({
      ready: false,
      reason: 'warming up: python, bash',
    });
  });

  it('is not ready while the executor does not answer or the server shuts down', () => {
    expect(readinessVerdict({ reachable: false, error: 'connect ENOENT' }, {}, false)).toEqual({
      ready: false,
      reason: 'the executor does not answer: connect ENOENT',
    });
    expect(readinessVerdict(up, {}, true)).toEqual({ ready: false, reason: 'the server is shutting down' });
  });
});
