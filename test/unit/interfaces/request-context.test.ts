/** Request ids: taken from a sane X-Request-Id or made, echoed, and visible to work the request starts. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger } from '../../../src/logger.js';
import { currentClientGone, currentRequestId, inRequestScope, requestContext, saneRequestId } from '../../../src/interfaces/http/request-context.js';

let server: http.Server;
let url: string;
let baseUrl: string;
/** What the /slow and /quick routes saw of currentClientGone(), once their response closed. */
const closedSeen: Array<{ route: string; aborted: boolean | null }> = [];
let onClosedSeen: () => void = () => undefined;

beforeAll(async () => {
  const app = express();
  app.use(requestContext(createLogger('silent')));
  app.use(express.json());
  app.post('/work', (req, res) => {
    void inRequestScope(req, async () => {
      // Deep inside later async work, as an MCP tool handler would be.
      await new Promise((resolve) => setImmediate(resolve));
      res.json({ seen: currentRequestId() ?? null });
    });
  });
  // Never answers on its own: the client has to give up.
  app.get('/slow', (req, res) => {
    void inRequestScope(req, async () => {
      const gone = currentClientGone();
      res.flushHeaders();
      if (gone !== undefined && !gone.aborted) await new Promise((resolve) => gone.addEventListener('abort', resolve, { once: true }));
      closedSeen.push({ route: 'slow', aborted: gone?.aborted ?? null });
      onClosedSeen();
    });
  });
  app.get('/quick', (req, res) => {
    void inRequestScope(req, async () => {
      const gone = currentClientGone();
      res.on('close', () => {
        closedSeen.push({ route: 'quick', aborted: gone?.aborted ?? null });
        onClosedSeen();
      });
      res.json({ ok: true });
    });
  });
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  url = `${baseUrl}/work`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
});

async function post(headers: Record<string, string>): Promise<{ echoed: string | null; seen: unknown }> {
  const response = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: '{"a":1}' });
  const { seen } = z.object({ seen: z.string().nullable() }).parse(await response.json());
  return { echoed: response.headers.get('x-request-id'), seen };
}

describe('request ids', () => {
  it('keeps a sane caller id, echoes it, and exposes it to async work after body parsing', async () => {
    const { echoed, seen } = await post({ 'X-Request-Id': 'lb-42:abc' });
    expect(echoed).toBe('lb-42:abc');
    expect(seen).toBe('lb-42:abc');
  });

  it('makes a UUID when the caller sends none or an unsafe one', async () => {
    const headerSets: Record<string, string>[] = [{}, { 'X-Request-Id': 'has space' }, { 'X-Request-Id': 'x'.repeat(129) }];
    for (const headers of headerSets) {
      const { echoed, seen } = await post(headers);
      expect(echoed).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(seen).toBe(echoed);
    }
  });

  it('accepts only short printable ids', () => {
    expect(saneRequestId('abc-123_x.y@z')).toBe('abc-123_x.y@z');
    expect(saneRequestId(undefined)).toBeNull();
    expect(saneRequestId('a\nb')).toBeNull();
  });
});

describe('client gone', () => {
  function nextClosedSeen(): Promise<void> {
    return new Promise((resolve) => (onClosedSeen = resolve));
  }

  it('aborts the request scope\'s signal when the client closes before the answer', async () => {
    const seen = nextClosedSeen();
    const client = new AbortController();
    const response = await fetch(`${baseUrl}/slow`, { signal: client.signal });
    expect(response.status).toBe(200);
    client.abort();
    await seen;
    expect(closedSeen.at(-1)).toEqual({ route: 'slow', aborted: true });
  });

  it('leaves it alone once the answer is complete', async () => {
    const seen = nextClosedSeen();
    const response = await fetch(`${baseUrl}/quick`);
    expect(await response.json()).toEqual({ ok: true });
    await seen;
    expect(closedSeen.at(-1)).toEqual({ route: 'quick', aborted: false });
  });

  it('is undefined outside a request scope', () => {
    expect(currentClientGone()).toBeUndefined();
  });
});
