/**
 * Idle MCP transport sessions, end to end over real HTTP on loopback: the real app (createApp) with
 * the real transports and session registry, a FakeEngine behind it, and the registry's clock moved
 * by the test instead of waited for. The server's sweep timer only calls evictIdle(); here the test
 * calls it after moving the clock.
 */
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../../src/interfaces/http/create-app.js';
import { McpSessionRegistry } from '../../../src/interfaces/mcp/transports/mcp-session-registry.js';
import { createLogger } from '../../../src/logger.js';
import { Metrics } from '../../../src/metrics/metrics.js';
import { startFakeEngine, type FakeEngineFixture } from '../../fakes/fake-engine.js';
import { openSseEndpoint } from '../../interfaces/helpers/mcp-client.js';

const KEY = 'idle-test-key-0123456789';
const IDLE_MS = 60_000;

let fx: FakeEngineFixture;
let registry: McpSessionRegistry;
let server: Server;
let base: string;
let now = 0;

beforeAll(async () => {
  fx = await startFakeEngine({ HOST: '127.0.0.1', CODECELL_API_KEYS: KEY });
  const logger = createLogger('silent');
  registry = new McpSessionRegistry({ idleMs: IDLE_MS, logger, now: () => now });
  const app = createApp({
    settings: fx.settings,
    logger,
    metrics: new Metrics({ collectProcessMetrics: false }),
    engine: fx.engine,
    files: fx.files,
    registry,
    keepAliveMs: 60_000,
  });
  server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await registry?.closeAll();
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await fx?.close();
});

const HEADERS = {
  Authorization: `Bearer ${KEY}`,
  'Content-Type': 'application/json',
  Accept: 'application/json, text/event-stream',
};

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

async function initialize(): Promise<string> {
  const response = await fetch(`${base}/mcp`, { method: 'POST', headers: HEADERS, body: JSON.stringify(INITIALIZE) });
  expect(response.status).toBe(200);
  await response.text();
  const sessionId = response.headers.get('mcp-session-id');
  if (sessionId === null) throw new Error('no Mcp-Session-Id');
  return sessionId;
}

async function listTools(sessionId: string): Promise<number> {
  const response = await fetch(`${base}/mcp`, {
    method: 'POST',
    headers: { ...HEADERS, 'Mcp-Session-Id': sessionId },
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
  });
  await response.text();
  return response.status;
}

/** Opens a legacy SSE stream and reads up to its endpoint event; the stream stays open. */
function openSse(): Promise<{ endpoint: string; close: () => Promise<void> }> {
  return openSseEndpoint(`${base}/sse`, { Authorization: `Bearer ${KEY}` });
}

async function postSse(endpoint: string): Promise<number> {
  const response = await fetch(`${base}${endpoint}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify(INITIALIZE),
  });
  await response.text();
  return response.status;
}

describe('idle MCP sessions', () => {
  it('evicts a Streamable HTTP session idle longer than the limit; clients then get 404', async () => {
    const idle = await initialize();
    expect(await listTools(idle)).toBe(200);
    now += IDLE_MS - 1;
    const fresh = await initialize();
    expect(await registry.evictIdle()).toBe(0); // not yet past the limit
    now += 2;
    expect(await registry.evictIdle()).toBe(1);
    expect(await listTools(idle)).toBe(404);
    expect(await listTools(fresh)).toBe(200);
  });

  it('never evicts a legacy SSE session while its stream is open; closing the stream ends it', async () => {
    const stream = await openSse();
    now += IDLE_MS * 10;
    await registry.evictIdle();
    expect(await postSse(stream.endpoint)).toBe(202);

    await stream.close();
    // The end of the stream reaches the server with its socket: ask until it has.
    let status = 202;
    while (status === 202) status = await postSse(stream.endpoint);
    expect(status).toBe(404);
  });
});
