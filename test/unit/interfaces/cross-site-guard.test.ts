/** The keyless cross-site guard and the per-principal request budget, on a small express app over loopback HTTP. */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { crossSiteGuard } from '../../../src/interfaces/http/listen-policy.js';
import { principalBudget } from '../../../src/interfaces/http/principal-budget.js';
import { principalFor } from '../../../src/sessions/principal.js';

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});

async function serve(app: express.Express): Promise<string> {
  const server = http.createServer(app);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function post(url: string, headers: Record<string, string>, body = '{}'): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', headers: { 'Content-Length': String(Buffer.byteLength(body)), ...headers } }, (response) => {
      response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once('error', reject);
    request.end(body);
  });
}

describe('crossSiteGuard', () => {
  it('is off when keys are configured', () => {
    expect(crossSiteGuard({ apiKeys: ['k'], publicUrl: undefined })).toBeNull();
  });

  it("refuses what a browser marks as cross-site, and lets clients without browser headers and the server's own pages through", async () => {
    const app = express();
    const guard = crossSiteGuard({ apiKeys: [], publicUrl: 'https://codecell.example/base' });
    if (guard === null) throw new Error('no guard');
    app.use(guard);
    app.post('/x', (_req, res) => {
      res.status(204).end();
    });
    const url = await serve(app);
    const json = { 'Content-Type': 'application/json' };
    expect(await post(`${url}/x`, json)).toBe(204);
    expect(await post(`${url}/x`, { ...json, Origin: url, 'Sec-Fetch-Site': 'same-origin' })).toBe(204);
    expect(await post(`${url}/x`, { ...json, Origin: 'https://codecell.example' })).toBe(204);
    expect(await post(`${url}/x`, { ...json, 'Sec-Fetch-Site': 'none' })).toBe(204);
    expect(await post(`${url}/x`, { ...json, Origin: 'https://evil.example' })).toBe(403);
    expect(await post(`${url}/x`, { ...json, Origin: 'null' })).toBe(403);
    expect(await post(`${url}/x`, { ...json, 'Sec-Fetch-Site': 'cross-site' })).toBe(403);
    expect(await post(`${url}/x`, { ...json, 'Sec-Fetch-Site': 'same-site' })).toBe(403);
    expect(await post(`${url}/x`, { 'Content-Type': 'text/plain' })).toBe(415);
    expect(await post(`${url}/x`, { 'Content-Type': 'application/x-www-form-urlencoded' }, 'a=1')).toBe(415);
    expect(await post(`${url}/x`, {}, '')).toBe(204);
  });
});

describe('principalBudget', () => {
  it("refuses a principal's requests past its budget, leaves others alone, and gives places back when requests end", async () => {
    const app = express();
    const held: express.Response[] = [];
    app.use(
      principalBudget({
        streamsPerPrincipal: 1,
        requestsPerPrincipal: 2,
        streamsPerKey: 100,
        requestsPerKey: 100,
        principalOf: (req) => principalFor('k', req.get('x-user-id') ?? null),
        kindOf: () => 'request',
        refuse: (_req, res) => {
          res.status(429).end();
        },
      }),
    );
    let arrived: () => void = () => undefined;
    app.post('/hold', (_req, res) => {
      held.push(res);
      arrived();
    });
    const url = await serve(app);
    /** Sends a request and resolves once the handler holds it, with its (still pending) status. */
    const holding = (user: string) =>
      new Promise<{ status: Promise<number> }>((resolve) => {
        arrived = () => resolve({ status });
        const status = post(`${url}/hold`, { 'X-User-Id': user, 'Content-Type': 'application/json' });
      });
    const first = await holding('hog');
    const second = await holding('hog');
    expect(await post(`${url}/hold`, { 'X-User-Id': 'hog' })).toBe(429);
    const other = await holding('other');
    for (const res of held.splice(0)) res.status(200).end();
    expect(await Promise.all([first.status, second.status, other.status])).toEqual([200, 200, 200]);
    const again = await holding('hog');
    for (const res of held.splice(0)) res.status(200).end();
    expect(await again.status).toBe(200);
  });
});
