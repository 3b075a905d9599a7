/**
 * The LibreChat Code API's SessionDirectory: bounded, least recently USED first out (a lookup
 * refreshes an entry, as a use refreshes a session), and entries idle longer than the session TTL
 * are gone. Pure logic: no Docker.
 */
import { describe, expect, it } from 'vitest';
import { makeCaller, SessionDirectory } from '../../../src/interfaces/http/librechat-code-api/identity.js';

const TTL_MS = 60_000;
const server = makeCaller('key-1', null, false); // the LibreChat server itself: names no user
const alice = makeCaller('key-1', 'alice', false);

function directoryWithClock(maxEntries = 1000): { directory: SessionDirectory; clock: { now: number } } {
  const clock = { now: 5_000_000 };
  return { directory: new SessionDirectory({ ttlMs: TTL_MS, maxEntries, now: () => clock.now }), clock };
}

describe('SessionDirectory', () => {
  it('lets a request that names no user act as the owner, under the same key only', () => {
    const { directory } = directoryWithClock();
    directory.remember('s1', alice);
    expect(directory.fallbackOwner('s1', server)).toEqual(alice.principal);
    expect(directory.fallbackOwner('s1', makeCaller('key-2', null, false))).toBeNull();
    expect(directory.fallbackOwner('s1', makeCaller('key-1', 'bob', false))).toBeNull();
  });

  it('drops the least recently used owner when full, not the first remembered', () => {
    const { directory } = directoryWithClock(2);
    directory.remember('s1', alice);
    directory.remember('s2', alice);
    expect(directory.fallbackOwner('s1', server)).not.toBeNull(); // s1 is now the most recently used
    directory.remember('s3', alice);
    expect(directory.fallbackOwner('s1', server)).not.toBeNull();
    expect(directory.fallbackOwner('s2', server)).toBeNull();
    expect(directory.fallbackOwner('s3', server)).not.toBeNull();
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
    directory.remember('s1', alice);
    directory.rememberHint(alice, 'h1', 's1');
    clock.now += TTL_MS - 1;
    expect(directory.fallbackOwner('s1', server)).not.toBeNull();
    clock.now += TTL_MS - 1;
    expect(directory.fallbackOwner('s1', server)).not.toBeNull(); // used just before: still there
    expect(directory.hinted(alice, 'h1')).toBeUndefined(); // idle for longer than the TTL
    clock.now += TTL_MS + 1;
    expect(directory.fallbackOwner('s1', server)).toBeNull();
  });

  it('forgets a session on request', () => {
    const { directory } = directoryWithClock();
    directory.remember('s1', alice);
    directory.forget('s1');
    expect(directory.fallbackOwner('s1', server)).toBeNull();
  });
});
