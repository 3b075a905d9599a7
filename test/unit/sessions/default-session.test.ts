/** The default session a principal's calls without session_id use: kept in memory and on disk alike. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { principalFor } from '../../../src/sessions/principal.js';
import { SessionStore } from '../../../src/sessions/session-store.js';

let dataDir: string;
let now: number;

beforeEach(() => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-default-'));
  now = 1_000_000;
});

afterEach(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

const open = (): Promise<SessionStore> => SessionStore.open({ dataDir, ttlMs: 60_000, maxSessions: 10, now: () => now });

describe('SessionStore default session', () => {
  it('gives the same default to every call, and the same after a restart', async () => {
    const alice = principalFor(null, 'alice');
    const store = await open();
    const first = (await store.resolve(alice, undefined)).meta.id;
    expect((await store.resolve(alice, undefined)).meta.id).toBe(first);
    expect((await store.resolve(principalFor(null, 'bob'), undefined)).meta.id).not.toBe(first);
    const reopened = await open();
    expect((await reopened.resolve(alice, undefined)).meta.id).toBe(first);
  });

  it('makes a new default once the old one is deleted, and keeps it after a restart', async () => {
    const alice = principalFor(null, 'alice');
    const store = await open();
    const first = (await store.resolve(alice, undefined)).meta.id;
    await store.delete(first);
    const second = (await store.resolve(alice, undefined)).meta;
    expect(second.id).not.toBe(first);
    expect(second.isDefault).toBe(true);
    expect((await (await open()).resolve(alice, undefined)).meta.id).toBe(second.id);
  });

  it('replaces an expired default and says so', async () => {
    const alice = principalFor(null, 'alice');
    const store = await open();
    const first = (await store.resolve(alice, undefined)).meta.id;
    now += 120_000;
    const next = await store.resolve(alice, undefined);
    expect(next.previousDefaultExpired).toBe(true);
    expect(next.meta.id).not.toBe(first);
    expect((await store.resolve(alice, undefined)).meta.id).toBe(next.meta.id);
  });
});
