/**
 * The key apiKeyAuth matched, kept for later routes (the LibreChat Code API builds its principals
 * from it without matching again), on a bare express app over loopback.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { apiKeyAuth, apiKeyOf } from '../../../src/interfaces/http/auth.js';

const servers: http.Server[] = [];

afterEach(async () => {
  for (const server of servers.splice(0)) await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function serve(apiKeys: string[], authenticated = true): Promise<string> {
  const app = express();
  if (authenticated) app.use(apiKeyAuth(apiKeys));
  app.get('/key', (req, res) => {
    res.json({ key: apiKeyOf(req) });
  });
  app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    res.status(500).json({ error: error.message });
  });
  const server = http.createServer(app);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/key`;
}

describe('apiKeyOf', () => {
  it('is the configured key the request matched, however it was sent', async () => {
    const url = await serve(['key-one', 'key-two']);
    const basic = Buffer.from('key-one:').toString('base64');
    const sent: Array<[Record<string, string>, string]> = [
      [{ Authorization: 'Bearer key-two' }, 'key-two'],
      [{ Authorization: `Basic ${basic}` }, 'key-one'],
      [{ 'X-API-Key': 'key-two' }, 'key-two'],
      [{ Authorization: 'Bearer wrong', 'X-API-Key': 'key-one' }, 'key-one'],
    ];
    for (const [headers, key] of sent) {
      const response = await fetch(url, { headers });
      expect(await response.json(), JSON.stringify(headers)).toEqual({ key });
    }
  });

  it('is null on a server without keys', async () => {
    const url = await serve([]);
    expect(await (await fetch(url, { headers: { 'X-API-Key': 'anything' } })).json()).toEqual({ key: null });
  });

  it('throws for a route that is not behind apiKeyAuth (a wiring bug)', async () => {
    const url = await serve(['key-one'], false);
    const response = await fetch(url, { headers: { 'X-API-Key': 'key-one' } });
    expect(response.status).toBe(500);
    expect(await response.json()).toMatchObject({ error: expect.stringContaining('not behind apiKeyAuth') });
  });
});
