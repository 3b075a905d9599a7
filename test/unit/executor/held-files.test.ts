/**
 * Counting what processes hold in files deleted while open, on the real kernel: a child Node process
 * opens files in a temp dir, writes, deletes them and keeps its descriptors; the count must see them,
 * by the in-process read for a few descriptors and by find for thousands, and must not count files
 * that still have a name, other devices, or files the process let go of. The maps parsing is checked
 * against this process's own listing (mappings of deleted files are attacked through the public
 * interface in test/security/quota-escapes.test.ts: it needs a language that maps files).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { deletedMappings, devicesOf, encodeDevice, holderTables, measureHeldFiles as measureHeld, readInProcess } from '../../../src/executor/held-files.js';
import { groupOf, processGroupMembers } from '../../../src/executor/process/process-group.js';

const MiB = 1024 * 1024;

/** Held bytes of `pids`, each thread's descriptor table read (as for processes user code runs as). */
function measureHeldFiles(pids: readonly number[], devices: ReadonlySet<bigint>): Promise<number> {
  return measureHeld({ pids, threadsShareDescriptors: false, largestFileBytes: 20 * MiB }, devices);
}

function readHere(pids: readonly number[], devices: ReadonlySet<bigint>): number | null {
  return readInProcess(pids.flatMap((pid) => holderTables(pid, false)), devices);
}
const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'codecell-held-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * A Node child that runs `script` (which gets `dir` as process.argv[1]), then prints "ready" and
 * waits until killed. Resolves once it printed "ready".
 */
async function holder(script: string, dir: string, options: { detached?: boolean } = {}): Promise<ChildProcessWithoutNullStreams> {
  const child = spawn(process.execPath, ['-e', `${script}\nprocess.stdout.write('ready\\n'); setInterval(() => {}, 1 << 30);`, dir], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  cleanups.push(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  let stdout = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`holder exited ${code}: ${stderr}`)));
  });
  return child;
}

/** Opens `count` files of `mib` MiB each in the dir, deletes them and keeps them open; `named` more are kept with their names. */
const HOLD_DELETED = (count: number, mib: number, named = 0, nullFds = 0) => `
const fs = require('node:fs'); const dir = process.argv[1]; globalThis.kept = [];
const block = Buffer.alloc(${mib} * 1024 * 1024, 7);
for (let i = 0; i < ${count}; i++) { const f = dir + '/gone' + i; const fd = fs.openSync(f, 'w'); fs.writeSync(fd, block); fs.unlinkSync(f); kept.push(fd); }
for (let i = 0; i < ${named}; i++) { const fd = fs.openSync(dir + '/named' + i, 'w'); fs.writeSync(fd, block); kept.push(fd); }
for (let i = 0; i < ${nullFds}; i++) kept.push(fs.openSync('/dev/null', 'r'));`;

describe('measureHeldFiles', () => {
  it('counts files deleted while open on the watched device, once each, and nothing with a name', async () => {
    const dir = await tempDir();
    const child = await holder(HOLD_DELETED(3, 2, 2), dir);
    const devices = devicesOf([dir]);
    const held = await measureHeldFiles([child.pid as number], devices);
    // Three 2 MiB files (a file system may allocate a little more than the size).
    expect(held).toBeGreaterThanOrEqual(3 * 2 * MiB);
    expect(held).toBeLessThan(3 * 2 * MiB + MiB);
    expect(readHere([child.pid as number], devices)).toBe(held);
    // The same process listed twice counts each file once.
    expect(await measureHeldFiles([child.pid as number, child.pid as number], devices)).toBe(held);
  });

  it('counts nothing on other devices, and nothing once the holder is gone', async () => {
    const dir = await tempDir();
    const child = await holder(HOLD_DELETED(2, 1), dir);
    const pid = child.pid as number;
    const elsewhere = new Set([(await stat(dir, { bigint: true })).dev + 1n]);
    expect(await measureHeldFiles([pid], elsewhere)).toBe(0);
    expect(await measureHeldFiles([pid], devicesOf([dir]))).toBeGreaterThanOrEqual(2 * MiB);
    child.kill('SIGKILL');
    await once(child, 'exit');
    expect(await measureHeldFiles([pid], devicesOf([dir]))).toBe(0);
  });

  it('counts through find when a process has more descriptors than are read in process, the same bytes', async () => {
    const dir = await tempDir();
    const child = await holder(HOLD_DELETED(4, 1, 1, 1500), dir);
    const devices = devicesOf([dir]);
    expect(readHere([child.pid as number], devices)).toBeNull();
    const held = await measureHeldFiles([child.pid as number], devices);
    expect(held).toBeGreaterThanOrEqual(4 * MiB);
    expect(held).toBeLessThan(5 * MiB);
  });

  it('hands the count to find once the maps listings pass what is read in process, with the same bytes', async () => {
    const dir = await tempDir();
    const child = await holder(HOLD_DELETED(2, 1), dir);
    const devices = devicesOf([dir]);
    const holders = { pids: [child.pid as number], threadsShareDescriptors: false, largestFileBytes: 20 * MiB };
    const tables = holderTables(child.pid as number, false);
    expect(readInProcess(tables, devices)).not.toBeNull();
    // A Node process lists a few KB of mappings: a 1 KB allowance is passed, and find counts instead.
    expect(readInProcess(tables, devices, { maxEntries: 1024, maxMapsBytes: 1024 })).toBeNull();
    expect(await measureHeld(holders, devices, { maxEntries: 1024, maxMapsBytes: 1024 })).toBe(await measureHeld(holders, devices));
  });
});

describe('the maps listing', () => {
  it('reads the device of a mapping as stat gives it (this process maps its own binary)', async () => {
    const maps = await readFile('/proc/self/maps', 'utf8');
    const binary = await stat('/proc/self/exe', { bigint: true });
    const line = maps.split('\n').find((entry) => entry.split(/\s+/)[4] === String(binary.ino));
    expect(line, 'the binary is mapped').toBeDefined();
    const [major, minor] = (line as string).split(/\s+/)[3]!.split(':').map((part) => Number.parseInt(part, 16));
    expect(encodeDevice(major!, minor!)).toBe(binary.dev);
  });

  it('picks deleted file mappings on the given devices only', () => {
    const device = encodeDevice(0x103, 0x2);
    const listing = [
      '7f00-7f10 rw-s 00000000 103:02 4242 /mnt/data/gone (deleted)',
      '7f10-7f20 rw-s 00000000 103:02 4243 /mnt/data/named',
      '7f20-7f30 rw-s 00000000 00:05 77 /memfd:x (deleted)',
      '7f30-7f40 rw-p 00000000 00:00 0 ',
      '7f40-7f50 r--s 00000000 103:02 4244 /mnt/data/a name with spaces (deleted)',
    ].join('\n');
    expect(deletedMappings(listing, new Set([device]))).toEqual([
      { range: '7f00-7f10', file: `${device}:4242` },
      { range: '7f40-7f50', file: `${device}:4244` },
    ]);
  });
});

describe('processGroupMembers', () => {
  it('lists a process group with a member the leader started', async () => {
    const dir = await tempDir();
    const leader = await holder(
      `const { spawn } = require('node:child_process'); globalThis.grandchild = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore' }); require('node:fs').writeFileSync(process.argv[1] + '/pid', String(grandchild.pid));`,
      dir,
      { detached: true },
    );
    cleanups.push(async () => {
      try {
        process.kill(-(leader.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    });
    const grandchild = Number(await readFile(path.join(dir, 'pid'), 'utf8'));
    expect(processGroupMembers(leader.pid as number).sort()).toEqual([leader.pid, grandchild].sort());
  });

  it('reads the group past a command name with spaces and parentheses', () => {
    expect(groupOf('4242 (a) b (c) S 1 4240 4240 0 -1')).toBe(4240);
    expect(groupOf('garbage')).toBeNull();
  });
});
