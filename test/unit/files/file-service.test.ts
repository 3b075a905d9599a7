import { execFileSync } from 'node:child_process';
import { link, lstat, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { text } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SANDBOX_UID } from '../../../src/sandbox-user.js';
import { measureBytes } from '../../../src/files/usage.js';
import { deepFolder } from './deep-tree.js';
import { filesFixture, type FilesFixture } from './helpers.js';

const MiB = 1024 * 1024;
const runningAsRoot = process.getuid?.() === 0;

let fx: FilesFixture;
let outside: string;

beforeEach(async () => {
  fx = await filesFixture({ CODECELL_MAX_FILE_MB: '1', CODECELL_SESSION_QUOTA_MB: '2' });
  outside = await mkdtemp(path.join(tmpdir(), 'codecell-outside-'));
  await writeFile(path.join(outside, 'secret.txt'), 'TOP-SECRET');
});

afterEach(async () => {
  await fx.cleanup();
  await rm(outside, { recursive: true, force: true });
});

describe('write and read', () => {
  it('stores a file with folders, owned by the sandbox user, and reads it back', async () => {
    const { id, dir } = await fx.aliceSession();
    const stored = await fx.files.write(fx.alice, id, '/mnt/data/reports/2024/q1.csv', Buffer.from('a,b\n1,2\n'));
    expect(stored).toEqual({ sessionId: id, path: 'reports/2024/q1.csv', size: 8, mimeType: 'text/csv; charset=utf-8' });

    const opened = await fx.files.openRead(fx.alice, id, 'reports/2024/q1.csv');
    expect(opened).toMatchObject({ size: 8, fileName: 'q1.csv', mimeType: 'text/csv; charset=utf-8' });
    expect(await text(opened.stream)).toBe('a,b\n1,2\n');

    const fileStats = await stat(path.join(dir, 'reports/2024/q1.csv'));
    const dirStats = await stat(path.join(dir, 'reports/2024'));
    expect(fileStats.mode & 0o777).toBe(0o644);
    expect(dirStats.mode & 0o777).toBe(0o755);
    if (runningAsRoot) {
      expect([fileStats.uid, fileStats.gid, dirStats.uid, dirStats.gid]).toEqual([SANDBOX_UID, SANDBOX_UID, SANDBOX_UID, SANDBOX_UID]);
    }
  });

  it('writes to the default session when no id is given', async () => {
    const stored = await fx.files.write(fx.alice, undefined, 'note.txt', Buffer.from('hi'));
    const listing = await fx.files.list(fx.alice, undefined);
    expect(listing.sessionId).toBe(stored.sessionId);
    expect(listing.files.map((file) => file.path)).toEqual(['note.txt']);
  });

  it('replaces a symlink at the target with a file, leaving the link target alone', async () => {
    const { id, dir } = await fx.aliceSession();
    await symlink(path.join(outside, 'secret.txt'), path.join(dir, 'out.txt'));
    await fx.files.write(fx.alice, id, 'out.txt', Buffer.from('mine'));
    expect((await lstat(path.join(dir, 'out.txt'))).isFile()).toBe(true);
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('TOP-SECRET');
  });

  it('refuses to write through a symlinked folder, and writes nothing outside', async () => {
    const { id, dir } = await fx.aliceSession();
    await symlink(outside, path.join(dir, 'elsewhere'));
    await expect(fx.files.write(fx.alice, id, 'elsewhere/planted.txt', Buffer.from('x'))).rejects.toMatchObject({
      code: 'INVALID_INPUT',
      message: expect.stringContaining('symbolic link'),
    });
    await expect(fx.files.write(fx.alice, id, 'elsewhere/new/deeper.txt', Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await readdir(outside)).toEqual(['secret.txt']);
  });

  it('refuses a path through a file, and a path that is a folder', async () => {
    const { id, dir } = await fx.aliceSession();
    await writeFile(path.join(dir, 'plain'), 'x');
    await mkdir(path.join(dir, 'folder'));
    await expect(fx.files.write(fx.alice, id, 'plain/inner.txt', Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(fx.files.write(fx.alice, id, 'folder', Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('rejects bad paths before touching the disk', async () => {
    const { id } = await fx.aliceSession();
    for (const bad of ['../escape.txt', '../../escape.txt', '/etc/cron.d/x', 'a\0b', 'a\u0001b']) {
      await expect(fx.files.write(fx.alice, id, bad, Buffer.from('x'))).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    }
    const sessionRoot = path.dirname(fx.sessions.filesDir(id));
    expect(await readdir(fx.sessions.sessionsDir)).toEqual([id]);
    expect((await readdir(sessionRoot)).sort()).toEqual(['files', 'home', 'meta.json', 'state']);
    expect(await readdir(fx.sessions.filesDir(id))).toEqual([]);
  });
});

describe('multi-file uploads', () => {
  it('keeps the last of two files for the same path, and refuses a file with a file inside it', async () => {
    const { id, dir } = await fx.aliceSession();
    const upload = await fx.files.beginUpload(fx.alice, id);
    await upload.add('same.txt', Buffer.from('first'));
    await upload.add('same.txt', Buffer.from('second'));
    expect(await fx.files.commitUpload(upload)).toEqual([
      { sessionId: id, path: 'same.txt', size: 6, mimeType: 'text/plain; charset=utf-8' },
    ]);
    expect(await readFile(path.join(dir, 'same.txt'), 'utf8')).toBe('second');

    const clash = await fx.files.beginUpload(fx.alice, id);
    await clash.add('a', Buffer.from('file'));
    await clash.add('a/b.txt', Buffer.from('inside'));
    await expect(fx.files.commitUpload(clash)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await readdir(dir)).toEqual(['same.txt']);
  });
});

describe('limits', () => {
  it('refuses a file over the per-file limit, from a buffer or a stream, leaving nothing behind', async () => {
    const { id, dir } = await fx.aliceSession();
    const tooBig = Buffer.alloc(MiB + 1, 1);
    await expect(fx.files.write(fx.alice, id, 'big.bin', tooBig)).rejects.toMatchObject({
      code: 'FILE_TOO_LARGE',
      message: expect.stringContaining('1 MiB'),
    });
    const chunks = Array.from({ length: 40 }, () => Buffer.alloc(64 * 1024, 2)); // 2.5 MiB
    await expect(fx.files.write(fx.alice, id, 'big.bin', Readable.from(chunks))).rejects.toMatchObject({ code: 'FILE_TOO_LARGE' });
    expect(await readdir(dir)).toEqual([]);
    expect(await readdir(path.join(fx.dataDir, 'incoming'))).toEqual([]);
  });

  it('accepts a file of exactly the limit', async () => {
    const { id } = await fx.aliceSession();
    expect((await fx.files.write(fx.alice, id, 'exact.bin', Buffer.alloc(MiB))).size).toBe(MiB);
  });

  it('enforces the session quota, counting what a replaced file frees', async () => {
    const { id, dir } = await fx.aliceSession();
    await fx.files.write(fx.alice, id, 'one.bin', Buffer.alloc(900 * 1024));
    await fx.files.write(fx.alice, id, 'two.bin', Buffer.alloc(900 * 1024));
    await expect(fx.files.write(fx.alice, id, 'three.bin', Buffer.alloc(400 * 1024))).rejects.toMatchObject({
      code: 'QUOTA_EXCEEDED',
      message: expect.stringContaining('2 MiB'),
    });
    expect((await readdir(dir)).sort()).toEqual(['one.bin', 'two.bin']);
    // Replacing one.bin with something bigger fits (1900 KiB in all): its old bytes are freed.
    await fx.files.write(fx.alice, id, 'one.bin', Buffer.alloc(1000 * 1024));
    expect(await measureBytes(dir)).toBe(1900 * 1024);
  });

  it('counts saved variables (snapshots) against the quota, and shows them in the listing', async () => {
    const { id } = await fx.aliceSession();
    await mkdir(fx.sessions.stateDir(id), { recursive: true });
    await writeFile(fx.sessions.stateFile(id, 'python'), Buffer.alloc(MiB + 512 * 1024));
    await fx.files.write(fx.alice, id, 'small.bin', Buffer.alloc(400 * 1024));
    await expect(fx.files.write(fx.alice, id, 'more.bin', Buffer.alloc(200 * 1024))).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    const listing = await fx.files.list(fx.alice, id);
    expect(listing.usage).toMatchObject({ bytes: MiB + 912 * 1024, snapshotBytes: MiB + 512 * 1024, quotaBytes: 2 * MiB });
  });

  it("counts the session's home against the quota, and never lists or serves it", async () => {
    const { id } = await fx.aliceSession();
    await mkdir(path.join(fx.sessions.homeDir(id), '.cache'), { recursive: true });
    await writeFile(path.join(fx.sessions.homeDir(id), '.cache', 'blob'), Buffer.alloc(MiB + 512 * 1024));
    await fx.files.write(fx.alice, id, 'small.bin', Buffer.alloc(400 * 1024));
    await expect(fx.files.write(fx.alice, id, 'more.bin', Buffer.alloc(200 * 1024))).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
    const listing = await fx.files.list(fx.alice, id);
    expect(listing.files.map((file) => file.path)).toEqual(['small.bin']);
    const homeBytes = await measureBytes(fx.sessions.homeDir(id)); // the blob and the .cache folder's block
    expect(homeBytes).toBeGreaterThanOrEqual(MiB + 512 * 1024);
    expect(listing.usage).toMatchObject({ bytes: 400 * 1024 + homeBytes, snapshotBytes: 0 });
    await expect(fx.files.openRead(fx.alice, id, '.cache/blob')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
    await expect(fx.files.openRead(fx.alice, id, '../home/.cache/blob')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
  });

  it('refuses an upload that would pass the entry limit, counting the folders it makes', async () => {
    const small = await filesFixture({ CODECELL_SESSION_MAX_FILES: '100' });
    try {
      const { id, dir } = await small.aliceSession();
      for (let index = 0; index < 97; index += 1) await writeFile(path.join(dir, `f${index}`), '');
      await small.files.write(small.alice, id, 'fits', Buffer.from('x')); // 98
      await expect(small.files.write(small.alice, id, 'a/b/c', Buffer.from('x'))).rejects.toMatchObject({
        code: 'QUOTA_EXCEEDED',
        message: expect.stringContaining('CODECELL_SESSION_MAX_FILES'),
      }); // would be 101: a, a/b and the file
      expect((await readdir(dir)).length).toBe(98);
      await small.files.write(small.alice, id, 'fits', Buffer.from('replaced')); // no new entry
      await small.files.write(small.alice, id, 'a/b', Buffer.from('x')); // 100
    } finally {
      await small.cleanup();
    }
  });

  it("refuses an upload the server's disk budget has no room for", async () => {
    const tight = await filesFixture({ CODECELL_DISK_BUDGET_MB: '1' });
    try {
      const { id } = await tight.aliceSession();
      const other = await tight.aliceSession();
      await tight.files.write(tight.alice, id, 'a.bin', Buffer.alloc(700 * 1024));
      await expect(tight.files.write(tight.alice, other.id, 'b.bin', Buffer.alloc(400 * 1024))).rejects.toMatchObject({
        code: 'QUOTA_EXCEEDED',
        message: expect.stringContaining('CODECELL_DISK_BUDGET_MB'),
      });
      await expect(readdir(other.dir)).resolves.toEqual([]);
      await tight.files.write(tight.alice, other.id, 'c.bin', Buffer.alloc(200 * 1024));
    } finally {
      await tight.cleanup();
    }
  });

  it('counts files the sandbox wrote against the quota', async () => {
    const { id, dir } = await fx.aliceSession();
    await writeFile(path.join(dir, 'made-by-code.bin'), Buffer.alloc(2 * MiB - 10));
    await expect(fx.files.write(fx.alice, id, 'more.txt', Buffer.alloc(100))).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
  });
});

describe('links and special files made in the sandbox', () => {
  it('lists links as links and refuses to read them', async () => {
    const { id, dir } = await fx.aliceSession();
    await symlink('/etc/shadow', path.join(dir, 'shadow'));
    await writeFile(path.join(dir, 'original.txt'), 'data');
    await link(path.join(dir, 'original.txt'), path.join(dir, 'alias.txt'));

    const listing = await fx.files.list(fx.alice, id);
    expect(listing.files.map(({ path: p, kind }) => [p, kind])).toEqual([
      ['alias.txt', 'hardlink'],
      ['original.txt', 'hardlink'],
      ['shadow', 'symlink'],
    ]);
    await expect(fx.files.openRead(fx.alice, id, 'shadow')).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('symbolic link') });
    await expect(fx.files.openRead(fx.alice, id, 'alias.txt')).rejects.toMatchObject({ code: 'INVALID_INPUT', message: expect.stringContaining('hard link') });
    await expect(fx.files.readHead(fx.alice, id, 'shadow', 100)).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect((await fx.files.stat(fx.alice, id, 'shadow')).kind).toBe('symlink');
  });

  it("refuses a path through a symlink to another session's folder", async () => {
    const victim = await fx.sessions.create(fx.bob);
    await fx.files.write(fx.bob, victim.id, 'private.txt', Buffer.from('bob only'));
    const { id, dir } = await fx.aliceSession();
    await symlink(fx.sessions.filesDir(victim.id), path.join(dir, 'bobs'));
    await expect(fx.files.openRead(fx.alice, id, 'bobs/private.txt')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(fx.files.stat(fx.alice, id, 'bobs/private.txt')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(fx.files.remove(fx.alice, id, 'bobs/private.txt')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    expect(await readFile(path.join(fx.sessions.filesDir(victim.id), 'private.txt'), 'utf8')).toBe('bob only');
  });

  it('refuses a fifo without blocking, and a folder', async () => {
    const { id, dir } = await fx.aliceSession();
    execFileSync('mkfifo', [path.join(dir, 'pipe')]);
    await mkdir(path.join(dir, 'folder'));
    await expect(fx.files.openRead(fx.alice, id, 'pipe')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(fx.files.openRead(fx.alice, id, 'folder')).rejects.toMatchObject({ code: 'INVALID_INPUT' });
    await expect(fx.files.openRead(fx.alice, id, 'absent.txt')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });

  it('removes a folder deeper than PATH_MAX, and a session holding one', async () => {
    const { id, dir } = await fx.aliceSession();
    await mkdir(path.join(dir, 'top'));
    const deep = await deepFolder(path.join(dir, 'top'), 5000);
    await writeFile(`/proc/self/fd/${deep.fd}/x.bin`, Buffer.alloc(1000));
    await deep.close();
    await fx.files.remove(fx.alice, id, 'top');
    expect(await readdir(dir)).toEqual([]);
    const second = await fx.aliceSession();
    const deeper = await deepFolder(second.dir, 5000);
    await deeper.close();
    await fx.sessions.delete(second.id);
    await expect(lstat(path.dirname(second.dir))).rejects.toMatchObject({ code: 'ENOENT' });
  });

  it('removes a link or a folder holding a link without touching what they point at', async () => {
    const { id, dir } = await fx.aliceSession();
    await symlink(path.join(outside, 'secret.txt'), path.join(dir, 'to-secret'));
    await mkdir(path.join(dir, 'folder'));
    await symlink(outside, path.join(dir, 'folder/to-outside'));
    await fx.files.remove(fx.alice, id, 'to-secret');
    await fx.files.remove(fx.alice, id, 'folder');
    expect(await readdir(dir)).toEqual([]);
    expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('TOP-SECRET');
    await expect(fx.files.remove(fx.alice, id, 'folder')).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});

describe('ownership', () => {
  it("answers SESSION_NOT_FOUND for someone else's session, whatever the operation", async () => {
    const { id } = await fx.aliceSession();
    await fx.files.write(fx.alice, id, 'mine.txt', Buffer.from('alice'));
    await expect(fx.files.list(fx.bob, id)).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    await expect(fx.files.openRead(fx.bob, id, 'mine.txt')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    await expect(fx.files.write(fx.bob, id, 'planted.txt', Buffer.from('x'))).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    await expect(fx.files.remove(fx.bob, id, 'mine.txt')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
    expect((await fx.files.list(fx.alice, id)).files.map((file) => file.path)).toEqual(['mine.txt']);
  });
});

describe('download links', () => {
  it('gives no links without a public URL', async () => {
    const { id } = await fx.aliceSession();
    expect(fx.files.downloadUrl(id, 'a.txt')).toBeUndefined();
    expect(fx.files.describeChanges(id, [{ path: 'a.txt', kind: 'file', size: 1, change: 'created' }])).toEqual([
      { path: 'a.txt', kind: 'file', size: 1, change: 'created', mimeType: 'text/plain; charset=utf-8' },
    ]);
  });

  it('signs links to real files only, which open until they expire or the session goes', async () => {
    await fx.cleanup();
    fx = await filesFixture({ CODECELL_PUBLIC_URL: 'https://cc.example/base/' });
    const { id } = await fx.aliceSession();
    await fx.files.write(fx.alice, id, 'out/chart.png', Buffer.from('png bytes'));
    const [file, link] = fx.files.describeChanges(id, [
      { path: 'out/chart.png', kind: 'file', size: 9, change: 'created' },
      { path: 'shadow', kind: 'symlink', size: 11, change: 'created' },
    ]);
    expect(file?.mimeType).toBe('image/png');
    expect(file?.downloadUrl).toMatch(/^https:\/\/cc\.example\/base\/files\/signed\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(link?.downloadUrl).toBeUndefined();

    const token = String(file?.downloadUrl?.split('/').pop());
    expect(await text((await fx.files.openSigned(token)).stream)).toBe('png bytes');
    fx.clock.now += fx.settings.signedUrlTtlMs + 1;
    await expect(fx.files.openSigned(token)).rejects.toMatchObject({ code: 'UNAUTHORIZED', message: expect.stringContaining('expired') });

    fx.clock.now = Date.now();
    const fresh = String(fx.files.downloadUrl(id, 'out/chart.png')?.split('/').pop());
    await fx.sessions.delete(id);
    await expect(fx.files.openSigned(fresh)).rejects.toMatchObject({ code: 'FILE_NOT_FOUND' });
  });
});
