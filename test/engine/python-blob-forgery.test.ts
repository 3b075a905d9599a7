/**
 * Attacks on the blob list a Python snapshot leaves (images/PROTOCOL.md, "Snapshots"), through the
 * engine, real Docker: code in the cell rewrites the runner's list and links files in out/ as it
 * likes. Each must fail (the session stays within its quota, the last good state stays usable) and
 * the next run works.
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

const sessionDir = (sessionId: string) => path.join(t.dataDir, 'sessions', sessionId);

/** Bytes the session's snapshots take, a hard-linked inode once (as the quota counts). */
async function snapshotBytes(sessionId: string): Promise<number> {
  const seen = new Set<number>();
  let total = 0;
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const stat = await fs.lstat(full);
        if (seen.has(stat.ino)) continue;
        seen.add(stat.ino);
        total += stat.size;
      }
    }
  };
  await walk(path.join(sessionDir(sessionId), 'state'));
  return total;
}

/** Cell code that makes the runner's save also list `copies` hard links of every new blob. */
const ALIAS_EVERY_NEW_BLOB = (copies: number) => [
  'import sys as _s, os as _o',
  "_m = _s.modules['codecell_runner.snapshot']",
  '_orig = _m.write_list',
  'def _forged(path, names):',
  '    import os as _o',
  "    d = _o.path.join(_o.path.dirname(path), 'blobs')",
  '    extra = set()',
  '    for n in list(names):',
  '        src = _o.path.join(d, n)',
  '        if _o.path.exists(src):',
  `            for _ in range(${copies}):`,
  '                a = _o.urandom(16).hex(); _o.link(src, _o.path.join(d, a)); extra.add(a)',
  '    _orig(path, set(names) | extra)',
  '_m.write_list = _forged',
  'del _s, _o, _m, _forged',
];

describe('forged blob lists', () => {
  it('a blob hard-linked under several names is not credited several times when dropped (the quota holds)', async () => {
    const session = (await t.engine.createSession(t.principal)).id;
    // 10 MB of files and an 8 MB array saved as one blob under four names (one inode: 18 MB real).
    const first = await run(
      session,
      "open('/mnt/data/filler', 'wb').write(__import__('os').urandom(10_000_000))",
      'import numpy as np',
      'x = np.random.rand(1_000_000)',
      ...ALIAS_EVERY_NEW_BLOB(3),
    );
    expect(first.status, JSON.stringify([first.error, first.stderr])).toBe('ok');
    const afterFirst = (await snapshotBytes(session)) + 10_000_000;
    expect(afterFirst).toBeLessThanOrEqual(QUOTA_MB * 1024 * 1024);
    // Dropping the array frees 8 MB; a 20 MB snapshot then brings the session to 30 MB: over its quota.
    const second = await run(session, 'del x', "y = [__import__('os').urandom(500_000) for _ in range(40)]");
    // The session's files are moved back after the answer: the next run reads their size in the sandbox.
    const next = await run(session, "print(__import__('os').path.getsize('/mnt/data/filler'))");
    expect(next.stdout.text.trim()).toBe('10000000');
    const bytes = (await snapshotBytes(session)) + 10_000_000;
    expect({ saved: second.stateSaved, overQuota: bytes > QUOTA_MB * 1024 * 1024 }).not.toEqual({ saved: true, overQuota: true });
    expect(bytes).toBeLessThanOrEqual(QUOTA_MB * 1024 * 1024);
  });
});
