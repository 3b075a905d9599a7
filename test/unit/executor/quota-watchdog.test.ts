/**
 * The quota watchdog on real temp dirs: what it counts, when it calls back, and which limit it
 * names. Everything is seen as the executor sees it: the callback, start()'s answer, poll()'s
 * answer, breach, judge() and usageNow(). Most tests step it with poll() (the timer is parked an
 * hour away; each poll is one whole walk), so nothing depends on how fast the machine is; one test
 * lets the real timer find a breach.
 */
import { link, mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { QuotaWatchdog, type QuotaBreach, type QuotaWatchdogOptions } from '../../../src/executor/quota-watchdog.js';
import { removeTree } from '../../../src/files/remove-tree.js';
import { deepFolder } from '../files/deep-tree.js';

/**
 * The unit of every size here: 64 UNIT is a whole number of blocks on any file system (4 UNIT on ext4,
 * up to 64 UNIT pages on tmpfs), so a file of whole units takes exactly its size, as the measure counts
 * what the disk holds. Folders and one-byte files take a block of the file system's own size: where
 * they are in play, the tests compare with a fresh measure instead of a sum.
 */
const UNIT = 64 * 1024;
const PARKED = 60 * 60 * 1000; // a poll interval no test waits for: tests step with poll()

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'codecell-watchdog-'));
  cleanups.push(() => removeTree(dir));
  return dir;
}

/** A watchdog on `dir` that records what its callback is told; stopped after the test. */
function watch(dir: string, limitBytes: number, options: Partial<QuotaWatchdogOptions> = {}) {
  const calls: number[] = [];
  const breaches: QuotaBreach[] = [];
  const watchdog = new QuotaWatchdog({
    dirs: [dir],
    limitBytes,
    intervalMs: PARKED,
    onExceeded: (used, breach) => {
      calls.push(used);
      breaches.push(breach);
    },
    ...options,
  });
  cleanups.push(() => watchdog.stop());
  return { watchdog, calls, breaches };
}

/** The byte threshold, as the executor meets it: a usage of `bytes` is within it, one byte more passes it as `breach`. */
function expectByteThreshold(watchdog: QuotaWatchdog, bytes: number, breach: QuotaBreach): void {
  expect(watchdog.judge({ bytes, entries: 0 })).toBeNull();
  expect(watchdog.judge({ bytes: bytes + 1, entries: 0 })).toBe(breach);
}

async function writeFiles(dir: string, count: number, bytes: number, prefix = 'f'): Promise<void> {
  for (let index = 0; index < count; index += 1) {
    await writeFile(path.join(dir, `${prefix}${index}.bin`), Buffer.alloc(bytes, index % 256));
  }
}

describe('QuotaWatchdog', () => {
  it('starts from what the folder holds and stays quiet below the quota', async () => {
    const dir = await tempDir();
    await writeFiles(dir, 3, UNIT);
    const { watchdog, calls } = watch(dir, 10 * UNIT);
    expect(await watchdog.start()).toBe(3 * UNIT);
    expectByteThreshold(watchdog, 10 * UNIT, 'quota');
    await writeFiles(dir, 4, UNIT, 'more');
    expect(await watchdog.poll()).toBe(false);
    expect((await watchdog.usageNow()).bytes).toBe(7 * UNIT);
    expect(watchdog.breach).toBeNull();
    expect(calls).toEqual([]);
  });

  it('calls back once, with the usage, when the files pass the quota', async () => {
    const dir = await tempDir();
    const { watchdog, calls, breaches } = watch(dir, 10 * UNIT);
    await watchdog.start();
    await writeFiles(dir, 11, UNIT);
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([11 * UNIT]);
    expect(breaches).toEqual(['quota']);
    expect(watchdog.breach).toBe('quota');
    await writeFiles(dir, 5, UNIT, 'after');
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('does not trip at exactly the quota', async () => {
    const dir = await tempDir();
    const { watchdog, calls } = watch(dir, 4 * UNIT);
    await watchdog.start();
    await writeFiles(dir, 4, UNIT);
    expect((await watchdog.usageNow()).bytes).toBe(4 * UNIT);
    expect(await watchdog.poll()).toBe(false);
    expect(calls).toEqual([]);
    await writeFile(path.join(dir, 'one-more-byte'), 'x');
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([(await watchdog.usageNow()).bytes]);
    expect(calls[0]).toBeGreaterThan(4 * UNIT);
  });

  it('sees a file that grows, and bytes hidden under a name listings skip', async () => {
    const dir = await tempDir();
    const { watchdog, calls } = watch(dir, 64 * UNIT);
    await watchdog.start();
    const hidden = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0xc3, 0x28])]);
    await mkdir(hidden);
    await writeFile(Buffer.concat([hidden, Buffer.from('/log')]), Buffer.alloc(60 * UNIT));
    expect(await watchdog.poll()).toBe(false);
    expect(calls).toEqual([]);
    await writeFile(Buffer.concat([hidden, Buffer.from('/log')]), Buffer.alloc(70 * UNIT));
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([(await watchdog.usageNow()).bytes]);
    expect(calls[0]).toBeGreaterThanOrEqual(70 * UNIT);
  });

  it('adds what the run holds in deleted files to each poll, not to the start or the last look', async () => {
    const dir = await tempDir();
    let held = 0;
    const { watchdog, calls } = watch(dir, 10 * UNIT, { heldBytes: () => Promise.resolve(held) });
    await writeFiles(dir, 4, UNIT);
    held = 100 * UNIT;
    expect(await watchdog.start()).toBe(4 * UNIT);
    held = 6 * UNIT;
    expect(await watchdog.poll()).toBe(false);
    held = 6 * UNIT + 1;
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([10 * UNIT + 1]);
    expect(watchdog.heldBytesAtBreach).toBe(6 * UNIT + 1);
    expect((await watchdog.usageNow()).bytes).toBe(4 * UNIT);
  });

  it('still trips on the files when counting held files fails', async () => {
    const dir = await tempDir();
    const { watchdog, breaches } = watch(dir, 4 * UNIT, { heldBytes: () => Promise.reject(new Error('procfs said no')) });
    await watchdog.start();
    await writeFiles(dir, 5, UNIT);
    expect(await watchdog.poll()).toBe(true);
    expect(breaches).toEqual(['quota']);
  });

  it('lets a session already over its quota run as long as it does not grow', async () => {
    const dir = await tempDir();
    await writeFiles(dir, 6, UNIT);
    const { watchdog, calls } = watch(dir, 4 * UNIT);
    expect(await watchdog.start()).toBe(6 * UNIT);
    expectByteThreshold(watchdog, 6 * UNIT, 'quota');
    await unlink(path.join(dir, 'f0.bin')); // cleaning up is fine
    await writeFile(path.join(dir, 'f1.bin'), Buffer.alloc(2 * UNIT)); // so is rewriting within the start
    expect((await watchdog.usageNow()).bytes).toBe(6 * UNIT);
    expect(await watchdog.poll()).toBe(false);
    expect(calls).toEqual([]);
    await writeFile(path.join(dir, 'grow.bin'), Buffer.alloc(UNIT));
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([7 * UNIT]);
  });

  it("gives a session at or over its quota only the room it was given for its runner's own files", async () => {
    const dir = await tempDir();
    await writeFiles(dir, 6, UNIT);
    const { watchdog, calls } = watch(dir, 4 * UNIT, { overQuotaRoomBytes: UNIT });
    expect(await watchdog.start()).toBe(6 * UNIT);
    expectByteThreshold(watchdog, 7 * UNIT, 'quota');
    await writeFile(path.join(dir, 'cell.sh'), Buffer.alloc(UNIT)); // the runner's scratch, before the code deletes anything
    expect(await watchdog.poll()).toBe(false);
    await writeFile(path.join(dir, 'more.bin'), Buffer.alloc(UNIT));
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([8 * UNIT]);

    // Below the quota the room does not apply: the quota is the threshold.
    const under = await tempDir();
    await writeFiles(under, 3, UNIT);
    const below = watch(under, 4 * UNIT, { overQuotaRoomBytes: UNIT });
    expect(await below.watchdog.start()).toBe(3 * UNIT);
    expectByteThreshold(below.watchdog, 4 * UNIT, 'quota');
  });

  it('watches several folders as one: files, out/ and snapshots, a hard link once across them', async () => {
    const data = await tempDir();
    const out = await tempDir();
    const state = await tempDir();
    await writeFiles(state, 1, 3 * UNIT, 'python');
    const { watchdog, calls } = watch(data, 8 * UNIT, { dirs: [data, out, state] });
    expect(await watchdog.start()).toBe(3 * UNIT);
    await link(path.join(state, 'python0.bin'), path.join(data, 'twin.bin')); // no new bytes
    await writeFiles(out, 1, 4 * UNIT, 'state');
    expect((await watchdog.usageNow()).bytes).toBe(7 * UNIT);
    expect(await watchdog.poll()).toBe(false);
    expect(calls).toEqual([]);
    await writeFiles(out, 1, 2 * UNIT, 'junk');
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([9 * UNIT]);
    expect(watchdog.breach).toBe('quota');
  });

  it("leaves out the snapshot being written (judged before it is adopted), but not a folder in its place", async () => {
    const data = await tempDir();
    const out = await tempDir();
    const state = await tempDir();
    await writeFiles(state, 1, 6 * UNIT, 'python'); // the old snapshot
    const newState = path.join(out, 'state');
    const { watchdog, calls } = watch(data, 8 * UNIT, { dirs: [data, out, state], uncountedFiles: [newState] });
    await watchdog.start();
    await writeFile(newState, Buffer.alloc(6 * UNIT)); // old and new together: 12 UNIT
    expect((await watchdog.usageNow()).bytes).toBe(6 * UNIT);
    expect(await watchdog.poll()).toBe(false);
    expect(calls).toEqual([]);
    await rm(newState);
    await mkdir(newState);
    await writeFile(path.join(newState, 'hidden'), Buffer.alloc(3 * UNIT));
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([(await watchdog.usageNow()).bytes]);
    expect(calls[0]).toBeGreaterThanOrEqual(9 * UNIT);
  });

  it('stops a run at the room the disk budget gave it, below the quota', async () => {
    const dir = await tempDir();
    await writeFiles(dir, 2, UNIT);
    const { watchdog, calls, breaches } = watch(dir, 100 * UNIT, { growthCapBytes: 3 * UNIT });
    await watchdog.start();
    expectByteThreshold(watchdog, 5 * UNIT, 'budget');
    await writeFiles(dir, 3, UNIT, 'more');
    expect(await watchdog.poll()).toBe(false);
    expect(calls).toEqual([]);
    await writeFile(path.join(dir, 'over'), 'x');
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([(await watchdog.usageNow()).bytes]);
    expect(calls[0]).toBeGreaterThan(5 * UNIT);
    expect(breaches).toEqual(['budget']);
    expect(watchdog.breach).toBe('budget');
  });

  it('stops a run that makes too many entries, even empty ones', async () => {
    const dir = await tempDir();
    await writeFiles(dir, 2, 0);
    const { watchdog, calls, breaches } = watch(dir, 100 * UNIT, { limitEntries: 4 });
    await watchdog.start();
    await mkdir(path.join(dir, 'folder'));
    await writeFiles(dir, 1, 0, 'more'); // four entries: exactly the limit
    expect(await watchdog.poll()).toBe(false);
    await writeFiles(dir, 1, 0, 'over');
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([(await watchdog.usageNow()).bytes]); // empty files: the folder's blocks at most
    expect(breaches).toEqual(['entries']);
    expect(watchdog.breach).toBe('entries');
  });

  it('sees files deeper than PATH_MAX (4096 bytes)', async () => {
    const dir = await tempDir();
    const { watchdog, calls } = watch(dir, 64 * UNIT);
    await watchdog.start();
    const deep = await deepFolder(dir, 5000);
    await writeFile(`/proc/self/fd/${deep.fd}/hidden.bin`, Buffer.alloc(65 * UNIT));
    await deep.close();
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([(await watchdog.usageNow()).bytes]);
    expect(calls[0]).toBeGreaterThanOrEqual(65 * UNIT);
  });

  it('judges a last look (after the run, before a new snapshot is adopted) by the same thresholds', async () => {
    const dir = await tempDir();
    await writeFiles(dir, 1, 4 * UNIT, 'old-state');
    const { watchdog, calls } = watch(dir, 8 * UNIT, { growthCapBytes: 6 * UNIT, limitEntries: 3 });
    await watchdog.start();
    expect(watchdog.judge({ bytes: 8 * UNIT, entries: 3 })).toBeNull(); // exactly the quota
    expect(watchdog.judge({ bytes: 8 * UNIT + 1, entries: 1 })).toBe('quota');
    expect(watchdog.judge({ bytes: 4 * UNIT, entries: 4 })).toBe('entries');
    const tighter = watch(dir, 100 * UNIT, { growthCapBytes: UNIT });
    await tighter.watchdog.start();
    expect(tighter.watchdog.judge({ bytes: 5 * UNIT, entries: 1 })).toBeNull();
    expect(tighter.watchdog.judge({ bytes: 5 * UNIT + 1, entries: 1 })).toBe('budget');
    // Judging is not tripping: no callback, no breach, and polling goes on.
    for (const judged of [watchdog, tighter.watchdog]) {
      expect(judged.breach).toBeNull();
      expect(await judged.poll()).toBe(false);
    }
    expect(calls).toEqual([]);
    expect(tighter.calls).toEqual([]);
  });

  it('refuses to judge or poll before start()', async () => {
    const dir = await tempDir();
    const { watchdog } = watch(dir, UNIT);
    expect(() => watchdog.judge({ bytes: 0, entries: 0 })).toThrow(/start\(\)/);
    await expect(watchdog.poll()).rejects.toThrow(/start\(\)/);
  });

  it('never calls back after stop(), and stopping twice or before start is fine', async () => {
    const dir = await tempDir();
    const { watchdog, calls } = watch(dir, UNIT);
    await watchdog.stop(); // before start
    await expect(watchdog.start()).rejects.toThrow(/starts once/); // a stopped watchdog stays stopped
    const fresh = watch(dir, UNIT);
    await fresh.watchdog.start();
    await fresh.watchdog.stop();
    await writeFiles(dir, 4, UNIT);
    expect(await fresh.watchdog.poll()).toBe(false);
    await fresh.watchdog.stop();
    expect(fresh.watchdog.breach).toBeNull();
    expect(fresh.calls).toEqual([]);
    expect(calls).toEqual([]);
    // Stopped is not blind: the last look after the run still measures and judges.
    const ended = await fresh.watchdog.usageNow();
    expect(ended.bytes).toBe(4 * UNIT);
    expect(fresh.watchdog.judge(ended)).toBe('quota');
    expect(fresh.calls).toEqual([]);
  });

  it('drops the verdict of a walk under way when stopped', async () => {
    const dir = await tempDir();
    const { watchdog, calls } = watch(dir, UNIT);
    await watchdog.start();
    await writeFiles(dir, 4, UNIT);
    const polled = watchdog.poll(); // the walk has begun: poll() spawns it before its first await
    await watchdog.stop();
    expect(await polled).toBe(false);
    expect(watchdog.breach).toBeNull();
    expect(calls).toEqual([]);
  });

  it('keeps going when the folder vanishes mid-run and comes back', async () => {
    const root = await tempDir();
    const dir = path.join(root, 'data');
    await mkdir(dir);
    await writeFiles(dir, 2, UNIT);
    const { watchdog, calls } = watch(dir, 4 * UNIT);
    await watchdog.start();
    await rm(dir, { recursive: true });
    expect(await watchdog.poll()).toBe(false);
    await mkdir(dir);
    await writeFiles(dir, 5, UNIT);
    expect(await watchdog.poll()).toBe(true);
    expect(calls).toEqual([5 * UNIT]);
  });

  it('survives a callback that throws', async () => {
    const dir = await tempDir();
    let called = 0;
    const { watchdog } = watch(dir, 0, {
      onExceeded: () => {
        called += 1;
        throw new Error('the caller failed');
      },
    });
    await watchdog.start();
    await writeFile(path.join(dir, 'x'), 'x');
    expect(await watchdog.poll()).toBe(true);
    expect(called).toBe(1);
    expect(watchdog.breach).toBe('quota');
    expect(await watchdog.poll()).toBe(true);
    expect(called).toBe(1);
  });

  it('refuses a second start and a negative limit', async () => {
    const dir = await tempDir();
    const { watchdog } = watch(dir, UNIT);
    await watchdog.start();
    await expect(watchdog.start()).rejects.toThrow(/starts once/);
    expect(() => new QuotaWatchdog({ dirs: [dir], limitBytes: -1, onExceeded: () => undefined })).toThrow(RangeError);
  });

  it('finds a breach on its own timer', async () => {
    const dir = await tempDir();
    let exceeded!: (used: number) => void;
    const breach = new Promise<number>((resolve) => (exceeded = resolve));
    const watchdog = new QuotaWatchdog({ dirs: [dir], limitBytes: 8 * UNIT, intervalMs: 5, onExceeded: (used) => exceeded(used) });
    cleanups.push(() => watchdog.stop());
    await watchdog.start();
    await writeFiles(dir, 3, 4 * UNIT);
    // No clock in the assertion: the test's own timeout is the only bound on "soon".
    expect(await breach).toBeGreaterThan(8 * UNIT);
    expect(watchdog.breach).toBe('quota');
  });
});
