/**
 * One principal must not starve the rest: its streams, its MCP sessions and its execution sessions
 * are budgeted per principal, a full principal gives up its own oldest idle MCP session before
 * anyone else's, and the server-wide caps hold exactly under concurrent requests.
 *
 * Each attack comes from its own principal (key + X-User-Id); the harness's own client and its
 * bystander session are the other users who must keep working.
 */
import { readdirSync } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectStreamable, headersFor, sessionOf, textOf, type Caller } from '../interfaces/helpers/mcp-client.js';
import { TEST_KEY } from '../interfaces/helpers/test-server.js';
import { multipartBody, type MultipartPart } from '../unit/files/helpers.js';
import { Harness } from './helpers/harness.js';
import { LibreChatApi } from './helpers/librechat-api.js';

/** Small budgets, so each attack is cheap; the old hard-coded MCP cap (1000) is what the first two attacks pass. */
const BUDGETS = {
  MAX_SESSIONS: '30',
  // The harness's own user makes one session per stillServing() and two at its start: room for them.
  MAX_SESSIONS_PER_USER: '6',
  CODECELL_MCP_SESSIONS: '40',
  CODECELL_MCP_SESSIONS_PER_USER: '4',
  CODECELL_STREAMS_PER_USER: '4',
  CODECELL_REQUESTS_PER_USER: '8',
  // The flood arrives as one burst of connections: room for all of them at once.
  CODECELL_MAX_CONNECTIONS: '5000',
  CODECELL_MAX_PENDING_CONNECTIONS: '5000',
};

/** How many SSE streams and initialize calls the flooding principal tries: past the server's old fixed cap of 1000. */
const FLOOD = 1010;

let harness: Harness;
const streams: http.ClientRequest[] = [];

beforeAll(async () => {
  harness = await Harness.start({ env: BUDGETS });
});

afterAll(async () => {
  for (const stream of streams) stream.destroy();
  await harness?.close();
});

/** Opens GET /sse for `caller` and resolves with the status once the response head arrives (the body stays open). */
function openSseStream(caller: Caller, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get(new URL('/sse', harness.server.url), { agent, headers: headersFor(caller) }, (response) => {
      if (response.statusCode !== 200) response.resume();
      resolve(response.statusCode ?? 0);
    });
    request.once('error', reject);
    streams.push(request);
  });
}

const INITIALIZE = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'flood', version: '1' } },
};

/** One JSON-RPC message to /mcp as a Streamable HTTP client sends it; the body is read and dropped. */
async function postMcp(caller: Caller, message: object, session?: string): Promise<{ status: number; headers: Headers }> {
  const response = await fetch(new URL('/mcp', harness.server.url), {
    method: 'POST',
    headers: {
      ...headersFor(caller),
      ...(session !== undefined ? { 'Mcp-Session-Id': session } : {}),
      'Content-Type': 'application/json',
      Accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify(message),
  });
  await response.arrayBuffer();
  return { status: response.status, headers: response.headers };
}

/** Session directories on disk: the count MAX_SESSIONS bounds. */
function sessionsOnDisk(): number {
  return readdirSync(path.join(harness.server.dataDir, 'sessions')).length;
}

describe('one principal cannot starve the rest', () => {
  it("a thousand idle SSE streams from one principal leave MCP open to everyone else", async () => {
    const flooder: Caller = { userId: 'stream-flooder' };
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    // In rounds of 50 at once (each stream stays open): a burst of a thousand connects would only test the listen backlog.
    const statuses: number[] = [];
    for (let sent = 0; sent < FLOOD; sent += 50) {
      statuses.push(...(await Promise.all(Array.from({ length: Math.min(50, FLOOD - sent) }, () => openSseStream(flooder, agent)))));
    }
    // Another user of the same key opens an MCP session and works.
    const other = await connectStreamable(harness.server.url, { userId: 'stream-bystander' });
    try {
      const listed = await callTool(other, 'list_execution_sessions');
      expect(listed.isError ?? false, textOf(listed)).toBe(false);
    } finally {
      await other.close();
    }
    // The flooder got its own budget of streams, and a 429 for each beyond it.
    const opened = statuses.filter((status) => status === 200).length;
    expect(opened).toBe(Number(BUDGETS.CODECELL_STREAMS_PER_USER));
    expect(statuses.filter((status) => status === 429).length).toBe(FLOOD - opened);
    for (const stream of streams.splice(0)) stream.destroy();
    agent.destroy();
    await harness.stillServing();
  });

  it("a thousand initialize calls from one principal close only that principal's own MCP sessions", async () => {
    // The victim holds no event stream (as clients that only POST), so its session is idle between calls.
    const victim: Caller = { userId: 'idle-victim' };
    const opened = await postMcp(victim, INITIALIZE);
    expect(opened.status).toBe(200);
    const session = opened.headers.get('mcp-session-id') ?? '';
    expect((await postMcp(victim, { jsonrpc: '2.0', method: 'notifications/initialized' }, session)).status).toBe(202);

    const flooder: Caller = { userId: 'initialize-flooder' };
    // In rounds of 50 at once: concurrent opens are part of the attack.
    for (let sent = 0; sent < FLOOD; sent += 50) {
      const round = Array.from({ length: Math.min(50, FLOOD - sent) }, async () => (await postMcp(flooder, INITIALIZE)).status);
      // Past its own cap with all its sessions busy, the flooder itself is told to wait (429).
      for (const status of await Promise.all(round)) expect([200, 429]).toContain(status);
    }
    // The victim's session sat idle through the flood, and still answers.
    const listed = await postMcp(victim, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, session);
    expect(listed.status).toBe(200);
    await harness.stillServing();
  });

  it('one principal cannot fill MAX_SESSIONS: it reaches its own cap and the next user still gets a session', async () => {
    const hoarder = await connectStreamable(harness.server.url, { userId: 'session-hoarder' });
    const newcomer = await connectStreamable(harness.server.url, { userId: 'session-newcomer' });
    try {
      let made = 0;
      let refusal = '';
      for (let attempt = 0; attempt < Number(BUDGETS.MAX_SESSIONS) + 5 && refusal === ''; attempt += 1) {
        const result = await callTool(hoarder, 'create_execution_session');
        if (result.isError === true) refusal = textOf(result);
        else made += 1;
      }
      expect(made).toBe(Number(BUDGETS.MAX_SESSIONS_PER_USER));
      expect(refusal).toMatch(/your maximum of 6 sessions/);
      expect(sessionOf(await callTool(newcomer, 'create_execution_session'))).toMatch(/^[0-9a-f-]{36}$/);
    } finally {
      await hoarder.close();
      await newcomer.close();
    }
    await harness.stillServing();
  });

  it("a principal's record goes with its default session", async () => {
    const caller: Caller = { userId: 'record-leaver' };
    const principals = path.join(harness.server.dataDir, 'principals');
    const before = readdirSync(principals).length;
    const listing = await fetch(new URL('/v1/sessions/default/files', harness.server.url), { headers: headersFor(caller) });
    expect(listing.status).toBe(200);
    await listing.body?.cancel();
    const session = listing.headers.get('x-codecell-session-id') ?? '';
    expect(readdirSync(principals).length).toBe(before + 1);
    const client = await connectStreamable(harness.server.url, caller);
    try {
      const closed = await callTool(client, 'close_execution_session', { session_id: session });
      expect(closed.isError ?? false, textOf(closed)).toBe(false);
    } finally {
      await client.close();
    }
    expect(readdirSync(principals).length).toBe(before);
  });

  it('MAX_SESSIONS holds exactly when many principals create sessions at the same moment', async () => {
    const mine = await harness.newSession();
    const before = sessionsOnDisk();
    const statuses = await Promise.all(
      Array.from({ length: 60 }, async (_, index) => {
        const response = await fetch(new URL('/v1/sessions/default/files', harness.server.url), {
          headers: headersFor({ userId: `crowd-${index}` }),
        });
        await response.body?.cancel();
        return response.status;
      }),
    );
    expect(before).toBeLessThan(Number(BUDGETS.MAX_SESSIONS));
    expect(statuses.filter((status) => status === 200).length).toBe(Number(BUDGETS.MAX_SESSIONS) - before);
    expect(statuses.filter((status) => status === 429).length).toBe(60 - (Number(BUDGETS.MAX_SESSIONS) - before));
    expect(sessionsOnDisk()).toBe(Number(BUDGETS.MAX_SESSIONS));
    // The server is full now, by design; it still answers, and the bystander's session still works.
    const health = await fetch(new URL('/healthz', harness.server.url));
    expect(health.status).toBe(200);
    const check = await harness.exec('python', 'print(6 * 7)', { session: mine });
    expect(check.stdout).toBe('42\n');
  });

});

/**
 * X-User-Id and agent ids cost nothing to change, so the budgets hold per API key too: callers of
 * one key, however many principals they name, leave the server usable by another key. The
 * attacker uses OTHER_KEY; the harness (its client, bystander and stillServing) and the victims use
 * the test key. Two keys, so the per-key defaults are half of each session cap.
 */
describe('rotating principals under one key cannot starve another key', () => {
  const OTHER_KEY = 'other-key-fedcba9876543210';
  const KEY_BUDGETS = {
    CODECELL_API_KEYS: `${TEST_KEY},${OTHER_KEY}`,
    MAX_SESSIONS: '30',
    // The harness's own user makes two sessions at its start and one per stillServing().
    MAX_SESSIONS_PER_USER: '8',
    CODECELL_MCP_SESSIONS: '20',
    CODECELL_MCP_SESSIONS_PER_USER: '4',
    CODECELL_MAX_CONNECTIONS: '64',
    CODECELL_MAX_PENDING_CONNECTIONS: '64',
  };
  /** The per-key defaults with two keys: half of each session cap, a quarter of the connections. */
  const SESSIONS_PER_KEY = 15;
  const REQUESTS_PER_KEY = 16;
  let keyed: Harness;
  let api: LibreChatApi;
  const slowBodies: http.ClientRequest[] = [];

  beforeAll(async () => {
    keyed = await Harness.start({ env: KEY_BUDGETS });
    api = new LibreChatApi(keyed.server.url);
  });

  afterAll(async () => {
    for (const request of slowBodies) request.destroy();
    await keyed?.close();
  });

  /** POST /v1/upload of one small file under `key`, as LibreChat sends it; the status. */
  async function uploadStatus(key: string, fields: Record<string, string>, headers: Record<string, string> = {}): Promise<number> {
    const parts: MultipartPart[] = [...Object.entries(fields).map(([name, content]) => ({ name, content })), { name: 'file', filename: 'a.txt', content: 'x' }];
    const { body, contentType } = multipartBody(parts);
    const response = await fetch(new URL('/v1/upload', keyed.server.url), {
      method: 'POST',
      headers: { 'X-API-Key': key, 'Content-Type': contentType, ...headers },
      body: new Uint8Array(body),
    });
    await response.arrayBuffer();
    return response.status;
  }

  it('uploads under rotating agent ids and X-User-Id values fill only their own key’s share of MAX_SESSIONS', async () => {
    const statuses: number[] = [];
    for (let index = 0; index < 25; index += 1) {
      statuses.push(await uploadStatus(OTHER_KEY, { kind: 'agent', id: `rot${index}` }, { 'User-Id': 'mallory' }));
      statuses.push(await uploadStatus(OTHER_KEY, { kind: 'user', id: `rot-user${index}` }, { 'X-User-Id': `rot-user${index}` }));
    }
    expect(statuses.filter((status) => status === 200).length).toBe(SESSIONS_PER_KEY);
    // A user of the other key still gets sessions: an upload, and an MCP run.
    expect(await uploadStatus(TEST_KEY, { kind: 'user', id: 'victim' }, { 'User-Id': 'victim' })).toBe(200);
    await keyed.stillServing();
  });

  it("initialize calls under rotating X-User-Id values never close another key's idle MCP session", async () => {
    const victim: Caller = { userId: 'mcp-victim' };
    const postTo = async (caller: Caller, message: object, session?: string) => {
      const response = await fetch(new URL('/mcp', keyed.server.url), {
        method: 'POST',
        headers: {
          ...headersFor(caller),
          ...(session !== undefined ? { 'Mcp-Session-Id': session } : {}),
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
        },
        body: JSON.stringify(message),
      });
      await response.arrayBuffer();
      return { status: response.status, session: response.headers.get('mcp-session-id') ?? '' };
    };
    const opened = await postTo(victim, INITIALIZE);
    expect(opened.status).toBe(200);
    expect((await postTo(victim, { jsonrpc: '2.0', method: 'notifications/initialized' }, opened.session)).status).toBe(202);
    // 60 principals of the other key, one initialize each, in rounds of 10 at once.
    for (let sent = 0; sent < 60; sent += 10) {
      const round = Array.from({ length: 10 }, async (_, index) => (await postTo({ apiKey: OTHER_KEY, userId: `mcp-rot${sent + index}` }, INITIALIZE)).status);
      for (const status of await Promise.all(round)) expect([200, 429]).toContain(status);
    }
    expect((await postTo(victim, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, opened.session)).status).toBe(200);
    await keyed.stillServing();
  });

  it('slow bodies under rotating X-User-Id values hold at most their key’s share of requests; another key and /healthz still get through', async () => {
    const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
    const attempts = REQUESTS_PER_KEY + 20;
    // Each request announces a body it never finishes; the refused ones are answered (429) at once.
    const refused = Array.from({ length: attempts }, (_, index) =>
      new Promise<number>((resolve, reject) => {
        const request = http.request(new URL('/v1/upload', keyed.server.url), {
          method: 'POST',
          agent,
          headers: { 'X-API-Key': OTHER_KEY, 'X-User-Id': `slow${index}`, 'Content-Type': 'multipart/form-data; boundary=x', 'Content-Length': '1000000' },
        });
        request.once('response', (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.once('error', reject);
        request.write('--x\r\n');
        slowBodies.push(request);
      }),
    );
    // Those past the key's budget come back; the held ones never do (their bodies stall).
    const firstRefusals = await new Promise<number[]>((resolve, reject) => {
      const statuses: number[] = [];
      for (const pending of refused) {
        pending.then((status) => {
          statuses.push(status);
          if (statuses.length === attempts - REQUESTS_PER_KEY) resolve(statuses);
        }, reject);
      }
    });
    expect(firstRefusals.every((status) => status === 429)).toBe(true);
    // The other key works, and so does a keyless probe.
    expect(await uploadStatus(TEST_KEY, { kind: 'user', id: 'slow-victim' }, { 'User-Id': 'slow-victim' })).toBe(200);
    expect((await fetch(new URL('/healthz', keyed.server.url))).status).toBe(200);
    for (const request of slowBodies.splice(0)) request.destroy();
    agent.destroy();
    await keyed.stillServing();
  });

  it("a user naming an agent may read its files but not delete them; the LibreChat server (no user) may", async () => {
    const agentId = `m1-${Date.now().toString(36)}`;
    const agentFile = await api.upload({ kind: 'agent', id: agentId }, 'tool.py', 'print(1)');
    const path = `/files/${agentFile.session}/${agentFile.fileId}?kind=agent&id=${agentId}`;
    expect(await api.downloadText(agentFile, `?kind=agent&id=${agentId}`, { 'User-Id': 'bob' })).toBe('print(1)');
    expect((await api.call('DELETE', path, { 'User-Id': 'bob' })).status).toBe(404);
    expect((await api.call('DELETE', path, { 'X-User-Id': 'bob' })).status).toBe(404);
    expect(await api.downloadText(agentFile, `?kind=agent&id=${agentId}`)).toBe('print(1)');
    expect((await api.call('DELETE', path)).status).toBe(200);
    await keyed.stillServing();
  });
});
