import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseBlobList, planBlobs } from '../../../src/executor/snapshot-blobs.js';
import { Slot } from '../../../src/executor/slot.js';

const A = 'a'.repeat(32);
const B = 'b'.repeat(32);
const C = 'c'.repeat(32);

describe('parseBlobList', () => {
  it('reads one name a line, without duplicates', () => {
    expect(parseBlobList(`${A}\n${B}\n${A}\n`)).toEqual([A, B]);
    expect(parseBlobList('')).toEqual([]);
  });

  it('refuses anything that is not a blob name (paths, upper case, short names)', () => {
    expect(parseBlobList(`${A}\n../${B}\n`)).toBeNull();
    expect(parseBlobList('A'.repeat(32))).toBeNull();
    expect(parseBlobList('abc')).toBeNull();
    expect(parseBlobList(`${A}\r\n`)).toBeNull();
  });
});

describe('planBlobs', () => {
  it('moves the listed new blobs, keeps the listed old ones and drops the rest', () => {
    const plan = planBlobs([A, B], new Map([[A, 10], [C, 5]]), new Map([[B, 100], ['d'.repeat(32), 7]]));
    expect(plan.move).toEqual([A]);
    expect(plan.drop).toEqual(['d'.repeat(32)]);
    expect(plan.droppedBytes).toBe(7);
    expect(plan.invalid).toEqual([]);
  });

  it('names listed blobs found nowhere, or on both sides, as invalid', () => {
    expect(planBlobs([A], new Map(), new Map()).invalid).toEqual([A]);
    expect(planBlobs([A], new Map([[A, 1]]), new Map([[A, 1]])).invalid).toEqual([A]);
  });

  it('drops every old blob when the runner lists none (a single-file snapshot)', () => {
    const plan = planBlobs([], new Map(), new Map([[A, 3], [B, 4]]));
    expect(plan.drop).toEqual([A, B]);
    expect(plan.droppedBytes).toBe(7);
  });
});

describe('Slot: snapshots with blobs', () => {
  let root: string;
  let stateFile: string;
  let folder: string;
  const places = () => ({ filesDir: path.join(root, 'files'), homeDir: path.join(root, 'home') });

  beforeEach(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'snappy-slot-'));
    stateFile = path.join(root, 'state', 'python');
    folder = `${stateFile}.blobs`;
    await fs.mkdir(folder, { recursive: true });
    await fs.mkdir(places().filesDir);
  });
  afterEach(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  async function runnerSaves(slot: Slot, listed: string[], newBlobs: Record<string, string>): Promise<void> {
    await fs.mkdir(path.join(slot.outDir, 'blobs'), { recursive: true });
    for (const [name, text] of Object.entries(newBlobs)) await fs.writeFile(path.join(slot.outDir, 'blobs', name), text);
    await fs.writeFile(path.join(slot.outDir, 'state.blobs'), listed.map((name) => `${name}\n`).join(''));
    await fs.writeFile(slot.newStateFile, 'new snapshot');
  }

  it('links the snapshot and its blobs in, keeps listed blobs as the same file, moves new ones in, drops the rest', async () => {
    await fs.writeFile(stateFile, 'old snapshot');
    await fs.writeFile(path.join(folder, A), 'kept');
    await fs.writeFile(path.join(folder, B), 'dropped');
    const keptInode = (await fs.stat(path.join(folder, A))).ino;
    const slot = await Slot.create(path.join(root, 'slots'));
    expect(await slot.attach('s1', places(), stateFile)).toBe(true);
    expect((await fs.stat(path.join(slot.inDir, 'blobs', A))).ino).toBe(keptInode);
    expect(await fs.readFile(path.join(slot.inDir, 'blobs', B), 'utf8')).toBe('dropped');

    await runnerSaves(slot, [A, C], { [C]: 'written this run' });
    const asked: number[][] = [];
    const outcome = await slot.adoptState(stateFile, async (newBytes, replacedBytes) => {
      asked.push([newBytes, replacedBytes]);
      return true;
    });
    expect(outcome).toBe('adopted');
    expect(await fs.readFile(stateFile, 'utf8')).toBe('new snapshot');
    expect((await fs.readdir(folder)).sort()).toEqual([A, C]);
    expect((await fs.stat(path.join(folder, A))).ino).toBe(keptInode);
    expect(await fs.readFile(path.join(folder, C), 'utf8')).toBe('written this run');
    // The quota is asked about the snapshot file against the old file plus the dropped blob.
    const [newBytes, replacedBytes] = asked[0] ?? [];
    expect(newBytes).toBeGreaterThanOrEqual('new snapshot'.length);
    expect(replacedBytes).toBeGreaterThanOrEqual('old snapshot'.length + 'dropped'.length);
  });

  it('keeps the last good snapshot and its blobs when the new one is over quota or lists a missing blob', async () => {
    await fs.writeFile(stateFile, 'old snapshot');
    await fs.writeFile(path.join(folder, A), 'kept');
    for (const [listed, fits, expected] of [
      [[C], false, 'over-quota'],
      [[B], true, 'none'],
    ] as const) {
      const slot = await Slot.create(path.join(root, 'slots'));
      await slot.attach('s1', places(), stateFile);
      await runnerSaves(slot, [...listed], listed[0] === C ? { [C]: 'new' } : {});
      expect(await slot.adoptState(stateFile, async () => fits)).toBe(expected);
      expect(await fs.readFile(stateFile, 'utf8')).toBe('old snapshot');
      expect(await fs.readdir(folder)).toEqual([A]);
      await slot.detach(places());
    }
  });

  it('takes a single-file snapshot (no list) and removes the blobs of the format before', async () => {
    await fs.writeFile(stateFile, 'old snapshot');
    await fs.writeFile(path.join(folder, A), 'old blob');
    const slot = await Slot.create(path.join(root, 'slots'));
    await slot.attach('s1', places(), stateFile);
    await fs.writeFile(slot.newStateFile, 'one file');
    expect(await slot.adoptState(stateFile, async () => true)).toBe('adopted');
    expect(await fs.readFile(stateFile, 'utf8')).toBe('one file');
    expect(await fs.stat(folder).catch(() => null)).toBeNull();
  });

  it('ignores a blob the sandbox made a link, and names in/ only real blob files', async () => {
    await fs.writeFile(stateFile, 'old snapshot');
    await fs.symlink('/etc/passwd', path.join(folder, A));
    await fs.writeFile(path.join(folder, 'not-a-blob'), 'x');
    const slot = await Slot.create(path.join(root, 'slots'));
    await slot.attach('s1', places(), stateFile);
    expect(await fs.readdir(slot.inDir)).toEqual(['state']);
    await runnerSaves(slot, [A], {});
    expect(await slot.adoptState(stateFile, async () => true)).toBe('none');
  });
});
