/** API keys and X-User-Id on a bare express app: who gets in, and which principal they become. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyAuth, principalOf } from '../../../src/interfaces/http/auth.js';
import { principalFor } from '../../../src/sessions/principal.js';

async function serve(apiKeys: string[]): Promise<{ url: string; close: () => Promise<void> }> {
  const app = express();
  app.use(apiKeyAuth(apiKeys));
  app.get('/who', (req, res) => {
    res.json(principalOf(req));
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/who`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

describe('with keys', () => {
  let app: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    app = await serve(['key-one', 'key-two']);
  });
  afterAll(async () => {
    await app.close();
  });

  it('answers 401 with a JSON reason and WWW-Authenticate when no key is sent', async () => {
    const response = await fetch(app.url);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer realm="codecell"/);
    expect(await response.json()).toMatchObject({ error: 'unauthorized', message: expect.stringContaining('X-API-Key') });
  });

  it('answers 401 for a wrong key, including one that only shares a prefix', async () => {
    for (const key of ['nope', 'key-on', 'key-one-and-more', '']) {
      const response = await fetch(app.url, { headers: { Authorization: `Bearer ${key}` } });
      expect(response.status, key).toBe(401);
    }
  });

  it('accepts any configured key as Bearer, X-API-Key, or Basic user name', async () => {
    const basic = Buffer.from('key-two:').toString('base64');
    const headerSets: Record<string, string>[] = [
      { Authorization: 'Bearer key-one' },
      { 'X-API-Key': 'key-two' },
      { Authorization: `Basic ${basic}` },
    ];
    for (const headers of headerSets) {
      const response = await fetch(app.url, { headers });
      expect(response.status, JSON.stringify(headers)).toBe(200);
    }
  });

  it('makes the principal from the key and X-User-Id, so users behind one key are apart', async () => {
    const alice = await (await fetch(app.url, { headers: { 'X-API-Key': 'key-one', 'X-User-Id': 'alice' } })).json();
    const bob = await (await fetch(app.url, { headers: { 'X-API-Key': 'key-one', 'X-User-Id': 'bob' } })).json();
    const aliceOtherKey = await (await fetch(app.url, { headers: { 'X-API-Key': 'key-two', 'X-User-Id': 'alice' } })).json();
    expect(alice).toEqual(principalFor('key-one', 'alice'));
    expect(bob).toEqual(principalFor('key-one', 'bob'));
    expect(new Set([alice.id, bob.id, aliceOtherKey.id]).size).toBe(3);
  });

  it('answers 400 for an X-User-Id with spaces or control characters', async () => {
    const response = await fetch(app.url, { headers: { 'X-API-Key': 'key-one', 'X-User-Id': 'has space' } });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'invalid_user_id' });
  });
});

describe('without keys', () => {
  it('lets everyone in as the open principal, still split by X-User-Id', async () => {
    const app = await serve([]);
    try {
      const anonymous = await (await fetch(app.url)).json();
      const carol = await (await fetch(app.url, { headers: { 'X-User-Id': 'carol' } })).json();
      expect(anonymous).toEqual(principalFor(null, null));
      expect(carol).toEqual(principalFor(null, 'carol'));
    } finally {
      await app.close();
    }
  });
});
