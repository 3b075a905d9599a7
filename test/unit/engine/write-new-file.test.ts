/** The host's one write into a run's files: a new file only, never through or over what is there. */
import { mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeNewFile } from '../../../src/engine/session-file-access.js';

let root: string;
let outside: string;

beforeEach(() => {
  root = mkdtempSync(path.join(os.tmpdir(), 'codecell-write-new-'));
  outside = mkdtempSync(path.join(os.tmpdir(), 'codecell-outside-'));
});

afterEach(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('writeNewFile', () => {
  it('creates the file with the bytes, readable by the sandbox', async () => {
    expect(await writeNewFile(root, 'figure-1-full-size.png', Buffer.from('full'))).toBe(true);
    expect(readFileSync(path.join(root, 'figure-1-full-size.png'), 'utf8')).toBe('full');
    expect(statSync(path.join(root, 'figure-1-full-size.png')).mode & 0o777).toBe(0o644);
  });

  it('leaves an existing file alone', async () => {
    writeFileSync(path.join(root, 'taken.png'), 'mine');
    expect(await writeNewFile(root, 'taken.png', Buffer.from('full'))).toBe(false);
    expect(readFileSync(path.join(root, 'taken.png'), 'utf8')).toBe('mine');
  });

  it('never writes through a link the sandbox left at the name', async () => {
    const target = path.join(outside, 'host-file');
    writeFileSync(target, 'host');
    symlinkSync(target, path.join(root, 'trap.png'));
    symlinkSync(path.join(outside, 'absent'), path.join(root, 'dangling.png'));
    expect(await writeNewFile(root, 'trap.png', Buffer.from('full'))).toBe(false);
    expect(await writeNewFile(root, 'dangling.png', Buffer.from('full'))).toBe(false);
    expect(readFileSync(target, 'utf8')).toBe('host');
    expect(() => statSync(path.join(outside, 'absent'))).toThrow();
  });

  it('refuses a name that is not one path segment', async () => {
    await expect(writeNewFile(root, '../escape.png', Buffer.from('x'))).rejects.toThrow(/one path segment/);
  });
});
