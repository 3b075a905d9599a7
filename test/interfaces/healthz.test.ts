/**
 * /healthz over real HTTP: ok or not ok for everyone, the details for callers who may use the API,
 * and Docker's error text never for anyone else. Docker is taken away from the server by giving it
 * the engine's socket through a forwarder that the test closes.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_KEY, type TestServer } from './helpers/test-server.js';

const NO_POOLS = {
  CODECELL_POOL_PYTHON: '0',
  CODECELL_POOL_PYTHON_LEAN: '0',
  CODECELL_POOL_NODE: '0',
  CODECELL_POOL_BASH: '0',
};

/** A Unix socket that forwards every connection to the Docker engine's, until closed. */
class SocketForwarder {
  private server: net.Server | null = null;
  private readonly connections = new Set<net.Socket>();

  constructor(
    readonly socketPath: string,
    private readonly target: string,
  ) {}

  /** Listens (again). Idempotent. */
  async open(): Promise<void> {
    if (this.server !== null) return;
    const server = net.createServer((client) => {
      const upstream = net.connect(this.target);
      for (const socket of [client, upstream]) {
        this.connections.add(socket);
        socket.on('close', () => this.connections.delete(socket));
        socket.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.socketPath, resolve);
    });
    this.server = server;
  }

  /** Stops listening (the socket file goes) and cuts every open connection. */
  async close(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of this.connections) socket.destroy();
    await closed;
  }
}

async function health(server: TestServer, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  const response = await fetch(`${server.url}/healthz`, { headers });
  return { status: response.status, body: await response.text() };
}

/** The value of codecell_executor_up{executor="docker"} in /metrics (read at scrape time). */
async function executorUp(server: TestServer): Promise<string | undefined> {
  const text = await (await fetch(`${server.url}/metrics`, { headers: { 'X-API-Key': TEST_KEY } })).text();
  return /^codecell_executor_up\{executor="docker"\} (\S+)$/m.exec(text)?.[1];
}

describe('/healthz with API keys', () => {
  let dir: string;
  let forwarder: SocketForwarder;
  let server: TestServer;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'codecell-healthz-'));
    forwarder = new SocketForwarder(path.join(dir, 'docker.sock'), '/var/run/docker.sock');
    await forwarder.open();
    server = await startTestServer({ env: { ...NO_POOLS, DOCKER_HOST: '', DOCKER_SOCKET: forwarder.socketPath } });
  });

  afterAll(async () => {
    await forwarder?.open(); // shutting down lists and removes the server's containers
    await server?.close();
    await forwarder?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('tells a caller without a key only that it is up, and a key holder the details', async () => {
    expect(await health(server)).toEqual({ status: 200, body: '{"ok":true}' });
    expect(await health(server, { Authorization: 'Bearer wrong-key' })).toEqual({ status: 200, body: '{"ok":true}' });
    const detailed = await health(server, { Authorization: `Bearer ${TEST_KEY}` });
    expect(detailed.status).toBe(200);
    expect(JSON.parse(detailed.body)).toMatchObject({
      ok: true,
      executor: {
        kind: 'docker',
        reachable: true,
        isolation: { mode: 'container', layers: { network: 'none', capabilities: 'all dropped', rootfs: 'read-only' } },
      },
      docker: { reachable: true },
      pool: expect.any(Object),
      queue: { running: 0, waiting: 0 },
    });
  });

  it('says 503 without Docker, and keeps Docker’s error text for key holders', async () => {
    await forwarder.close();
    // Probes share one Docker check for a second (ops-routes.ts): wait until one sees Docker gone.
    let anonymous = await health(server);
    while (anonymous.status === 200) anonymous = await health(server);
    expect(anonymous).toEqual({ status: 503, body: '{"ok":false}' });
    expect(anonymous.body).not.toContain(forwarder.socketPath);

    const detailed = await health(server, { 'X-API-Key': TEST_KEY });
    expect(detailed.status).toBe(503);
    const report = JSON.parse(detailed.body) as {
      ok: boolean;
      executor: { kind: string; reachable: boolean; error?: string };
      docker: { reachable: boolean; error?: string };
    };
    expect(report.ok).toBe(false);
    expect(report.executor).toMatchObject({ kind: 'docker', reachable: false });
    expect(report.executor.error).toContain(forwarder.socketPath);
    expect(report.docker.reachable).toBe(false);
    expect(report.docker.error).toContain(forwarder.socketPath);
    // Readiness and the executor-up gauge follow the same executor health.
    const ready = await fetch(`${server.url}/readyz`, { headers: { 'X-API-Key': TEST_KEY } });
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { reason: string }).reason).toMatch(/^the executor does not answer: .*docker\.sock/);
    expect(await executorUp(server)).toBe('0');

    await forwarder.open();
    let recovered = await health(server);
    while (recovered.status === 503) recovered = await health(server);
    expect(recovered).toEqual({ status: 200, body: '{"ok":true}' });
    expect(await executorUp(server)).toBe('1');
  });
});

describe('/healthz on a server without keys (loopback only)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { ...NO_POOLS, CODECELL_API_KEYS: '' } });
  });

  afterAll(async () => {
    await server?.close();
  });

  it('gives every caller the details: anyone who reaches it may run code anyway', async () => {
    const answer = await health(server);
    expect(answer.status).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({ ok: true, docker: { reachable: true }, queue: { running: 0, waiting: 0 } });
  });
});
