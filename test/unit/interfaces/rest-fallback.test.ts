/** The /v1 fallback: 405 with Allow for a known path, 404 in REST terms naming the routes. No Docker. */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createFilesRouter } from '../../../src/interfaces/http/files-router.js';
import { restFallback, restRoutesOf, routeFits } from '../../../src/interfaces/http/rest-fallback.js';
import { filesFixture, type FilesFixture } from '../files/helpers.js';

let fx: FilesFixture;
let server: ReturnType<express.Express['listen']>;
let base: string;

beforeAll(async () => {
  fx = await filesFixture();
  const app = express();
  const routers = [createFilesRouter({ files: fx.files, principalOf: () => fx.alice })];
  app.use('/v1', ...routers);
  app.use('/v1', restFallback('/v1', routers));
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  server.close();
  await fx.cleanup();
});

describe('route paths', () => {
  it('fits one segment to :name and the rest to *name', () => {
    expect(routeFits('/sessions/:session/files', '/sessions/default/files')).toBe(true);
    expect(routeFits('/sessions/:session/files', '/sessions/a/b/files')).toBe(false);
    expect(routeFits('/sessions/:session/files/*path', '/sessions/default/files/a/b.txt')).toBe(true);
    expect(routeFits('/sessions/:session/files/*path', '/sessions/default/files/')).toBe(false);
    expect(routeFits('/upload/batch', '/upload/batch')).toBe(true);
    expect(routeFits('/upload', '/upload/batch')).toBe(false);
  });

  it('reads the routes a router really has, HEAD with GET', () => {
    const router = express.Router();
    router.get('/a/:id', (_req, res) => res.end());
    router.delete('/a/:id', (_req, res) => res.end());
    router.use((_req, _res, next) => next());
    expect(restRoutesOf([router])).toEqual([
      { methods: ['GET', 'HEAD'], path: '/a/:id' },
      { methods: ['DELETE'], path: '/a/:id' },
    ]);
  });
});

describe('the /v1 fallback over HTTP', () => {
  it('answers a wrong method on an existing path with 405 and an Allow header', async () => {
    const response = await fetch(`${base}/v1/sessions/default/files/h.txt`, { method: 'PUT', body: 'x' });
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe('GET, HEAD, DELETE');
    expect(await response.json()).toEqual({
      error: 'method_not_allowed',
      message: 'PUT is not allowed on /v1/sessions/default/files/h.txt; it takes GET, DELETE',
    });
  });

  it('answers an unknown /v1 path with 404 listing the /v1 routes, without MCP talk', async () => {
    const response = await fetch(`${base}/v1/nothing`);
    expect(response.status).toBe(404);
    const body = (await response.json()) as { error: string; message: string };
    expect(body.error).toBe('not_found');
    expect(body.message).toContain('no such route: /v1/nothing');
    expect(body.message).toContain('POST /v1/sessions/{session}/files');
    expect(body.message).toContain('GET /v1/sessions/{session}/files/{path}');
    expect(body.message).not.toMatch(/MCP|\/mcp|\/sse/);
  });

  it('leaves routes that exist to their routers', async () => {
    const response = await fetch(`${base}/v1/sessions/default/files`);
    expect(response.status).toBe(200);
  });
});
