import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../../src/sessions/atomic-write.js';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'codecell-atomic-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('replaces a file whole, private to the server, and leaves no temporary file', async () => {
    const target = path.join(dir, 'meta.json');
    await writeFile(target, 'old content that is longer than the new');
    await writeFileAtomic(target, '{"a":1}');
    expect(await readFile(target, 'utf8')).toBe('{"a":1}');
    expect((await stat(target)).mode & 0o777).toBe(0o600);
    expect(await readdir(dir)).toEqual(['meta.json']);
  });

  it('keeps the last of several writes to one file', async () => {
    const target = path.join(dir, 'principal.json');
    await Promise.all(Array.from({ length: 10 }, (_, index) => writeFileAtomic(target, String(index))));
    expect(await readFile(target, 'utf8')).toBe('9');
    expect(await readdir(dir)).toEqual(['principal.json']);
  });

  it('fails for a folder that does not exist, creating nothing', async () => {
    await expect(writeFileAtomic(path.join(dir, 'missing', 'x.json'), '{}')).rejects.toMatchObject({ code: 'ENOENT' });
    expect(await readdir(dir)).toEqual([]);
  });
});
