/**
 * The data dir may be a FUSE or network mount (a Space's storage bucket) where rename fails with
 * EXDEV: a slot's moves then copy and remove (executor/slot.ts). The session lives on /dev/shm (a
 * tmpfs) and the slots in the temp dir, two file systems on a usual Linux machine; where they are one,
 * copyEntriesAcross is still checked directly.
 */
import { mkdtempSync, promises as fs, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyEntriesAcross, Slot } from '../../../src/executor/slot.js';

let slotsRoot: string;
let sessionRoot: string;

beforeEach(() => {
  slotsRoot = mkdtempSync(path.join(os.tmpdir(), 'codecell-slot-xdev-'));
  sessionRoot = mkdtempSync(path.join(statSync('/dev/shm', { throwIfNoEntry: false })?.isDirectory() ? '/dev/shm' : os.tmpdir(), 'codecell-session-'));
});

afterEach(() => {
  rmSync(slotsRoot, { recursive: true, force: true });
  rmSync(sessionRoot, { recursive: true, force: true });
});

async function plantTree(dir: string): Promise<void> {
  await fs.mkdir(path.join(dir, 'sub', 'deeper'), { recursive: true });
  await fs.writeFile(path.join(dir, 'data.csv'), 'a,b\n1,2\n');
  await fs.writeFile(path.join(dir, 'sub', 'deeper', 'x.bin'), Buffer.from([0, 1, 2, 255]));
  await fs.chmod(path.join(dir, 'sub', 'deeper', 'x.bin'), 0o600);
  await fs.symlink('../data.csv', path.join(dir, 'sub', 'link'));
  await fs.writeFile(Buffer.from(`${dir}/caf\xe9-latin1.txt`, 'latin1'), 'not utf-8 name');
}

async function expectTree(dir: string): Promise<void> {
  expect(await fs.readFile(path.join(dir, 'data.csv'), 'utf8')).toBe('a,b\n1,2\n');
  expect([...(await fs.readFile(path.join(dir, 'sub', 'deeper', 'x.bin')))]).toEqual([0, 1, 2, 255]);
  expect((await fs.stat(path.join(dir, 'sub', 'deeper', 'x.bin'))).mode & 0o777).toBe(0o600);
  expect(await fs.readlink(path.join(dir, 'sub', 'link'))).toBe('../data.csv');
  const names = (await fs.readdir(dir, { encoding: 'buffer' })).map((name) => name.toString('latin1')).sort();
  expect(names).toEqual(['caf\xe9-latin1.txt', 'data.csv', 'sub']);
}

describe('slot moves across file systems', () => {
  it('copies every entry (links as links, modes, names that are not UTF-8) and empties the source', async () => {
    const from = path.join(sessionRoot, 'from');
    const to = path.join(slotsRoot, 'to');
    await fs.mkdir(from);
    await fs.mkdir(to);
    await plantTree(from);
    await copyEntriesAcross(from, to);
    await expectTree(to);
    expect(await fs.readdir(from)).toEqual([]);
  });

  it('attaches and detaches a session whose folder is on another file system, and adopts a snapshot there', async () => {
    const places = { filesDir: path.join(sessionRoot, 'files'), homeDir: path.join(sessionRoot, 'home') };
    const stateFile = path.join(sessionRoot, 'state', 'python');
    await fs.mkdir(places.filesDir, { recursive: true });
    await plantTree(places.filesDir);
    await fs.mkdir(path.dirname(stateFile));
    await fs.writeFile(stateFile, 'old snapshot');
    const slot = await Slot.create(slotsRoot);
    expect(await slot.attach('s1', places, stateFile)).toBe(true);
    await expectTree(slot.dataDir);
    expect(await fs.readdir(places.filesDir)).toEqual([]);
    expect(await fs.readFile(path.join(slot.inDir, 'state'), 'utf8')).toBe('old snapshot');

    await fs.writeFile(path.join(slot.dataDir, 'new.txt'), 'written by the run');
    await fs.writeFile(slot.newStateFile, 'new snapshot');
    expect(await slot.adoptState(stateFile, async () => true)).toBe('adopted');
    await slot.detach(places);
    await slot.dispose();
    expect(await fs.readFile(stateFile, 'utf8')).toBe('new snapshot');
    expect(await fs.readFile(path.join(places.filesDir, 'new.txt'), 'utf8')).toBe('written by the run');
    await fs.rm(path.join(places.filesDir, 'new.txt'));
    await expectTree(places.filesDir);
  });
});
