/**
 * Errors carry a code and fields from the layer that knows the facts (here the session store), and
 * each interface words what to do next in its own terms: MCP names tools, REST names routes. The
 * store's own message names neither. (The CLI's wording is tested through the real process, in
 * test/interfaces/cli-process.test.ts.) No Docker: a real store on a temp dir, real HTTP on loopback.
 */
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import express from 'express';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CodecellError, isCodecellError } from '../../../src/errors.js';
import { routeAdvice, sendJsonError } from '../../../src/interfaces/http/json-error.js';
import { OPTIONAL_SESSION_ID, toolAdvice, toolErrorResult } from '../../../src/interfaces/mcp/tool-errors.js';
import { createLogger } from '../../../src/logger.js';
import { principalFor } from '../../../src/sessions/principal.js';
import { SessionStore } from '../../../src/sessions/session-store.js';

const MISSING = '00000000-0000-4000-8000-000000000000';
const TTL_MS = 60_000;
const INTERFACE_WORDS = /_execution_session|session_id|\/v1\/|codecell session|--session/;
const alice = principalFor('key', 'alice');
const silent = createLogger('silent');

let dataDir: string;
const clock = { now: 1_000_000 };

async function openStore(maxSessions = 10): Promise<SessionStore> {
  return SessionStore.open({ dataDir, ttlMs: TTL_MS, maxSessions, now: () => clock.now });
}

async function caught(promise: Promise<unknown>): Promise<CodecellError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  if (!isCodecellError(error)) throw new Error(`expected a CodecellError, got ${String(error)}`);
  return error;
}

beforeEach(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'codecell-wording-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('the session store', () => {
  it('reports an unknown session with its id and why, naming no interface', async () => {
    const store = await openStore();
    const error = await caught(store.get(alice, MISSING));
    expect(error.code).toBe('SESSION_NOT_FOUND');
    expect(error.fields).toEqual({ sessionId: MISSING, sessionGone: 'unknown' });
    expect(error.message).toContain(MISSING);
    expect(error.message).not.toMatch(INTERFACE_WORDS);
  });

  it("reports someone else's session exactly like a missing one", async () => {
    const store = await openStore();
    const bobs = await store.create(principalFor('key', 'bob'));
    const error = await caught(store.get(alice, bobs.id));
    expect(error.fields).toEqual({ sessionId: bobs.id, sessionGone: 'unknown' });
  });

  it('reports an expired session as expired, naming no interface', async () => {
    const store = await openStore();
    const meta = await store.create(alice);
    clock.now += TTL_MS + 1;
    const error = await caught(store.get(alice, meta.id));
    expect(error.code).toBe('SESSION_NOT_FOUND');
    expect(error.fields).toEqual({ sessionId: meta.id, sessionGone: 'expired' });
    expect(error.message).toContain('expired after 1 min');
    expect(error.message).not.toMatch(INTERFACE_WORDS);
  });

  it('reports the session limit with the maximum, naming no interface', async () => {
    const store = await openStore(1);
    await store.create(alice);
    const error = await caught(store.create(alice));
    expect(error.code).toBe('SESSION_LIMIT');
    expect(error.fields).toEqual({ maxSessions: 1 });
    expect(error.message).not.toMatch(INTERFACE_WORDS);
  });
});

describe('each interface words the advice for its audience', () => {
  const notFound = (): Promise<CodecellError> => openStore().then((store) => caught(store.get(alice, MISSING)));

  it('MCP names the tools', async () => {
    const error = await notFound();
    expect(toolAdvice(error)).toContain('create_execution_session');
    const result = toolErrorResult(error, silent);
    const text = result.content[0]?.type === 'text' ? result.content[0].text : '';
    expect(text).toBe(`SESSION_NOT_FOUND: ${error.message}. ${toolAdvice(error)}`);
    const limit = toolAdvice(new CodecellError('SESSION_LIMIT', 'full', undefined, { maxSessions: 1 }));
    expect(limit).toContain('close_execution_session');
  });

  it('MCP advises leaving session_id out only to tools where it may be left out', async () => {
    const error = await notFound();
    expect(toolAdvice(error, OPTIONAL_SESSION_ID)).toContain('leave session_id out');
    // close_execution_session and get_execution_history require session_id: the default advice names no such thing.
    expect(toolAdvice(error)).not.toContain('leave session_id out');
    expect(toolAdvice(error)).toContain('list_execution_sessions');
    const result = toolErrorResult(error, silent, OPTIONAL_SESSION_ID);
    const text = result.content[0]?.type === 'text' ? result.content[0].text : '';
    expect(text).toBe(`SESSION_NOT_FOUND: ${error.message}. ${toolAdvice(error, OPTIONAL_SESSION_ID)}`);
  });

  it('REST advises the word "default" only on routes that take it', async () => {
    const error = await notFound();
    expect(routeAdvice(error, true)).toContain('/v1/sessions/default/files');
    expect(routeAdvice(error)).not.toContain('default');
    expect(routeAdvice(error)).toContain('POST /v1/exec');
  });

  it('REST names the routes, in the JSON error answer', async () => {
    const error = await notFound();
    expect(routeAdvice(error, true)).toContain('/v1/sessions/default/files');
    expect(routeAdvice(error, true)).not.toMatch(/_execution_session|codecell session/);

    const app = express();
    app.get('/fails', (req, res) => sendJsonError(req, res, error, silent, { what: 'test route', defaultSessionWord: true }));
    const server = http.createServer(app).listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/fails`);
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({ error: 'SESSION_NOT_FOUND', message: `${error.message}. ${routeAdvice(error, true)}` });
    } finally {
      server.close();
    }
  });

  it('adds no advice to an error that carries no fields to word it from', () => {
    const bare = new CodecellError('SESSION_NOT_FOUND', 'session x was not found; upload the files again');
    expect(toolAdvice(bare)).toBeUndefined();
    expect(routeAdvice(bare)).toBeUndefined();
  });
});
