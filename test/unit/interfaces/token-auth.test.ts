/**
 * LibreChat tokens at the HTTP edge, on a bare express app (no Docker): a server with only a JWT
 * key is not open, a token's principal is its tenant and sub whatever the headers say, keys keep
 * working beside tokens, and the health details and listen policy count a JWT key as auth.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';
import { createLogger } from '../../../src/logger.js';
import { apiKeyAuth, INVALID_CREDENTIALS_MESSAGE, offersValidKey, principalOf, tokenNamespace } from '../../../src/interfaces/http/auth.js';
import { createJwtVerifier } from '../../../src/interfaces/http/jwt-verifier.js';
import { crossSiteGuard, enforceListenPolicy } from '../../../src/interfaces/http/listen-policy.js';
import { principalFor } from '../../../src/sessions/principal.js';
import { mintKeys, mintToken, tamperedSignature, type MintKeys } from '../../helpers/librechat-jwt.js';

interface Served {
  readonly url: string;
  close(): Promise<void>;
}

let keys: MintKeys;

async function serve(apiKeys: string[]): Promise<Served> {
  const settings = loadSettings({ CODECELL_JWT_PUBLIC_KEY: keys.publicPem });
  if (settings.jwt === null) throw new Error('JWT mode is off');
  const jwt = createJwtVerifier(settings.jwt);
  const details = offersValidKey(apiKeys, jwt);
  const app = express();
  app.get('/details', async (req, res) => {
    res.json({ details: await details(req) });
  });
  app.use(apiKeyAuth(apiKeys, { jwt, logger: createLogger('silent') }));
  app.get('/who', (req, res) => {
    res.json(principalOf(req));
  });
  const server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

beforeAll(async () => {
  keys = await mintKeys('EdDSA');
});

describe('a server with only a JWT key', () => {
  let app: Served;
  beforeAll(async () => {
    app = await serve([]);
  });
  afterAll(async () => {
    await app.close();
  });

  it('is not open: a request without a token gets 401 that names the token', async () => {
    const response = await fetch(`${app.url}/who`, { headers: { 'X-User-Id': 'alice' } });
    expect(response.status).toBe(401);
    const { message } = (await response.json()) as { message: string };
    expect(message).toContain('Bearer <JWT>');
    expect(message).not.toContain('API key');
    expect((await fetch(`${app.url}/who`, { headers: { 'X-API-Key': 'anything' } })).status).toBe(401);
  });

  it('makes the principal from tenant and sub, ignoring X-User-Id', async () => {
    const token = await mintToken(keys, { sub: 'alice', tenantId: 'acme' });
    const response = await fetch(`${app.url}/who`, { headers: { Authorization: `Bearer ${token}`, 'X-User-Id': 'bob' } });
    expect(response.status).toBe(200);
    const namespace = tokenNamespace({ subject: 'alice', tenant: 'acme', issuer: 'librechat' });
    expect(await response.json()).toEqual({ ...principalFor(namespace, 'alice') });
    expect(namespace).toBe('jwt\0librechat\0acme');
  });

  it('shows health details only to a valid token', async () => {
    const details = async (headers: Record<string, string>): Promise<boolean> =>
      ((await (await fetch(`${app.url}/details`, { headers })).json()) as { details: boolean }).details;
    expect(await details({})).toBe(false);
    expect(await details({ Authorization: `Bearer ${tamperedSignature(await mintToken(keys))}` })).toBe(false);
    expect(await details({ Authorization: `Bearer ${await mintToken(keys)}` })).toBe(true);
  });
});

describe('a server with keys and a JWT key', () => {
  let app: Served;
  beforeAll(async () => {
    app = await serve(['key-one-0123456789']);
  });
  afterAll(async () => {
    await app.close();
  });

  it('takes either; a bad token is refused even beside a good key, with the wrong-key body', async () => {
    expect((await fetch(`${app.url}/who`, { headers: { 'X-API-Key': 'key-one-0123456789', 'X-User-Id': 'alice' } })).status).toBe(200);
    expect((await fetch(`${app.url}/who`, { headers: { Authorization: 'Bearer key-one-0123456789' } })).status).toBe(200);
    expect((await fetch(`${app.url}/who`, { headers: { Authorization: `Bearer ${await mintToken(keys)}` } })).status).toBe(200);
    const forged = await fetch(`${app.url}/who`, {
      headers: { Authorization: `Bearer ${tamperedSignature(await mintToken(keys))}`, 'X-API-Key': 'key-one-0123456789' },
    });
    expect(forged.status).toBe(401);
    const wrongKey = await fetch(`${app.url}/who`, { headers: { 'X-API-Key': 'key-two-0123456789' } });
    expect(await forged.json()).toEqual({ error: 'unauthorized', message: INVALID_CREDENTIALS_MESSAGE });
    expect(await wrongKey.json()).toEqual({ error: 'unauthorized', message: INVALID_CREDENTIALS_MESSAGE });
  });

  it('keeps a token user and a key user of the same name apart', async () => {
    const byToken = (await (await fetch(`${app.url}/who`, { headers: { Authorization: `Bearer ${await mintToken(keys, { sub: 'alice' })}` } })).json()) as { id: string };
    const byKey = (await (await fetch(`${app.url}/who`, { headers: { 'X-API-Key': 'key-one-0123456789', 'X-User-Id': 'alice' } })).json()) as { id: string };
    expect(byToken.id).toMatch(/^[0-9a-f]{32}$/);
    expect(byToken.id).not.toBe(byKey.id);
  });
});

describe('listen policy and cross-site guard', () => {
  it('count a JWT key as authentication', () => {
    const jwt = loadSettings({ CODECELL_JWT_PUBLIC_KEY: keys.publicPem }).jwt;
    expect(() => enforceListenPolicy({ host: '0.0.0.0', apiKeys: [], allowOpen: false, jwt }, createLogger('silent'))).not.toThrow();
    expect(crossSiteGuard({ apiKeys: [], publicUrl: undefined, jwt })).toBeNull();
    expect(() => enforceListenPolicy({ host: '0.0.0.0', apiKeys: [], allowOpen: false, jwt: null }, createLogger('silent'))).toThrow(/CODECELL_JWT_PUBLIC_KEY/);
  });
});
