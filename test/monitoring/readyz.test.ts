/**
 * /readyz over real HTTP on a real server whose warm pool cannot start (its image does not exist):
 * 503 for everyone, and for key holders the reason naming the pool. The ready case is in
 * prometheus-scrape.test.ts (its server's pools warm up).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_KEY, type TestServer } from '../interfaces/helpers/test-server.js';
import { until } from './prometheus.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer({
    env: {
      CODECELL_IMAGE_PREFIX: 'codecell-readyz-test-no-such-image',
      CODECELL_POOL_PYTHON: '0',
      CODECELL_POOL_PYTHON_LEAN: '1',
      CODECELL_POOL_NODE: '0',
      CODECELL_POOL_BASH: '0',
    },
  });
});

afterAll(async () => {
  await server?.close();
});

describe('/readyz when a warm pool cannot start', () => {
  it('answers 503, and tells key holders which pool failed', async () => {
    const report = await until('/readyz to report the failed pool', async () => {
      const response = await fetch(`${server.url}/readyz`, { headers: { 'X-API-Key': TEST_KEY } });
      const body = (await response.json()) as { ready: boolean; reason?: string; pools: Record<string, { state: string; error?: string }> };
      return response.status === 503 && body.pools['python-lean']?.state === 'failed' ? body : undefined;
    }, 60_000);
    expect(report.ready).toBe(false);
    expect(report.reason).toMatch(/^warm runners failed to start: python-lean \(/);
    expect(report.pools.node).toEqual({ state: 'ready' });
    const bare = await fetch(`${server.url}/readyz`);
    expect(bare.status).toBe(503);
    expect(await bare.json()).toEqual({ ready: false });
    // Liveness is another question: the server and Docker are fine.
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });
});
