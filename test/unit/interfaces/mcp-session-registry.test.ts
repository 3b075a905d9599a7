/** MCP transport sessions: bound to their principal, evicted when idle, never while a request is open. */
import { EventEmitter } from 'node:events';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { McpSessionRegistry } from '../../../src/interfaces/mcp/transports/mcp-session-registry.js';
import { principalFor } from '../../../src/sessions/principal.js';

const alice = principalFor('k', 'alice');
const bob = principalFor('k', 'bob');

function setup(idleMs = 1000) {
  let now = 0;
  const registry = new McpSessionRegistry({ idleMs, logger: createLogger('silent'), now: () => now });
  const add = (id: string) => {
    const server = new McpServer({ name: 't', version: '1' });
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: () => id });
    return registry.add(id, { kind: 'streamable-http', transport }, alice, server);
  };
  return { registry, add, advance: (ms: number) => (now += ms) };
}

/** Enough of a Response for trackResponse: something that emits 'close'. */
function fakeResponse(): Response & EventEmitter {
  return new EventEmitter() as Response & EventEmitter;
}

describe('McpSessionRegistry', () => {
  it('finds a session only for the principal that opened it', () => {
    const { registry, add } = setup();
    add('s1');
    expect(registry.lookup('s1', alice)?.id).toBe('s1');
    expect(registry.lookup('s1', bob)).toBeUndefined();
    expect(registry.lookup('nope', alice)).toBeUndefined();
  });

  it('evicts sessions idle longer than idleMs and leaves fresh ones', async () => {
    const { registry, add, advance } = setup(1000);
    add('old');
    advance(600);
    add('fresh');
    advance(500);
    expect(await registry.evictIdle()).toBe(1);
    expect(registry.lookup('old', alice)).toBeUndefined();
    expect(registry.lookup('fresh', alice)).toBeDefined();
  });

  it('never evicts a session with an open request or stream, and restarts the clock when it ends', async () => {
    const { registry, add, advance } = setup(1000);
    const session = add('busy');
    const res = fakeResponse();
    registry.trackResponse(session, res);
    advance(5000);
    expect(await registry.evictIdle()).toBe(0);
    res.emit('close');
    advance(999);
    expect(await registry.evictIdle()).toBe(0);
    advance(2);
    expect(await registry.evictIdle()).toBe(1);
    expect(registry.size).toBe(0);
  });

  it('closes everything on closeAll', async () => {
    const { registry, add } = setup();
    add('a');
    add('b');
    await registry.closeAll();
    expect(registry.size).toBe(0);
  });
});

describe('McpSessionRegistry limit', () => {
  it('makes room by closing the least recently active idle session, and refuses when all are busy', async () => {
    let now = 0;
    const registry = new McpSessionRegistry({ idleMs: 60_000, maxSessions: 2, logger: createLogger('silent'), now: () => now });
    const add = (id: string) =>
      registry.add(
        id,
        { kind: 'streamable-http', transport: new StreamableHTTPServerTransport({ sessionIdGenerator: () => id }) },
        alice,
        new McpServer({ name: 't', version: '1' }),
      );
    add('first');
    now += 10;
    const second = add('second');
    expect(await registry.makeRoom()).toBe(true);
    expect(registry.lookup('first', alice)).toBeUndefined();
    expect(registry.lookup('second', alice)).toBeDefined();

    add('third');
    registry.trackResponse(second, fakeResponse());
    const third = registry.lookup('third', alice);
    if (third === undefined) throw new Error('third missing');
    registry.trackResponse(third, fakeResponse());
    expect(await registry.makeRoom()).toBe(false);
  });
});
