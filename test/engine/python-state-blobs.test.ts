/**
 * Python snapshots with blobs (images/PROTOCOL.md, "Snapshots") through the engine, real Docker:
 * large buffers live in files of their own that a run which does not change them leaves as they
 * are (the same inode), a buffer changed in place is carried, sharing comes back, and a runner
 * killed in the middle of its save or over its quota leaves the last good snapshot whole.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

const QUOTA_MB = 24;
let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '60', CODECELL_SESSION_QUOTA_MB: String(QUOTA_MB) });
});

afterAll(async () => {
  await t?.close();
});

async function run(sessionId: string, ...code: string[]): Promise<ExecutionResult> {
  return t.engine.execute({ principal: t.principal, sessionId, language: 'python', code: code.join('\n') });
}

async function ok(sessionId: string, ...code: string[]): Promise<ExecutionResult> {
  const result = await run(sessionId, ...code);
  expect(result.status, JSON.stringify([result.error, result.stderr, result.notice])).toBe('ok');
  expect(result.notCarried).toEqual([]);
  expect(result.stateSaved).toBe(true);
  return result;
}

const stateFile = (sessionId: string) => path.join(t.dataDir, 'sessions', sessionId, 'state', 'python');

/** The session's blob files: name → inode and size. */
async function blobs(sessionId: string): Promise<Map<string, { ino: number; size: number }>> {
  const folder = `${stateFile(sessionId)}.blobs`;
  const found = new Map<string, { ino: number; size: number }>();
  for (const name of await fs.readdir(folder).catch(() => [] as string[])) {
    const stat = await fs.stat(path.join(folder, name));
    found.set(name, { ino: stat.ino, size: stat.size });
  }
  return found;
}

const newSession = async () => (await t.engine.createSession(t.principal)).id;

/**
 * Whether the runner can tell unchanged buffers from written ones where it runs (a kernel's pagemap;
 * gVisor has none): without, every large buffer is written again at every save, which is slower,
 * not wrong, so only what must hold everywhere is asserted.
 */
async function keepsUnchangedBlobs(sessionId: string): Promise<boolean> {
  const probe = await ok(sessionId, "print(__import__('codecell_runner.snapshot_blobs', fromlist=['_']).pagemap_tells_writes())");
  return probe.stdout.text.trim() === 'True';
}

describe('python snapshots with blobs', () => {
  it('leaves unchanged arrays and frames as the same files, writes only what changed in place, and carries the change', async () => {
    const session = await newSession();
    await ok(
      session,
      'import numpy as np, pandas as pd',
      'arr = np.arange(500_000.0)',
      "df = pd.DataFrame({'a': np.arange(300_000.0), 'b': np.ones(300_000)})",
      'lst = [1]',
      'x = 1',
    );
    const first = await blobs(session);
    expect(first.size).toBe(2);
    expect([...first.values()].map((blob) => blob.size).sort((a, b) => a - b)).toEqual([4_000_000, 4_800_000]);
    const keeps = await keepsUnchangedBlobs(session);

    // A small change: the blobs stay the very same files, and the snapshot file itself stays small.
    await ok(session, 'x = 2');
    if (keeps) expect(await blobs(session)).toEqual(first);
    expect((await fs.stat(stateFile(session))).size).toBeLessThan(64 * 1024);

    // In place: the array's blob is written again, the frame's stays.
    await ok(session, 'arr[0] = 5', 'lst.append(2)');
    const third = await blobs(session);
    const kept = [...third].filter(([name, blob]) => first.get(name)?.ino === blob.ino);
    expect(kept.map(([, blob]) => blob.size)).toEqual(keeps ? [4_800_000] : []);
    expect(third.size).toBe(2);

    await ok(session, "df['a'] += 1");
    const result = await ok(session, "print(arr[0], arr[1], df['a'][0], df['a'][299_999], df['b'].sum(), lst, x)");
    expect(result.stdout.text).toBe('5.0 1.0 1.0 300000.0 300000.0 [1, 2] 2\n');
  });

  it('keeps objects shared between values shared, in one blob or across values saved apart', async () => {
    const session = await newSession();
    await ok(session, 'import numpy as np', 'a = [1]', 'b = a', 'big = np.zeros(300_000)', "holder = {'x': big}", 'whole = big[:]');
    await ok(session, 'b.append(2)', "holder['x'][0] = 7", 'whole[1] = 8');
    const result = await ok(session, "print(a, a is b, big[0], big[1], holder['x'] is big, np.shares_memory(whole, big))");
    expect(result.stdout.text).toBe('[1, 2] True 7.0 8.0 True True\n');
    expect((await blobs(session)).size).toBe(1);
  });

  it('keeps the last good snapshot when the runner is killed in the middle of its save', async () => {
    const session = await newSession();
    await ok(session, 'import numpy as np', 'arr = np.arange(500_000.0)', 'x = 1');
    const before = await blobs(session);
    const beforeState = await fs.readFile(stateFile(session));
    const killed = await run(
      session,
      'arr[0] = 9',
      'x = 2',
      'class Bomb:',
      '    def __reduce__(self):',
      '        import os, signal',
      '        os.kill(os.getpid(), signal.SIGKILL)',
      'bomb = Bomb()',
    );
    expect(killed.status).not.toBe('ok');
    expect(killed.stateSaved).toBe(false);
    expect(await blobs(session)).toEqual(before);
    expect(await fs.readFile(stateFile(session))).toEqual(beforeState);
    const result = await ok(session, 'print(arr[0], arr[1], x)');
    expect(result.stdout.text).toBe('0.0 1.0 1\n');
  });

  it('counts blobs in the session quota and keeps the last good snapshot when a new one would pass it', async () => {
    const session = await newSession();
    await ok(session, 'import numpy as np', 'first = np.ones(1_500_000)'); // 12 MB
    const listing = await t.files.list(t.principal, session);
    expect(listing.usage.snapshotBytes).toBeGreaterThanOrEqual(12_000_000);
    expect(listing.usage.snapshotBytes).toBeLessThan(12_500_000);
    const before = await blobs(session);
    const over = await run(session, 'second = np.ones(2_000_000)'); // 16 MB more: past 24 MiB
    expect(over.stateSaved).toBe(false);
    expect(await blobs(session)).toEqual(before);
    const result = await ok(session, "print(first.sum(), 'second' in globals())");
    expect(result.stdout.text).toBe('1500000.0 False\n');
  });
});
