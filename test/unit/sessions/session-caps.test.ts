/** SessionStore caps: exact under concurrent creates, per principal, and principal records go with their default session. */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { isCodecellError } from '../../../src/errors.js';
import { principalFor } from '../../../src/sessions/principal.js';
import { SessionStore } from '../../../src/sessions/session-store.js';

let dataDir: string;

beforeEach(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-caps-'));
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

async function outcomes(tasks: Promise<unknown>[]): Promise<{ made: number; refused: string[] }> {
  const settled = await Promise.allSettled(tasks);
  const refused = settled.flatMap((result) =>
    result.status === 'rejected' && isCodecellError(result.reason) ? [result.reason.message] : [],
  );
  return { made: settled.filter((result) => result.status === 'fulfilled').length, refused };
}

describe('SessionStore caps', () => {
  it('never overshoots MAX_SESSIONS under concurrent creates', async () => {
    const store = await SessionStore.open({ dataDir, ttlMs: 60_000, maxSessions: 10 });
    const creates = Array.from({ length: 50 }, (_, index) => store.create(principalFor('k', `user-${index}`)));
    const { made, refused } = await outcomes(creates);
    expect(made).toBe(10);
    expect(refused).toHaveLength(40);
    expect(store.count).toBe(10);
    expect(readdirSync(store.sessionsDir)).toHaveLength(10);
  });

  it("holds one principal to its own cap, concurrently too, and leaves room for others", async () => {
    const store = await SessionStore.open({ dataDir, ttlMs: 60_000, maxSessions: 10, maxSessionsPerPrincipal: 3 });
    const hoarder = principalFor('k', 'hoarder');
    const { made, refused } = await outcomes(Array.from({ length: 20 }, () => store.create(hoarder)));
    expect(made).toBe(3);
    expect(refused[0]).toMatch(/your maximum of 3 sessions/);
    await expect(store.create(principalFor('k', 'newcomer'))).resolves.toBeDefined();
  });

  it("removes a principal's record with its default session, and stale records at start-up", async () => {
    const store = await SessionStore.open({ dataDir, ttlMs: 60_000, maxSessions: 10 });
    const principalsDir = path.join(dataDir, 'principals');
    const alice = principalFor('k', 'alice');
    const { meta } = await store.resolve(alice, undefined);
    expect(readdirSync(principalsDir)).toHaveLength(1);
    await store.withLock(meta.id, () => store.delete(meta.id));
    expect(readdirSync(principalsDir)).toHaveLength(0);

    const bob = principalFor('k', 'bob');
    const bobs = await store.resolve(bob, undefined);
    // As if the session went while an older version (which kept records) was running.
    rmSync(path.join(store.sessionsDir, bobs.meta.id), { recursive: true });
    await SessionStore.open({ dataDir, ttlMs: 60_000, maxSessions: 10 });
    expect(readdirSync(principalsDir)).toHaveLength(0);
  });
});

describe('SessionStore per-key cap', () => {
  it('holds all principals of one key to the key cap, concurrently too, and leaves room for another key', async () => {
    const store = await SessionStore.open({ dataDir, ttlMs: 60_000, maxSessions: 10, maxSessionsPerPrincipal: 3, maxSessionsPerKey: 4 });
    const rotated = Array.from({ length: 20 }, (_, index) => store.create(principalFor('key-a', `rot-${index}`)));
    const { made, refused } = await outcomes(rotated);
    expect(made).toBe(4);
    expect(refused.every((message) => message.includes('MAX_SESSIONS_PER_KEY'))).toBe(true);
    await expect(store.create(principalFor('key-b', 'victim'))).resolves.toBeDefined();
  });

  it('remembers the key of sessions on disk across a restart', async () => {
    const first = await SessionStore.open({ dataDir, ttlMs: 60_000, maxSessions: 10, maxSessionsPerKey: 2 });
    await first.create(principalFor('key-a', 'u1'));
    await first.create(principalFor('key-a', 'u2'));
    const reopened = await SessionStore.open({ dataDir, ttlMs: 60_000, maxSessions: 10, maxSessionsPerKey: 2 });
    await expect(reopened.create(principalFor('key-a', 'u3'))).rejects.toThrow(/MAX_SESSIONS_PER_KEY/);
  });
});
