/**
 * Attacks on the metrics-only key and the scrape-time executor check, against a real server on
 * loopback: the key opens GET /metrics and nothing else (no method, path trick or other route), and
 * a hung Docker engine neither hangs /metrics nor gets one open request per scrape. Docker is
 * reached through a forwarder that the test can make hang (accept, never answer).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_KEY, type TestServer } from './helpers/test-server.js';

const METRICS_KEY = 'metrics-only-key-0123456789abcdef';
const NO_POOLS = { CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0', CODECELL_POOL_BASH: '0' };

/** A Unix socket in front of Docker's: forwards, or (hung) takes connections and never answers them. */
class HangableDocker {
  private readonly connections = new Set<net.Socket>();
  private readonly hungSockets = new Set<net.Socket>();
  private hung = false;
  /** Connections taken while hung: one per Docker request the server left open. */
  hungConnections = 0;
  private readonly server = net.createServer((client) => {
    this.track(client);
    if (this.hung) {
      this.hungConnections += 1;
      this.hungSockets.add(client);
      return;
    }
    const upstream = net.connect(this.target);
    this.track(upstream);
    const cut = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', cut);
    upstream.on('error', cut);
    client.pipe(upstream).pipe(client);
  });

  constructor(
    readonly socketPath: string,
    private readonly target: string,
  ) {}

  private track(socket: net.Socket): void {
    this.connections.add(socket);
    socket.on('close', () => this.connections.delete(socket));
    socket.on('error', () => socket.destroy()); // a peer that gave up (aborted ping) is no test failure
  }

  listen(): Promise<void> {
    return new Promise((resolve) => this.server.listen(this.socketPath, resolve));
  }

  /** Cuts every forwarded connection (no kept-alive one can answer) and hangs all new ones. */
  hang(): void {
    this.hung = true;
    for (const socket of this.connections) socket.destroy();
  }

  /** Cuts the hung connections and forwards again. */
  recover(): void {
    this.hung = false;
    for (const socket of this.hungSockets) socket.destroy();
    this.hungSockets.clear();
  }

  close(): Promise<void> {
    for (const socket of this.connections) socket.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** A raw request (node:http, so the path is sent byte for byte: fetch would resolve `..` and `//`). */
function raw(base: string, method: string, rawPath: string, headers: Record<string, string> = {}, body?: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const request = http.request({ host: url.hostname, port: url.port, method, path: rawPath, headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.on('error', reject);
    if (body !== undefined) request.setHeader('content-length', Buffer.byteLength(body));
    request.end(body);
  });
}

const asBearer = { authorization: `Bearer ${METRICS_KEY}` };
const asApiKeyHeader = { 'x-api-key': METRICS_KEY };

let dir: string;
let docker: HangableDocker;
let server: TestServer;

beforeAll(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'codecell-metrics-attacks-'));
  docker = new HangableDocker(path.join(dir, 'docker.sock'), '/var/run/docker.sock');
  await docker.listen();
  server = await startTestServer({ env: { ...NO_POOLS, DOCKER_SOCKET: docker.socketPath, CODECELL_METRICS_KEYS: METRICS_KEY } });
});

afterAll(async () => {
  docker?.recover(); // shutting down lists and removes the server's containers
  await server?.close();
  await docker?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the metrics-only key', () => {
  it('reads the metrics with GET, as Bearer or X-API-Key', async () => {
    for (const headers of [asBearer, asApiKeyHeader]) {
      const response = await raw(server.url, 'GET', '/metrics', headers);
      expect(response.status).toBe(200);
      expect(response.body).toContain('codecell_executions_total{language="python",status="oom"} 0');
    }
  });

  it.each([
    ['POST', '/metrics'],
    ['PUT', '/metrics'],
    ['DELETE', '/metrics'],
    ['PATCH', '/metrics'],
    ['GET', '/metrics/../mcp'],
    ['POST', '/metrics/../mcp'],
    ['GET', '/metrics/..%2fv1/sessions'],
    ['GET', '//metrics'],
    ['GET', '/%6detrics'],
    ['GET', '/metricsx'],
    ['GET', '/metrics.txt'],
    ['POST', '/mcp'],
    ['GET', '/mcp'],
    ['GET', '/sse'],
    ['POST', '/messages?sessionId=x'],
    ['GET', '/gradio_api/mcp/sse'],
    ['GET', '/v1/sessions/default/files'],
    ['POST', '/v1/exec'],
    ['GET', '/v1/download/abc/def'],
    ['GET', '/v1/files/abc'],
  ])('opens nothing else: %s %s answers 401', async (method, rawPath) => {
    const body = method === 'GET' ? undefined : JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: {} });
    for (const headers of [asBearer, asApiKeyHeader]) {
      const response = await raw(server.url, method, rawPath, { ...headers, 'content-type': 'application/json', accept: 'application/json, text/event-stream' }, body);
      expect(response.status).toBe(401);
      expect(response.body).not.toContain('codecell_');
    }
  });

  it('is compared whole: a prefix, an extension or another case of it opens nothing', async () => {
    for (const offered of [METRICS_KEY.slice(0, -1), `${METRICS_KEY}x`, METRICS_KEY.toUpperCase(), '', ' ']) {
      expect((await raw(server.url, 'GET', '/metrics', { authorization: `Bearer ${offered}` })).status).toBe(401);
      expect((await raw(server.url, 'GET', '/metrics', { 'x-api-key': offered })).status).toBe(401);
    }
  });

  it('gets no details from /healthz or /readyz', async () => {
    expect(await raw(server.url, 'GET', '/healthz', asBearer)).toEqual({ status: 200, body: '{"ok":true}' });
    expect(await raw(server.url, 'GET', '/readyz', asBearer)).toEqual({ status: 200, body: '{"ready":true}' });
    expect(await raw(server.url, 'GET', '/readyz')).toEqual({ status: 200, body: '{"ready":true}' });
  });

  it('cannot make unbounded route labels: arbitrary paths are counted as "other"', async () => {
    for (let i = 0; i < 20; i += 1) await raw(server.url, 'GET', `/nowhere-${i}/x`, asBearer);
    const text = (await raw(server.url, 'GET', '/metrics', asBearer)).body;
    expect(text).not.toContain('nowhere-');
    expect(text).toMatch(/^codecell_http_requests_total\{route="other",code="401"\} \d+$/m);
  });
});

describe('/metrics, /healthz and /readyz while Docker hangs', () => {
  it('answers every scrape with the executor down, holding one Docker request at most; health says not ok; all recover', async () => {
    docker.hang();
    const scrapes = await Promise.all(Array.from({ length: 30 }, () => raw(server.url, 'GET', '/metrics', asBearer)));
    for (const scrape of scrapes) {
      expect(scrape.status).toBe(200);
      expect(scrape.body).toMatch(/^codecell_executor_up\{executor="docker"\} 0$/m);
    }
    // 30 concurrent scrapes share one ping to the hung engine, not one connection each (a second one
    // only if a scrape came after the first ping timed out).
    expect(docker.hungConnections).toBeGreaterThanOrEqual(1);
    expect(docker.hungConnections).toBeLessThanOrEqual(2);
    // Health and readiness do not hang with the engine either: its ping gives up, and they say not ok.
    expect(await raw(server.url, 'GET', '/healthz')).toEqual({ status: 503, body: '{"ok":false}' });
    expect(await raw(server.url, 'GET', '/readyz')).toEqual({ status: 503, body: '{"ready":false}' });
    const detailed = await raw(server.url, 'GET', '/readyz', { authorization: `Bearer ${TEST_KEY}` });
    expect(detailed.status).toBe(503);
    expect(JSON.parse(detailed.body)).toMatchObject({ ready: false, reason: expect.stringContaining('the executor does not answer') });

    docker.recover();
    let up = '';
    while (!/^codecell_executor_up\{executor="docker"\} 1$/m.test(up)) up = (await raw(server.url, 'GET', '/metrics', asBearer)).body;
    expect((await raw(server.url, 'GET', '/healthz')).status).toBe(200);
    // An API key still works for the API after all of the above.
    expect((await raw(server.url, 'GET', '/v1/sessions/default/files', { authorization: `Bearer ${TEST_KEY}` })).status).not.toBe(401);
  });
});
