import { execFileSync } from 'node:child_process';
import { link, mkdir, mkdtemp, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { diffTrees, scanTree } from '../../../src/files/file-tree.js';

let root: string;
let outside: string;

beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'codecell-tree-'));
  outside = await mkdtemp(path.join(tmpdir(), 'codecell-outside-'));
  await writeFile(path.join(outside, 'secret.txt'), 'TOP-SECRET');
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('scanTree', () => {
  it('lists every kind of entry with lstat and never walks into a symlinked folder', async () => {
    await mkdir(path.join(root, 'sub/deeper'), { recursive: true });
    await writeFile(path.join(root, 'a.txt'), 'hello');
    await writeFile(path.join(root, 'sub/deeper/b.bin'), Buffer.alloc(10));
    await symlink('/etc/shadow', path.join(root, 'shadow'));
    await symlink(outside, path.join(root, 'elsewhere'));
    await writeFile(path.join(root, 'original'), 'twice');
    await link(path.join(root, 'original'), path.join(root, 'second-name'));
    execFileSync('mkfifo', [path.join(root, 'pipe')]);

    const tree = await scanTree(root);
    const kinds = Object.fromEntries([...tree.values()].map((entry) => [entry.path, entry.kind]));
    expect(kinds).toEqual({
      'a.txt': 'file',
      sub: 'dir',
      'sub/deeper': 'dir',
      'sub/deeper/b.bin': 'file',
      shadow: 'symlink',
      elsewhere: 'symlink',
      original: 'hardlink',
      'second-name': 'hardlink',
      pipe: 'other',
    });
    expect(tree.get('a.txt')?.size).toBe(5);
    expect(tree.has('elsewhere/secret.txt')).toBe(false);
    expect(tree.skippedNames).toBe(0);
    expect(tree.truncated).toBe(false);
  });

  it('skips names that are not valid UTF-8, contain control characters, or are not NFC, and counts them', async () => {
    writeFileSync(Buffer.concat([Buffer.from(`${root}/`), Buffer.from([0x62, 0xff, 0xfe])]), 'x'); // invalid UTF-8
    await writeFile(path.join(root, 'new\nline'), 'x');
    await writeFile(path.join(root, 'caf\u0065\u0301'), 'x'); // NFD: the API would name another file
    await writeFile(path.join(root, 'fine ☃.txt'), 'x');
    const tree = await scanTree(root);
    expect([...tree.keys()]).toEqual(['fine ☃.txt']);
    expect(tree.skippedNames).toBe(3);
  });

  it('lists a name that begins with a byte-order mark (U+FEFF) under that very name', async () => {
    await writeFile(path.join(root, '\uFEFFbom.txt'), 'hidden?');
    const tree = await scanTree(root);
    expect([...tree.keys()]).toEqual(['\uFEFFbom.txt']);
    expect(tree.get('\uFEFFbom.txt')?.size).toBe(7);
  });

  it('stops at maxEntries and says so', async () => {
    for (let index = 0; index < 30; index += 1) await writeFile(path.join(root, `f${index}`), '');
    const tree = await scanTree(root, { maxEntries: 10 });
    expect(tree.size).toBe(10);
    expect(tree.truncated).toBe(true);
  });

  it('does not descend past the path depth limit', async () => {
    const deep = path.join(root, ...Array.from({ length: 40 }, () => 'd'));
    await mkdir(deep, { recursive: true });
    await writeFile(path.join(deep, 'bottom.txt'), 'x');
    const tree = await scanTree(root);
    expect(tree.size).toBe(32);
    expect(tree.skippedNames).toBe(1); // the 33rd folder
  });
});

describe('diffTrees', () => {
  it('reports created and modified files and links, not folders, special files or untouched files', async () => {
    await writeFile(path.join(root, 'same.txt'), 'same');
    await writeFile(path.join(root, 'grows.txt'), 'a');
    await writeFile(path.join(root, 'touched.txt'), 'same size');
    const before = await scanTree(root);

    await writeFile(path.join(root, 'grows.txt'), 'abc');
    await utimes(path.join(root, 'touched.txt'), new Date(), new Date(Date.now() + 5000));
    await mkdir(path.join(root, 'newdir'));
    await writeFile(path.join(root, 'newdir/new.csv'), 'x,y\n');
    await symlink('/etc/shadow', path.join(root, 'link'));
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    const after = await scanTree(root);

    expect(diffTrees(before, after)).toEqual([
      { path: 'grows.txt', kind: 'file', size: 3, change: 'modified' },
      { path: 'link', kind: 'symlink', size: '/etc/shadow'.length, change: 'created' },
      { path: 'newdir/new.csv', kind: 'file', size: 4, change: 'created' },
      { path: 'touched.txt', kind: 'file', size: 9, change: 'modified' },
    ]);
  });
});
