/**
 * The MCP transports as clients meet them: Streamable HTTP and legacy SSE (plus the recipe's
 * Gradio paths), sessions that outlive connections, 404 for unknown or foreign MCP sessions,
 * keep-alive comments and body limits (idle eviction: test/unit/interfaces/mcp-transport-idle.test.ts).
 */
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectSse, connectStreamable, headersFor, openSseEndpoint, sessionOf, textOf, type Caller } from './helpers/mcp-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const KEEP_ALIVE_MS = 200;

let server: TestServer;

beforeAll(async () => {
  // Idle eviction is tested without waiting for it: test/unit/interfaces/mcp-transport-idle.test.ts.
  server = await startTestServer({ keepAliveMs: KEEP_ALIVE_MS });
});

afterAll(async () => {
  await server?.close();
});

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'raw', version: '1' } },
};

function mcpHeaders(caller: Caller = {}, sessionId?: string): Record<string, string> {
  return {
    ...headersFor(caller),
    'Content-Type': 'application/json',
    Accept: 'application/json, text/event-stream',
    ...(sessionId === undefined ? {} : { 'Mcp-Session-Id': sessionId }),
  };
}

/** Initializes over raw HTTP and returns the Mcp-Session-Id the server assigned. */
async function rawInitialize(caller: Caller = {}): Promise<string> {
  const response = await fetch(`${server.url}/mcp`, { method: 'POST', headers: mcpHeaders(caller), body: JSON.stringify(INITIALIZE) });
  expect(response.status).toBe(200);
  await response.text();
  const sessionId = response.headers.get('mcp-session-id');
  if (sessionId === null) throw new Error('no Mcp-Session-Id');
  return sessionId;
}

async function rawListTools(sessionId: string, caller: Caller = {}): Promise<Response> {
  return fetch(`${server.url}/mcp`, {
    method: 'POST',
    headers: mcpHeaders(caller, sessionId),
    body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
  });
}

/** Reads an SSE response until `done` says what arrived is enough, then cancels it. */
async function readUntil(response: Response, done: (text: string) => boolean): Promise<string> {
  const reader = response.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  let text = '';
  while (!done(text)) {
    const chunk = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
  }
  await reader.cancel();
  return text;
}

/** Opens a legacy SSE stream on this server and reads until the endpoint event; it stays open until close(). */
function openSseStream(path: string, caller: Caller = {}): Promise<{ endpoint: string; close: () => Promise<void> }> {
  return openSseEndpoint(`${server.url}${path}`, headersFor(caller));
}

describe('state across connections and transports', () => {
  it('keeps Python state across separate SSE and Streamable HTTP connections with the same session id', async () => {
    const first = await connectSse(server.url);
    const session = sessionOf(await callTool(first, 'create_execution_session'));
    const set = await callTool(first, 'execute_python_code', { code: 'import math\nanswer = math.cos(0) * 42', session_id: session });
    expect(set.isError, textOf(set)).toBe(false);
    await first.close();

    const second = await connectStreamable(server.url);
    const read = await callTool(second, 'execute_python_code', { code: 'print(answer)', session_id: session });
    expect(read.structuredContent?.stdout).toBe('42.0\n');
    await second.close();
  });

  it('keeps JavaScript state across connections', async () => {
    const first = await connectStreamable(server.url);
    const session = sessionOf(await callTool(first, 'create_execution_session'));
    await callTool(first, 'execute_javascript_code', { code: 'function square(n) { return n * n }\nlet total = 5', session_id: session });
    await first.close();

    const second = await connectSse(server.url);
    const read = await callTool(second, 'execute_javascript_code', { code: 'console.log(square(total))', session_id: session });
    expect(read.structuredContent?.stdout).toBe('25\n');
    await second.close();
  });

  it('keeps bash variables, functions and the working directory across connections', async () => {
    const first = await connectSse(server.url);
    const session = sessionOf(await callTool(first, 'create_execution_session'));
    await callTool(first, 'execute_bash_command', {
      command: 'GREETING=hello\ngreet() { echo "$GREETING $1"; }\nmkdir -p sub && cd sub',
      session_id: session,
    });
    await first.close();

    const second = await connectStreamable(server.url);
    const read = await callTool(second, 'execute_bash_command', { command: 'greet world; pwd', session_id: session });
    expect(read.structuredContent?.stdout).toBe('hello world\n/mnt/data/sub\n');
    await second.close();
  });

  it('gives a caller the same default session on every connection', async () => {
    const caller = { userId: 'default-session-user' };
    const first = await connectStreamable(server.url, caller);
    const set = await callTool(first, 'execute_python_code', { code: 'remembered = "yes"' });
    await first.close();
    const second = await connectSse(server.url, caller);
    const read = await callTool(second, 'execute_python_code', { code: 'remembered' });
    expect(read.structuredContent?.value).toBe("'yes'");
    expect(sessionOf(read)).toBe(sessionOf(set));
    await second.close();
  });
});

describe('the recipe’s Gradio paths', () => {
  it('serves legacy SSE at /gradio_api/mcp/sse, posting to /gradio_api/mcp/messages', async () => {
    const stream = await openSseStream('/gradio_api/mcp/sse');
    expect(stream.endpoint).toMatch(/^\/gradio_api\/mcp\/messages\?sessionId=[0-9a-f-]{36}$/);
    await stream.close();

    const client = await connectSse(server.url, {}, '/gradio_api/mcp/sse');
    const result = await callTool(client, 'execute_python_code', { code: 'print("via gradio path")' });
    expect(result.structuredContent?.stdout).toBe('via gradio path\n');
    await client.close();
  });

  it('serves Streamable HTTP at /gradio_api/mcp too', async () => {
    const client = await connectStreamable(server.url, {}, '/gradio_api/mcp');
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name)).toContain('execute_bash_command');
    await client.close();
  });
});

describe('Streamable HTTP session handling', () => {
  it('serves /mcp itself, without a redirect', async () => {
    const response = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: mcpHeaders(),
      body: JSON.stringify(INITIALIZE),
      redirect: 'manual',
    });
    expect(response.status).toBe(200);
    await response.text();
  });

  it('answers an unknown Mcp-Session-Id with 404, so clients initialize again', async () => {
    const response = await rawListTools(randomUUID());
    expect(response.status).toBe(404);
    expect(await response.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32001 } });
  });

  it('answers a session used by another principal with 404, like an unknown one', async () => {
    const sessionId = await rawInitialize({ userId: 'owner' });
    const foreign = await rawListTools(sessionId, { userId: 'intruder' });
    expect(foreign.status).toBe(404);
    const own = await rawListTools(sessionId, { userId: 'owner' });
    expect(own.status).toBe(200);
    expect(await own.text()).toContain('execute_python_code');
  });

  it('ends a session on DELETE', async () => {
    const sessionId = await rawInitialize();
    const deleted = await fetch(`${server.url}/mcp`, { method: 'DELETE', headers: mcpHeaders({}, sessionId) });
    expect(deleted.status).toBe(200);
    expect((await rawListTools(sessionId)).status).toBe(404);
  });

  it('asks for initialize when a request has no session id', async () => {
    const response = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: mcpHeaders(),
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/list' }),
    });
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain('initialize');
  });

  // The cap is a 25 MiB upload as base64 plus 1 MiB: 34.3 MiB at the default CODECELL_MAX_FILE_MB.
  const OVER_THE_BODY_CAP = 36 * 1024 * 1024;

  it('refuses bodies over the cap (an upload_file of the largest file as base64) with 413 and a JSON-RPC error', async () => {
    const sessionId = await rawInitialize();
    const response = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: mcpHeaders({}, sessionId),
      body: JSON.stringify({ jsonrpc: '2.0', id: 3, method: 'tools/call', params: { name: 'x', arguments: { code: 'x'.repeat(OVER_THE_BODY_CAP) } } }),
    });
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ jsonrpc: '2.0', error: { message: expect.stringMatching(/larger than 34 MiB: upload_file takes files up to 25 MiB/) } });
  });

  it('names the REST upload route in the 413 of an upload_file call too', async () => {
    const sessionId = await rawInitialize();
    const content = 'x'.repeat(OVER_THE_BODY_CAP);
    const response = await fetch(`${server.url}/mcp`, {
      method: 'POST',
      headers: mcpHeaders({}, sessionId),
      body: JSON.stringify({ jsonrpc: '2.0', id: 4, method: 'tools/call', params: { name: 'upload_file', arguments: { filename: 'big.csv', content } } }),
    });
    expect(response.status).toBe(413);
    const { error } = (await response.json()) as { error: { message: string } };
    expect(error.message).toContain('POST /v1/sessions/default/files');
  });
});

describe('legacy SSE session handling', () => {
  it('sends keep-alive comments on a quiet stream', async () => {
    const stream = await fetch(`${server.url}/sse`, { headers: headersFor() });
    const keepAlives = (text: string): number => text.match(/^: keep-alive$/gm)?.length ?? 0;
    const text = await readUntil(stream, (sofar) => keepAlives(sofar) >= 2);
    expect(keepAlives(text)).toBeGreaterThanOrEqual(2);
  });

  it('answers messages for an unknown or foreign SSE session with 404', async () => {
    const stream = await openSseStream('/sse', { userId: 'sse-owner' });
    expect(stream.endpoint).toMatch(/^\/messages\?sessionId=[0-9a-f-]{36}$/);
    const post = (caller: Caller, path: string) =>
      fetch(`${server.url}${path}`, {
        method: 'POST',
        headers: { ...headersFor(caller), 'Content-Type': 'application/json' },
        body: JSON.stringify(INITIALIZE),
      });
    try {
      expect((await post({ userId: 'sse-intruder' }, stream.endpoint)).status).toBe(404);
      expect((await post({ userId: 'sse-owner' }, `/messages?sessionId=${randomUUID()}`)).status).toBe(404);
      // The stream is still open and the owner still gets through.
      expect((await post({ userId: 'sse-owner' }, stream.endpoint)).status).toBe(202);
    } finally {
      await stream.close();
    }
  });
});
