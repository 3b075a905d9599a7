/** Errors raised before a route runs, sorted once, on a bare express app over loopback. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bodyTooLargeMessage, requestErrorKind, restRequestErrorHandler } from '../../../src/interfaces/http/request-errors.js';

let server: http.Server;
let base: string;

beforeAll(async () => {
  const app = express();
  const sorted = express.Router();
  sorted.post('/body', express.json({ limit: 1024 }), (_req, res) => {
    res.json({ kind: 'none' });
  });
  sorted.get('/files/:name', (_req, res) => {
    res.json({ kind: 'none' });
  });
  sorted.get('/boom', () => {
    throw new Error('boom');
  });
  app.use('/kind', sorted, ((error, _req, res, _next) => {
    res.status(299).json({ kind: requestErrorKind(error) });
  }) as express.ErrorRequestHandler);
  app.use('/rest', express.Router().post('/body', express.json({ limit: 1024 }), (_req, res) => res.json({})), restRequestErrorHandler({ bytes: 1024, hint: 'use files' }));
  server = http.createServer(app);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const postJson = (path: string, body: string) => fetch(`${base}${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });

describe('requestErrorKind', () => {
  it('sorts bodies that are too large or not JSON, bad %-escapes, and leaves the rest to the app', async () => {
    expect(await (await postJson('/kind/body', '{"a":')).json()).toEqual({ kind: 'body-not-json' });
    expect(await (await postJson('/kind/body', JSON.stringify({ a: 'x'.repeat(2000) }))).json()).toEqual({ kind: 'body-too-large' });
    expect(await (await fetch(`${base}/kind/files/%E0%A4%A`)).json()).toEqual({ kind: 'malformed' });
    expect(await (await fetch(`${base}/kind/boom`)).json()).toEqual({ kind: null });
  });
});

describe('restRequestErrorHandler', () => {
  it('answers them as REST errors, naming the limit in IEC units', async () => {
    const tooLarge = await postJson('/rest/body', JSON.stringify({ a: 'x'.repeat(2000) }));
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toEqual({ error: 'FILE_TOO_LARGE', message: 'the request body is larger than 1 KiB: use files' });
    const notJson = await postJson('/rest/body', '{');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toMatchObject({ error: 'INVALID_INPUT' });
  });
});

describe('bodyTooLargeMessage', () => {
  it('writes the limit with the hint', () => {
    expect(bodyTooLargeMessage({ bytes: 16 * 1024 * 1024, hint: 'put large data in files' })).toBe(
      'the request body is larger than 16 MiB: put large data in files',
    );
  });
});
