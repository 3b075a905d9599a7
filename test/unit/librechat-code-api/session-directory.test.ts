/**
 * The LibreChat Code API's SessionDirectory: bounded, least recently USED first out (a lookup
 * refreshes an entry, as a use refreshes a session), and entries idle longer than the session TTL
 * are gone. Pure logic: no Docker.
 */
import { describe, expect, it } from 'vitest';
import { makeCaller, SessionDirectory, sharedIdentity } from '../../../src/interfaces/http/librechat-code-api/identity.js';

const TTL_MS = 60_000;
const server = makeCaller('key-1', null, false); // the LibreChat server itself: names no user
const alice = makeCaller('key-1', 'alice', false);
const RUN = { upload: false, shared: false } as const;

function directoryWithClock(maxEntries = 1000): { directory: SessionDirectory; clock: { now: number } } {
  const clock = { now: 5_000_000 };
  return { directory: new SessionDirectory({ ttlMs: TTL_MS, maxEntries, now: () => clock.now }), clock };
}

describe('SessionDirectory', () => {
  it('lets a request that names no user act as the owner, under the same key only', () => {
    const { directory } = directoryWithClock();
    directory.remember('s1', alice, RUN);
    expect(directory.delegation('s1', server)).toEqual({ principal: alice.principal, writable: true });
    expect(directory.delegation('s1', makeCaller('key-2', null, false))).toBeNull();
    expect(directory.delegation('s1', makeCaller('key-1', 'bob', false))).toBeNull();
  });

  it('lets other users of the key read a shared upload, never change it; an unshared one not even read', () => {
    const { directory } = directoryWithClock();
    const agent = makeCaller('key-1', sharedIdentity({ kind: 'agent', id: 'a1' }), true);
    directory.remember('shared', agent, { upload: true, shared: true });
    directory.remember('private', alice, { upload: true, shared: false });
    const bob = makeCaller('key-1', 'bob', false);
    expect(directory.delegation('shared', bob)).toEqual({ principal: agent.principal, writable: false });
    expect(directory.delegation('shared', server)).toEqual({ principal: agent.principal, writable: true });
    expect(directory.delegation('shared', makeCaller('key-2', 'bob', false))).toBeNull();
    expect(directory.delegation('private', bob)).toBeNull();
    expect(directory.isUpload('shared')).toBe(true);
    expect(directory.isUpload('private')).toBe(true);
    directory.remember('run', alice, RUN);
    expect(directory.isUpload('run')).toBe(false);
    expect(directory.isUpload('unknown')).toBe(false);
  });

  it('drops the least recently used owner when full, not the first remembered', () => {
    const { directory } = directoryWithClock(2);
    directory.remember('s1', alice, RUN);
    directory.remember('s2', alice, RUN);
    expect(directory.delegation('s1', server)).not.toBeNull(); // s1 is now the most recently used
    directory.remember('s3', alice, RUN);
    expect(directory.delegation('s1', server)).not.toBeNull();
    expect(directory.delegation('s2', server)).toBeNull();
    expect(directory.delegation('s3', server)).not.toBeNull();
  });

  it('keeps a hint that is looked up, and drops the one nobody used', () => {
    const { directory } = directoryWithClock(2);
    directory.rememberHint(alice, 'h1', 's1');
    directory.rememberHint(alice, 'h2', 's2');
    expect(directory.hinted(alice, 'h1')).toBe('s1');
    directory.rememberHint(alice, 'h3', 's3');
    expect(directory.hinted(alice, 'h1')).toBe('s1');
    expect(directory.hinted(alice, 'h2')).toBeUndefined();
    expect(directory.hinted(server, 'h1')).toBeUndefined(); // hints are per principal
  });

  it('forgets entries idle longer than the session TTL; each use starts the time again', () => {
    const { directory, clock } = directoryWithClock();
    directory.remember('s1', alice, RUN);
    directory.rememberHint(alice, 'h1', 's1');
    clock.now += TTL_MS - 1;
    expect(directory.delegation('s1', server)).not.toBeNull();
    clock.now += TTL_MS - 1;
    expect(directory.delegation('s1', server)).not.toBeNull(); // used just before: still there
    expect(directory.hinted(alice, 'h1')).toBeUndefined(); // idle for longer than the TTL
    clock.now += TTL_MS + 1;
    expect(directory.delegation('s1', server)).toBeNull();
  });

  it('forgets a session on request', () => {
    const { directory } = directoryWithClock();
    directory.remember('s1', alice, RUN);
    directory.forget('s1');
    expect(directory.delegation('s1', server)).toBeNull();
  });
});

describe('sharedIdentity', () => {
  it('names agents and skills in a namespace no user id can reach (user ids have no spaces)', () => {
    expect(sharedIdentity({ kind: 'agent', id: 'a1' })).toBe('agent a1');
    expect(sharedIdentity({ kind: 'skill', id: 's1', version: 3 })).toBe('skill s1 3');
    expect(sharedIdentity({ kind: 'user', id: 'u1' })).toBeNull();
    expect(sharedIdentity(undefined)).toBeNull();
    // A user who calls themselves "agent:a1" is a user, not the agent.
    expect(makeCaller('key-1', 'agent:a1', false).principal).not.toEqual(makeCaller('key-1', sharedIdentity({ kind: 'agent', id: 'a1' }), true).principal);
    // A skill's version cannot be smuggled through its id, nor a space through either.
    expect(sharedIdentity({ kind: 'skill', id: 's1@3' })).not.toBe(sharedIdentity({ kind: 'skill', id: 's1', version: 3 }));
    expect(() => sharedIdentity({ kind: 'agent', id: 'a b' })).toThrow('the agent id');
    expect(() => sharedIdentity({ kind: 'skill', id: 's', version: '1 2' })).toThrow('the skill version');
    expect(() => sharedIdentity({ kind: 'robot', id: 'r' })).toThrow('kind must be one of');
  });
});
