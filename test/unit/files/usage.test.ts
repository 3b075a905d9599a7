/**
 * The one measure of what a session's files take (files/usage.ts), and the upload quota check that
 * uses it: bytes under names the API cannot address (not UTF-8, control characters) count in full,
 * so such names cannot be used to store more than the quota. Real temp dirs, no Docker.
 */
import { execFile } from 'node:child_process';
import { link, lstat, mkdir, mkdtemp, readdir, symlink, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';
import { scanTree } from '../../../src/files/file-tree.js';
import { FileService } from '../../../src/files/file-service.js';
import { removeTree } from '../../../src/files/remove-tree.js';
import { measureBytes, measureUsage, walkInProcess } from '../../../src/files/usage.js';
import { principalFor } from '../../../src/sessions/principal.js';
import { SessionStore } from '../../../src/sessions/session-store.js';
import { deepFolder } from './deep-tree.js';
import { diskBytes } from './disk-bytes.js';

const KiB = 1024;
const MiB = 1024 * KiB;

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'codecell-usage-'));
  cleanups.push(() => removeTree(dir));
  return dir;
}

/** A folder named with bytes that are not UTF-8, under `dir`; returns its path as bytes. */
async function nonUtf8Folder(dir: string): Promise<Buffer> {
  const folder = Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x68, 0xff, 0xfe])]);
  await mkdir(folder);
  return folder;
}

describe('measureBytes', () => {
  it('sums what files and folders take on disk, at every depth', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'a', 'b', 'c'), { recursive: true });
    await writeFile(path.join(dir, 'top.txt'), Buffer.alloc(100));
    await writeFile(path.join(dir, 'a', 'mid.txt'), Buffer.alloc(2 * KiB));
    await writeFile(path.join(dir, 'a', 'b', 'c', 'deep.txt'), Buffer.alloc(3 * KiB));
    const all = ['top.txt', 'a', 'a/mid.txt', 'a/b', 'a/b/c', 'a/b/c/deep.txt'].map((name) => path.join(dir, name));
    expect(await measureBytes(dir)).toBe(await diskBytes(...all));
    expect(await measureBytes(dir)).toBeGreaterThanOrEqual(100 + 5 * KiB);
    expect((await measureUsage(dir)).entries).toBe(6);
  });

  it('counts space allocated past the end of a file (fallocate --keep-size), though its size stays 0', async () => {
    const dir = await tempDir();
    const file = path.join(dir, 'reserved');
    await writeFile(file, '');
    await promisify(execFile)('fallocate', ['--keep-size', '--length', String(MiB), file]);
    expect((await lstat(file)).size).toBe(0);
    expect(await measureBytes(dir)).toBeGreaterThanOrEqual(MiB);
  });

  it('counts the blocks a folder takes (a folder of many entries takes many)', async () => {
    const dir = await tempDir();
    await mkdir(path.join(dir, 'wide'));
    for (let index = 0; index < 2000; index += 1) await writeFile(path.join(dir, 'wide', `entry-with-a-long-name-${index}`), '');
    const all = [path.join(dir, 'wide'), ...(await readdir(path.join(dir, 'wide'))).map((name) => path.join(dir, 'wide', name))];
    expect(await measureBytes(dir)).toBe(await diskBytes(...all));
  });

  it('counts a sparse file at its apparent size', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, 'one.csv'), 'a,b\n1,2\n');
    await truncate(path.join(dir, 'one.csv'), 64 * KiB);
    expect(await measureBytes(dir)).toBe(64 * KiB);
  });

  it('counts a hard-linked file once, and a symlink as its own few bytes, never its target', async () => {
    const outside = await tempDir();
    await writeFile(path.join(outside, 'big.bin'), Buffer.alloc(256 * KiB));
    const dir = await tempDir();
    await writeFile(path.join(dir, 'data.bin'), Buffer.alloc(10 * KiB));
    await link(path.join(dir, 'data.bin'), path.join(dir, 'data-twin.bin'));
    await symlink(outside, path.join(dir, 'to-outside')); // a folder link: must not be walked
    await symlink('to-outside', path.join(dir, 'loop')); // and links to links do not loop
    expect(await measureBytes(dir)).toBe(await diskBytes(...['data.bin', 'to-outside', 'loop'].map((name) => path.join(dir, name))));
    expect(await measureBytes(dir)).toBeLessThan(256 * KiB);
  });

  it('counts entries whose names are not UTF-8, which file listings skip', async () => {
    const dir = await tempDir();
    const badFolder = await nonUtf8Folder(dir);
    await writeFile(Buffer.concat([badFolder, Buffer.from('/hidden.bin')]), Buffer.alloc(40 * KiB));
    await writeFile(path.join(dir, 'ctrl\u0001name'), Buffer.alloc(KiB));
    expect((await scanTree(dir)).size).toBe(0); // what the listing sees
    const hidden = [badFolder, Buffer.concat([badFolder, Buffer.from('/hidden.bin')]), path.join(dir, 'ctrl\u0001name')];
    expect(await measureBytes(dir)).toBe(await diskBytes(...hidden)); // what the disk holds
    expect(await measureBytes(dir)).toBeGreaterThanOrEqual(41 * KiB);
  });

  it('counts files deeper than PATH_MAX (4096 bytes), which no path can name', async () => {
    const dir = await tempDir();
    const deep = await deepFolder(dir, 6000);
    await writeFile(`/proc/self/fd/${deep.fd}/hidden.bin`, Buffer.alloc(70 * KiB));
    await deep.close();
    expect(deep.pathBytes).toBeGreaterThan(4096);
    const usage = await measureUsage(dir);
    expect(usage.bytes).toBeGreaterThanOrEqual(70 * KiB);
    expect(usage.entries).toBe(Math.ceil((6000 - dir.length) / 201) + 1);
  });

  it('counts names that begin with a byte-order mark (U+FEFF)', async () => {
    const dir = await tempDir();
    await writeFile(path.join(dir, '\uFEFFbom.bin'), Buffer.alloc(3 * KiB));
    expect(await measureBytes(dir)).toBe(await diskBytes(path.join(dir, '\uFEFFbom.bin')));
    expect(await measureBytes(dir)).toBeGreaterThanOrEqual(3 * KiB);
  });

  it('adds up several roots as one, a hard link across them once', async () => {
    const files = await tempDir();
    const state = await tempDir();
    await writeFile(path.join(state, 'python'), Buffer.alloc(5 * KiB));
    await link(path.join(state, 'python'), path.join(files, 'twin'));
    await writeFile(path.join(files, 'own'), Buffer.alloc(KiB));
    const bytes = await diskBytes(path.join(state, 'python'), path.join(files, 'own'));
    expect(await measureUsage([files, state])).toEqual({ bytes, entries: 3, stopped: false });
  });

  it('stops as soon as it is told to, with the sums so far', async () => {
    const dir = await tempDir();
    for (let index = 0; index < 10_000; index += 1) await writeFile(path.join(dir, `e${index}`), '');
    const usage = await measureUsage(dir, { stopWhen: (sofar) => sofar.entries >= 10 });
    expect(usage.stopped).toBe(true);
    expect(usage.entries).toBeGreaterThanOrEqual(10);
    // 10,000 lines of find's output never fit in one pipe buffer (64 KiB): it stopped early.
    expect(usage.entries).toBeLessThan(10_000);
  });

  it('leaves out an uncounted regular file, even under a name with glob characters, and nothing else', async () => {
    const dir = path.join(await tempDir(), 'slot [1]*?');
    await mkdir(path.join(dir, 'out'), { recursive: true });
    await writeFile(path.join(dir, 'out', 'state'), Buffer.alloc(5 * KiB));
    await writeFile(path.join(dir, 'out', 'stat?'), Buffer.alloc(KiB)); // a pattern would match this too
    const bytes = await diskBytes(path.join(dir, 'out'), path.join(dir, 'out', 'stat?'));
    expect(await measureUsage(dir, { uncountedFiles: [path.join(dir, 'out', 'state')] })).toEqual({ bytes, entries: 2, stopped: false });
  });

  it('is 0 for a folder that does not exist', async () => {
    const dir = await tempDir();
    expect(await measureBytes(path.join(dir, 'missing'))).toBe(0);
  });
});

describe('the in-process walk beside find', () => {
  it('gives find’s sums for a small tree of every kind: odd names, links, sparse, a skipped file', async () => {
    const dir = await tempDir();
    const badFolder = await nonUtf8Folder(dir);
    await writeFile(Buffer.concat([badFolder, Buffer.from('/hidden.bin')]), Buffer.alloc(40 * KiB));
    await mkdir(path.join(dir, 'a', 'b'), { recursive: true });
    await writeFile(path.join(dir, 'a', 'b', 'x'), Buffer.alloc(3 * KiB));
    await link(path.join(dir, 'a', 'b', 'x'), path.join(dir, 'twin'));
    await symlink('/etc/passwd', path.join(dir, 'link'));
    await writeFile(path.join(dir, 'sparse'), '');
    await truncate(path.join(dir, 'sparse'), 5 * MiB);
    await writeFile(path.join(dir, 'skip [me]'), Buffer.alloc(8 * KiB));
    const options = { uncountedFiles: [path.join(dir, 'skip [me]')] };
    const inProcess = await walkInProcess([dir, path.join(dir, 'missing')], options);
    expect(inProcess).not.toBeNull();
    // find's own figure for the same tree: measured beside a tree too big for the walk (so find walks both), minus that tree's.
    const big = await tempDir();
    for (let index = 0; index < 300; index += 1) await writeFile(path.join(big, `e${index}`), '');
    expect(await walkInProcess([big])).toBeNull();
    const bigAlone = await measureUsage(big);
    const together = await measureUsage([dir, big, path.join(dir, 'missing')], options);
    expect({ bytes: together.bytes - bigAlone.bytes, entries: together.entries - bigAlone.entries, stopped: false }).toEqual(inProcess);
    expect(inProcess?.entries).toBe(8);
  });

  it('leaves a tree with a path near PATH_MAX to find', async () => {
    const dir = await tempDir();
    const deep = await deepFolder(dir, 3500);
    await deep.close();
    expect(await walkInProcess([dir])).toBeNull();
  });
});

describe('the upload quota check', () => {
  it('counts files under non-UTF-8 names in full', async () => {
    const dataDir = await tempDir();
    const settings = loadSettings({}, { CODECELL_DATA_DIR: dataDir, CODECELL_SESSION_QUOTA_MB: '1' });
    const sessions = await SessionStore.open({ dataDir, ttlMs: settings.sessions.ttlMs, maxSessions: 5 });
    const files = new FileService({ sessions, settings });
    const alice = principalFor('key-a', 'alice');
    const { id } = await sessions.create(alice);
    const filesDir = sessions.filesDir(id);

    // What sandbox code could leave behind: nearly the whole quota, under names no listing shows.
    const hidden = await nonUtf8Folder(filesDir);
    const inside = Buffer.concat([hidden, Buffer.from('/a.bin')]);
    const beside = Buffer.concat([Buffer.from(`${filesDir}/`), Buffer.from([0xc3, 0x28])]);
    await writeFile(inside, Buffer.alloc(600 * KiB));
    await writeFile(beside, Buffer.alloc(300 * KiB - 100));
    const used = await diskBytes(hidden, inside, beside);
    expect(await measureBytes(filesDir)).toBe(used);

    await expect(files.write(alice, id, 'more.bin', Buffer.alloc(MiB - used + 1))).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    expect(await readdir(filesDir)).toHaveLength(2); // nothing was stored
    // What is left of the quota can still be used.
    await expect(files.write(alice, id, 'fits.bin', Buffer.alloc(100))).resolves.toMatchObject({ size: 100 });
    expect(await readdir(filesDir)).toHaveLength(3);
  });
});
