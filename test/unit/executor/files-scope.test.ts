/**
 * The files-in-the-slot window (executor/files-scope.ts) with a real Slot on a temp dir: the session's
 * files are in the slot while the inspect callback reads them, and back in the session's folder once
 * it settles, whether it returned, threw, or gave up because the caller aborted.
 */
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { inspectThenPutBack } from '../../../src/executor/files-scope.js';
import { Slot, type SessionPlaces } from '../../../src/executor/slot.js';

let root: string;
let places: SessionPlaces;
let slot: Slot;

beforeEach(async () => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codecell-files-scope-'));
  places = { filesDir: path.join(root, 'session', 'files'), homeDir: path.join(root, 'session', 'home') };
  await fs.mkdir(places.filesDir, { recursive: true });
  await fs.writeFile(path.join(places.filesDir, 'data.csv'), 'a,b\n1,2\n');
  slot = await Slot.create(path.join(root, 'slots'));
  await slot.attach('session-1', places, null);
});

afterEach(() => rmSync(root, { recursive: true, force: true }));

/** What the executor does after a run: put the files back once the callback is done with them. */
function putBack(order: string[]) {
  return async (inspected: Promise<void>): Promise<void> => {
    order.push('kill');
    await inspected;
    order.push('detach');
    await slot.detach(places);
  };
}

async function sessionFiles(): Promise<string[]> {
  return (await fs.readdir(places.filesDir)).sort();
}

describe('inspectThenPutBack', () => {
  it('lends the files to the callback, then puts them back; settled waits for that', async () => {
    const order: string[] = [];
    const { inspected, settled } = await inspectThenPutBack(async () => {
      // Let the put-back run as far as it can: it must wait for this callback.
      await new Promise((resolve) => setImmediate(resolve));
      order.push('inspect');
      return fs.readFile(path.join(slot.dataDir, 'data.csv'), 'utf8');
    }, putBack(order));
    expect(inspected).toBe('a,b\n1,2\n');
    await settled;
    expect(order).toEqual(['kill', 'inspect', 'detach']);
    expect(await sessionFiles()).toEqual(['data.csv']);
    expect(await fs.readdir(slot.dataDir)).toEqual([]);
  });

  it('puts the files back when the callback throws, before the error reaches the caller', async () => {
    const order: string[] = [];
    const run = inspectThenPutBack(async () => {
      await fs.writeFile(path.join(slot.dataDir, 'half-written.txt'), 'x');
      throw new Error('scan failed');
    }, putBack(order));
    await expect(run).rejects.toThrow('scan failed');
    expect(order).toEqual(['kill', 'detach']);
    expect(await sessionFiles()).toEqual(['data.csv', 'half-written.txt']);
  });

  it('puts the files back when the caller aborts while the callback waits', async () => {
    const caller = new AbortController();
    const run = inspectThenPutBack(
      () =>
        new Promise<never>((_, reject) => {
          caller.signal.addEventListener('abort', () => reject(caller.signal.reason), { once: true });
        }),
      putBack([]),
    );
    // The files are in the slot, not in the session's folder, until the callback gives up.
    expect(await fs.readdir(slot.dataDir)).toEqual(['data.csv']);
    expect(await sessionFiles()).toEqual([]);
    caller.abort(new Error('cancelled by the caller'));
    await expect(run).rejects.toThrow('cancelled by the caller');
    expect(await sessionFiles()).toEqual(['data.csv']);
  });

  it('reports a failed put-back to whoever waits for settled', async () => {
    const { settled } = await inspectThenPutBack(async () => 'read', async (inspected) => {
      await inspected;
      throw new Error('detach failed');
    });
    await expect(settled).rejects.toThrow('detach failed');
  });
});
