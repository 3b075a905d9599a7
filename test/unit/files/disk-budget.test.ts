/**
 * The server's disk budget (files/disk-budget.ts) on a real temp dir: grants never add up past the
 * budget, released grants count what was written, and a stale measure is taken again.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DiskBudget } from '../../../src/files/disk-budget.js';
import { removeTree } from '../../../src/files/remove-tree.js';
import { diskBytes } from './disk-bytes.js';

const KiB = 1024;
const dirs: string[] = [];

afterEach(async () => {
  for (const dir of dirs.splice(0)) await removeTree(dir);
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'codecell-budget-'));
  dirs.push(dir);
  return dir;
}

describe('DiskBudget', () => {
  it('grants everything when there is no budget', async () => {
    const budget = new DiskBudget({ roots: [await tempDir()], limitBytes: 0 });
    expect(budget.enabled).toBe(false);
    expect((await budget.reserve(123)).bytes).toBe(Number.POSITIVE_INFINITY);
  });

  it('never grants more than is left, counting grants under way', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'used'), Buffer.alloc(4 * KiB));
    const budget = new DiskBudget({ roots: [dir], limitBytes: 10 * KiB });
    const first = await budget.reserve(5 * KiB);
    const second = await budget.reserve(5 * KiB);
    expect([first.bytes, second.bytes]).toEqual([5 * KiB, KiB]);
    expect((await budget.reserve(1)).bytes).toBe(0);
    first.release(0); // wrote nothing
    expect((await budget.reserve(10 * KiB)).bytes).toBe(5 * KiB);
  });

  it('adds what a released grant wrote, until the next measure', async () => {
    const dir = await tempDir();
    const clock = { now: 0 };
    const budget = new DiskBudget({ roots: [dir], limitBytes: 10 * KiB, maxAgeMs: 1000, now: () => clock.now });
    const grant = await budget.reserve(8 * KiB);
    await writeFile(path.join(dir, 'written'), Buffer.alloc(6 * KiB));
    grant.release(6 * KiB);
    expect(await budget.usedBytes()).toBe(6 * KiB);
    await writeFile(path.join(dir, 'behind-its-back'), Buffer.alloc(KiB));
    expect(await budget.usedBytes()).toBe(6 * KiB); // the measure still stands
    clock.now = 1001;
    // Taken again: now what the two files take on disk.
    expect(await budget.usedBytes()).toBe(await diskBytes(path.join(dir, 'written'), path.join(dir, 'behind-its-back')));
  });
});
