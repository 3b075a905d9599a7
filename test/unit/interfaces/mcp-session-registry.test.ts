/** MCP transport sessions: bound to their principal, evicted when idle, never while a request is open. */
import { EventEmitter } from 'node:events';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Response } from 'express';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { McpSessionRegistry } from '../../../src/interfaces/mcp/transports/mcp-session-registry.js';
import { principalFor, type Principal } from '../../../src/sessions/principal.js';

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

describe('McpSessionRegistry limits', () => {
  function limited(maxSessions: number, maxSessionsPerPrincipal: number) {
    let now = 0;
    const registry = new McpSessionRegistry({ idleMs: 60_000, maxSessions, maxSessionsPerPrincipal, logger: createLogger('silent'), now: () => now });
    const open = async (id: string, principal = alice) => {
      now += 10;
      const reservation = await registry.reserve(principal);
      if (!('slot' in reservation)) return reservation.refused;
      return reservation.slot.add(id, { kind: 'streamable-http', transport: new StreamableHTTPServerTransport({ sessionIdGenerator: () => id }) }, new McpServer({ name: 't', version: '1' }));
    };
    return { registry, open };
  }

  it('makes room by closing the least recently active idle session, and refuses when all are busy', async () => {
    const { registry, open } = limited(2, 2);
    await open('first');
    const second = await open('second');
    const third = await open('third');
    expect(registry.lookup('first', alice)).toBeUndefined();
    expect(registry.lookup('second', alice)).toBeDefined();
    if (typeof second === 'string' || typeof third === 'string') throw new Error('refused');
    registry.trackResponse(second, fakeResponse());
    registry.trackResponse(third, fakeResponse());
    expect(await open('fourth')).toBe('principal-full');
    expect(registry.size).toBe(2);
  });

  it("a principal at its own cap gives up its own oldest session, never another principal's", async () => {
    const { registry, open } = limited(10, 3);
    await open('bob-1', bob);
    for (let index = 0; index < 20; index += 1) await open(`alice-${index}`);
    expect(registry.lookup('bob-1', bob)).toBeDefined();
    expect(registry.heldBy(alice)).toBe(3);
    expect(registry.lookup('alice-19', alice)).toBeDefined();
    expect(registry.lookup('alice-16', alice)).toBeUndefined();
  });

  it('a full server takes the place from the principal holding the most sessions', async () => {
    const { registry, open } = limited(4, 3);
    await open('bob-1', bob);
    await open('alice-1');
    await open('alice-2');
    await open('alice-3');
    const carol = principalFor('k', 'carol');
    await open('carol-1', carol);
    expect(registry.lookup('bob-1', bob)).toBeDefined();
    expect(registry.lookup('alice-1', alice)).toBeUndefined();
    expect(registry.size).toBe(4);
  });

  it('never overshoots under concurrent opens, and a released place is given back', async () => {
    const { registry } = limited(5, 5);
    const principals = Array.from({ length: 20 }, (_, index) => principalFor('k', `user-${index}`));
    const reservations = await Promise.all(principals.map((principal) => registry.reserve(principal)));
    const slots = reservations.flatMap((reservation) => ('slot' in reservation ? [reservation.slot] : []));
    // Reserved places are not idle sessions: nothing can be closed for the other 15.
    expect(slots).toHaveLength(5);
    slots[0]?.release();
    expect('slot' in (await registry.reserve(alice))).toBe(true);
  });
});

describe('McpSessionRegistry per-key limits', () => {
  function keyed(maxSessions: number, maxSessionsPerPrincipal: number, maxSessionsPerKey: number) {
    let now = 0;
    const registry = new McpSessionRegistry({ idleMs: 60_000, maxSessions, maxSessionsPerPrincipal, maxSessionsPerKey, logger: createLogger('silent'), now: () => now });
    const open = async (id: string, principal: Principal) => {
      now += 10;
      const reservation = await registry.reserve(principal);
      if (!('slot' in reservation)) return reservation.refused;
      return reservation.slot.add(id, { kind: 'streamable-http', transport: new StreamableHTTPServerTransport({ sessionIdGenerator: () => id }) }, new McpServer({ name: 't', version: '1' }));
    };
    return { registry, open };
  }

  it("principals rotated under one key give up that key's own sessions, never another key's", async () => {
    const { registry, open } = keyed(10, 4, 5);
    const victim = principalFor('key-b', 'victim');
    await open('victim-1', victim);
    for (let index = 0; index < 30; index += 1) await open(`rot-${index}`, principalFor('key-a', `rot-${index}`));
    expect(registry.lookup('victim-1', victim)).toBeDefined();
    expect(registry.size).toBe(6);
  });

  it('a full server takes the place from the key holding the most, even when its principals each hold one', async () => {
    const { registry, open } = keyed(4, 4, 4);
    const victim = principalFor('key-b', 'victim');
    await open('victim-1', victim);
    for (let index = 0; index < 3; index += 1) await open(`rot-${index}`, principalFor('key-a', `rot-${index}`));
    await open('newcomer-1', principalFor('key-c', 'newcomer'));
    expect(registry.lookup('victim-1', victim)).toBeDefined();
    expect(registry.lookup('rot-0', principalFor('key-a', 'rot-0'))).toBeUndefined();
  });

  it("refuses a key whose sessions are all busy, without touching another key's", async () => {
    const { registry, open } = keyed(10, 10, 2);
    const first = await open('a-1', principalFor('key-a', 'u1'));
    const second = await open('a-2', principalFor('key-a', 'u2'));
    if (typeof first === 'string' || typeof second === 'string') throw new Error('refused');
    registry.trackResponse(first, fakeResponse());
    registry.trackResponse(second, fakeResponse());
    expect(await open('a-3', principalFor('key-a', 'u3'))).toBe('key-full');
    expect(typeof (await open('b-1', principalFor('key-b', 'u1')))).not.toBe('string');
  });
});
