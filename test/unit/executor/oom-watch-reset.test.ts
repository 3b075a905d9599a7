/**
 * The engine's event stream reset mid-run (the socket proxy or the engine restarting): the OOM watch
 * answers "unknown" instead of an unhandled 'error' that would end the server. A real HTTP server on
 * loopback plays the engine: it opens the /events stream, then drops the connection.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OomWatch } from '../../../src/executor/docker/oom-watch.js';

let engine: http.Server;
let docker: Docker;

beforeAll(async () => {
  engine = http.createServer((request, response) => {
    if (!request.url?.includes('/events')) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"Type":"container","Action":"start","id":"abc"}\n', () => request.socket.destroy());
  });
  await new Promise<void>((resolve) => engine.listen(0, '127.0.0.1', resolve));
  docker = new Docker({ protocol: 'http', host: '127.0.0.1', port: (engine.address() as AddressInfo).port });
});

afterAll(async () => {
  await new Promise<void>((resolve) => engine.close(() => resolve()));
});

describe('OomWatch on a reset event stream', () => {
  it('reports the verdict as unknown, and the process keeps running', async () => {
    const watch = await OomWatch.start(docker, 'abc');
    await expect(watch.afterDeath()).resolves.toEqual({ known: false });
  });
});
