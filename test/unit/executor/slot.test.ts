import { mkdtempSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Slot } from '../../../src/executor/slot.js';

let root: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codecell-slot-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

async function session(withHome: boolean): Promise<{ filesDir: string; homeDir: string; stateFile: string }> {
  const dir = path.join(root, 'session');
  await fs.mkdir(path.join(dir, 'files'), { recursive: true });
  await fs.writeFile(path.join(dir, 'files', 'data.csv'), 'a,b\n1,2\n');
  if (withHome) {
    await fs.mkdir(path.join(dir, 'home', '.config'), { recursive: true });
    await fs.writeFile(path.join(dir, 'home', '.gitconfig'), '[user]\n\tname = Ada\n');
  }
  return { filesDir: path.join(dir, 'files'), homeDir: path.join(dir, 'home'), stateFile: path.join(dir, 'state', 'python') };
}

describe('Slot', () => {
  it('moves the session home in beside its files, and back with what the run added', async () => {
    const places = await session(true);
    const slot = await Slot.create(path.join(root, 'slots'));
    expect(await slot.attach('s1', places, places.stateFile)).toBe(false);
    expect(await fs.readdir(slot.dataDir)).toEqual(['data.csv']);
    expect((await fs.readdir(slot.homeDir)).sort()).toEqual(['.config', '.gitconfig']);
    expect(await fs.readdir(places.homeDir)).toEqual([]);

    await fs.writeFile(path.join(slot.homeDir, '.config', 'x'), 'theme=dark'); // what the run writes
    await slot.detach(places);
    expect(await fs.readdir(slot.homeDir)).toEqual([]);
    expect(await fs.readFile(path.join(places.homeDir, '.gitconfig'), 'utf8')).toBe('[user]\n\tname = Ada\n');
    expect(await fs.readFile(path.join(places.homeDir, '.config', 'x'), 'utf8')).toBe('theme=dark');
    expect(await fs.readdir(places.filesDir)).toEqual(['data.csv']);
  });

  it('gives a session made before homes existed an empty one', async () => {
    const places = await session(false);
    const slot = await Slot.create(path.join(root, 'slots'));
    await slot.attach('s1', places, null);
    await fs.writeFile(path.join(slot.homeDir, '.bashrc'), 'alias ll="ls -l"\n');
    await slot.detach(places);
    expect(await fs.readdir(places.homeDir)).toEqual(['.bashrc']);
  });

  it('recovers the files from a slot made before homes existed', async () => {
    const places = await session(false);
    const old = Slot.existing(path.join(root, 'slots', 'old'));
    await fs.mkdir(path.join(old.root, 'data'), { recursive: true });
    await fs.writeFile(path.join(old.dataDir, 'made.txt'), 'x');
    await old.detach(places);
    expect((await fs.readdir(places.filesDir)).sort()).toEqual(['data.csv', 'made.txt']);
  });

  it('counts the home against the quota while a run is under way', async () => {
    const slot = await Slot.create(path.join(root, 'slots'));
    expect(slot.quotaDirs('/state')).toEqual([slot.dataDir, slot.homeDir, slot.outDir, '/state']);
  });
});
