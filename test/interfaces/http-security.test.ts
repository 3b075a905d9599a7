/**
 * The HTTP edge of the real server: API keys, users kept apart behind one key, the Host check,
 * health, metrics, request ids, and the refusal to run open on a public address.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { ListenPolicyError } from '../../src/interfaces/http/listen-policy.js';
import { createLogger } from '../../src/logger.js';
import { startHttpServer } from '../../src/server.js';
import { callTool, connectSse, connectStreamable, sessionOf, textOf } from './helpers/mcp-client.js';
import { startTestServer, TEST_KEY, type TestServer } from './helpers/test-server.js';
import { TESTS_USE_DOCKER } from '../helpers/engine.js';

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

/** node:http, because fetch() will not send a Host header of our choosing. */
function getWithHost(path: string, host: string): Promise<number> {
  const url = new URL(path, server.url);
  return new Promise((resolve, reject) => {
    const request = http.request(
      { host: url.hostname, port: url.port, path: url.pathname, headers: { Host: host, Authorization: `Bearer ${TEST_KEY}` } },
      (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      },
    );
    request.on('error', reject);
    request.end();
  });
}

async function executionsCounted(language: string, status: string): Promise<number> {
  const response = await fetch(`${server.url}/metrics`, { headers: { 'X-API-Key': TEST_KEY } });
  const line = (await response.text())
    .split('\n')
    .find((row) => row.startsWith(`codecell_executions_total{language="${language}",status="${status}"}`));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('API keys', () => {
  it.each(['/mcp', '/sse', '/messages?sessionId=x', '/metrics', '/v1/sessions/default/files', '/gradio_api/mcp/sse'])(
    'answers 401 with a JSON body and WWW-Authenticate on %s without a key',
    async (path) => {
      const response = await fetch(`${server.url}${path}`, { method: path.startsWith('/messages') ? 'POST' : 'GET' });
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toContain('Bearer');
      expect(await response.json()).toMatchObject({ error: 'unauthorized' });
    },
  );

  it('refuses an MCP client with a wrong key', async () => {
    await expect(connectStreamable(server.url, { apiKey: 'wrong' })).rejects.toThrow();
    await expect(connectSse(server.url, { apiKey: 'wrong' })).rejects.toThrow();
  });

  it('keeps /healthz open, with details only for a key holder', async () => {
    const open = await fetch(`${server.url}/healthz`);
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({ ok: true });
    const keyed = await fetch(`${server.url}/healthz`, { headers: { 'X-API-Key': TEST_KEY } });
    expect(keyed.status).toBe(200);
    // Every executor reports itself; the Docker executor also keeps its `docker` field.
    const details = await keyed.json();
    expect(details).toMatchObject({ ok: true, executor: { reachable: true } });
    if (TESTS_USE_DOCKER) expect(details).toMatchObject({ docker: { reachable: true } });
  });

  it('answers 400 for a malformed X-User-Id', async () => {
    const response = await fetch(`${server.url}/metrics`, { headers: { 'X-API-Key': TEST_KEY, 'X-User-Id': 'a b' } });
    expect(response.status).toBe(400);
  });
});

describe('users behind one key', () => {
  it('cannot see, use or close each other’s sessions', async () => {
    const alice = await connectStreamable(server.url, { userId: 'alice' });
    const bob = await connectStreamable(server.url, { userId: 'bob' });
    try {
      const aliceResult = await callTool(alice, 'execute_python_code', { code: 'secret = "alice only"' });
      const aliceSession = sessionOf(aliceResult);

      for (const [tool, args] of [
        ['execute_python_code', { code: 'print(secret)', session_id: aliceSession }],
        ['get_execution_history', { session_id: aliceSession }],
        ['reset_execution_session', { session_id: aliceSession }],
        ['close_execution_session', { session_id: aliceSession }],
      ] as const) {
        const result = await callTool(bob, tool, args);
        expect(result.isError, tool).toBe(true);
        expect(textOf(result), tool).toContain('SESSION_NOT_FOUND');
      }
      expect(textOf(await callTool(bob, 'list_execution_sessions'))).not.toContain(aliceSession);
      const bobDefault = await callTool(bob, 'execute_python_code', { code: '"secret" in globals()' });
      expect(sessionOf(bobDefault)).not.toBe(aliceSession);
      expect(bobDefault.structuredContent?.value).toBe('False');

      // Alice's session is untouched by Bob's attempts.
      const again = await callTool(alice, 'execute_python_code', { code: 'secret', session_id: aliceSession });
      expect(again.structuredContent?.value).toBe("'alice only'");
    } finally {
      await alice.close();
      await bob.close();
    }
  });
});

describe('Host header (DNS rebinding guard on loopback)', () => {
  it('accepts loopback names and refuses others', async () => {
    expect(await getWithHost('/healthz', `127.0.0.1:${new URL(server.url).port}`)).toBe(200);
    expect(await getWithHost('/healthz', 'localhost')).toBe(200);
    expect(await getWithHost('/healthz', 'evil.example:80')).toBe(403);
    expect(await getWithHost('/mcp', 'rebound.attacker.test')).toBe(403);
  });
});

describe('metrics and request ids', () => {
  it('counts executions by language and status', async () => {
    const client = await connectStreamable(server.url, { userId: 'metrics-user' });
    const okBefore = await executionsCounted('bash', 'ok');
    const errorBefore = await executionsCounted('bash', 'error');
    await callTool(client, 'execute_bash_command', { command: 'true' });
    await callTool(client, 'execute_bash_command', { command: 'false' });
    await client.close();
    expect(await executionsCounted('bash', 'ok')).toBe(okBefore + 1);
    expect(await executionsCounted('bash', 'error')).toBe(errorBefore + 1);
    const text = await (await fetch(`${server.url}/metrics`, { headers: { 'X-API-Key': TEST_KEY } })).text();
    expect(text).toMatch(/codecell_http_requests_total\{route="\/mcp",code="200"\} \d+/);
  });

  it('echoes a sane X-Request-Id and replaces an unsafe one', async () => {
    const sane = await fetch(`${server.url}/healthz`, { headers: { 'X-Request-Id': 'proxy-1234' } });
    expect(sane.headers.get('x-request-id')).toBe('proxy-1234');
    const unsafe = await fetch(`${server.url}/healthz`, { headers: { 'X-Request-Id': 'a'.repeat(300) } });
    expect(unsafe.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('listen policy', () => {
  it('refuses to start open on a non-loopback address', async () => {
    const settings = loadSettings({}, { HOST: '0.0.0.0', PORT: '0', CODECELL_DATA_DIR: server.dataDir });
    await expect(startHttpServer({ settings, logger: createLogger('silent') })).rejects.toThrow(ListenPolicyError);
  });
});
