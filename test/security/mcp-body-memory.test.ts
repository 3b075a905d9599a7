/**
 * The MCP body cap (~34 MiB, to fit a 25 MiB upload as base64) holds for every MCP request, and
 * the per-user and per-key request budgets count requests, not bytes. Many principals under one
 * key send capped bodies at once: the server must keep answering (not die of its heap), and
 * bytes in flight are capped server-wide (src/interfaces/http/body-bytes-budget.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestServer, TEST_KEY, type TestServer } from '../interfaces/helpers/test-server.js';
import { mcpBodyLimitBytes } from '../../src/interfaces/http/create-app.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

describe('MCP bodies at the cap, many at once', () => {
  it('keeps serving while 64 principals of one key each send a body just under the cap', async () => {
    const limit = mcpBodyLimitBytes(server.settings.limits.maxFileBytes);
    const head = '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"upload_file","arguments":{"path":"a.bin","content_base64":"';
    const tail = '"}}}';
    const body = Buffer.alloc(limit - 4096, 'A');
    body.write(head, 0, 'latin1');
    body.write(tail, body.length - tail.length, 'latin1');
    const statuses = await Promise.all(
      Array.from({ length: 64 }, (_, index) =>
        fetch(`${server.url}/mcp`, {
          method: 'POST',
          headers: { 'X-API-Key': TEST_KEY, 'X-User-Id': `user-${index}`, 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
          body,
        }).then(async (response) => { await response.arrayBuffer(); return response.status; }, (error: unknown) => String(error)),
      ),
    );
    const health = await fetch(`${server.url}/healthz`);
    expect(health.status).toBe(200);
    const seen = JSON.stringify(statuses);
    expect(statuses.every((status) => typeof status === 'number'), seen).toBe(true);
    // Bytes in flight are capped server-wide (four bodies at the cap): the rest are refused unread
    // (how many depends on how fast the first are answered, so only both kinds are asserted).
    expect(statuses.filter((status) => status === 503).length, seen).toBeGreaterThan(0);
    // The admitted ones reach MCP (400: no MCP session). On a loaded machine the flood can delay one
    // request's reading past the server's header timeout: 408 is a refusal too, not a failure.
    expect(statuses.filter((status) => status !== 503).every((status) => status === 400 || status === 408), seen).toBe(true);
    expect(statuses.filter((status) => status === 400).length, seen).toBeGreaterThan(0);
    // A small request of a principal that sent nothing still passes the budget (and reaches MCP).
    const small = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: { 'X-API-Key': TEST_KEY, 'X-User-Id': 'bystander', 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'b', version: '0' } } }),
    });
    expect(small.status).toBe(200);
    await small.body?.cancel();
  });
});
