import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { link, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { connect as connectTcp, type AddressInfo } from 'node:net';
import path from 'node:path';
import express from 'express';
import { afterEach, describe, expect, it } from 'vitest';
import { parse as parseContentDisposition } from 'content-disposition';
import { createFilesRouter, createSignedDownloadRouter } from '../../../src/interfaces/http/files-router.js';
import { filesFixture, multipartBody, type FilesFixture, type MultipartPart } from './helpers.js';

const MiB = 1024 * 1024;

interface Harness {
  readonly fx: FilesFixture;
  readonly base: string;
  upload(session: string, parts: readonly MultipartPart[], user?: string): Promise<Response>;
  get(urlPath: string, user?: string): Promise<Response>;
  del(urlPath: string, user?: string): Promise<Response>;
}

const open: Array<{ server: Server; fx: FilesFixture }> = [];

/** A real express app on 127.0.0.1, the routers mounted as the app mounts them; `x-test-user: bob` is bob. */
async function harness(env: Record<string, string> = {}): Promise<Harness> {
  const fx = await filesFixture(env);
  const principalOf = (req: express.Request) => (req.get('x-test-user') === 'bob' ? fx.bob : fx.alice);
  const app = express();
  app.use(createSignedDownloadRouter({ files: fx.files, principalOf }));
  app.use('/v1', createFilesRouter({ files: fx.files, principalOf }));
  const server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  open.push({ server, fx });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const headers = (user?: string): Record<string, string> => (user ? { 'x-test-user': user } : {});
  return {
    fx,
    base,
    upload(session, parts, user) {
      const { body, contentType } = multipartBody(parts);
      return fetch(`${base}/v1/sessions/${session}/files`, {
        method: 'POST',
        headers: { 'content-type': contentType, ...headers(user) },
        body: new Uint8Array(body),
      });
    },
    get: (urlPath, user) => fetch(`${base}${urlPath}`, { headers: headers(user) }),
    del: (urlPath, user) => fetch(`${base}${urlPath}`, { method: 'DELETE', headers: headers(user) }),
  };
}

afterEach(async () => {
  for (const { server, fx } of open.splice(0)) {
    server.closeAllConnections();
    server.close();
    await fx.cleanup();
  }
});

function fileUrl(sessionId: string, relativePath: string): string {
  return `/v1/sessions/${sessionId}/files/${relativePath.split('/').map(encodeURIComponent).join('/')}`;
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Every name anywhere under `dir` (links not followed). */
async function allNames(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map((entry) => path.basename(String(entry)));
}

describe('upload, list, download, delete', () => {
  it('stores several files at once, with folders from filenames and path fields', async () => {
    const h = await harness();
    const { id } = await h.fx.aliceSession();
    const response = await h.upload(id, [
      { name: 'file', filename: 'data/a.csv', content: 'x,y\n1,2\n' },
      { name: 'path', content: 'nested/deep/b.bin' },
      { name: 'file', filename: 'ignored-name.bin', content: Buffer.from([0, 1, 2, 255]) },
      { name: 'file', filename: 'top.txt', content: 'top' },
    ]);
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({
      sessionId: id,
      files: [
        { path: 'data/a.csv', size: 8, mimeType: 'text/csv; charset=utf-8', kind: 'file' },
        { path: 'nested/deep/b.bin', size: 4, mimeType: 'application/octet-stream', kind: 'file' },
        { path: 'top.txt', size: 3, mimeType: 'text/plain; charset=utf-8', kind: 'file' },
      ],
    });

    const list = (await (await h.get(`/v1/sessions/${id}/files`)).json()) as Array<Record<string, unknown>>;
    expect(list.map(({ path: p, size, kind, mimeType }) => ({ p, size, kind, mimeType }))).toEqual([
      { p: 'data/a.csv', size: 8, kind: 'file', mimeType: 'text/csv; charset=utf-8' },
      { p: 'nested/deep/b.bin', size: 4, kind: 'file', mimeType: 'application/octet-stream' },
      { p: 'top.txt', size: 3, kind: 'file', mimeType: 'text/plain; charset=utf-8' },
    ]);
    expect(Number.isNaN(Date.parse(String(list[0]?.mtime)))).toBe(false);

    const download = await h.get(fileUrl(id, 'nested/deep/b.bin'));
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer())).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(download.headers.get('content-type')).toBe('application/octet-stream');
    expect(download.headers.get('content-length')).toBe('4');
    expect(download.headers.get('content-disposition')).toBe('attachment; filename=b.bin');
    expect(download.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('round-trips a unicode name', async () => {
    const h = await harness();
    const { id } = await h.fx.aliceSession();
    const name = 'données/résumé ☃ 日本.txt';
    expect((await h.upload(id, [{ name: 'file', filename: name, content: 'unicode ✓' }])).status).toBe(201);
    const list = (await (await h.get(`/v1/sessions/${id}/files`)).json()) as Array<{ path: string }>;
    expect(list.map((entry) => entry.path)).toEqual([name]);
    const download = await h.get(fileUrl(id, name));
    expect(download.status).toBe(200);
    expect(await download.text()).toBe('unicode ✓');
    const disposition = String(download.headers.get('content-disposition'));
    expect(disposition).toMatch(/^attachment; [\x20-\x7e]+$/); // the header itself is plain ASCII
    expect(parseContentDisposition(disposition).parameters.filename).toBe('résumé ☃ 日本.txt');
  });

  it('uses the caller\'s default session for the word "default"', async () => {
    const h = await harness();
    expect((await h.upload('default', [{ name: 'file', filename: 'd.txt', content: 'd' }])).status).toBe(201);
    const listed = await h.get('/v1/sessions/default/files');
    expect(((await listed.json()) as Array<{ path: string }>).map((entry) => entry.path)).toEqual(['d.txt']);
    expect(await (await h.get('/v1/sessions/default/files/d.txt')).text()).toBe('d');
  });

  it('moves 20 MiB of binary in and out byte for byte', async () => {
    const h = await harness();
    const { id } = await h.fx.aliceSession();
    const bytes = randomBytes(20 * MiB);
    const response = await h.upload(id, [{ name: 'file', filename: 'blob.bin', content: bytes }]);
    expect(response.status).toBe(201);
    const download = await h.get(fileUrl(id, 'blob.bin'));
    const back = Buffer.from(await download.arrayBuffer());
    expect(back.length).toBe(bytes.length);
    expect(sha256(back)).toBe(sha256(bytes));
  });

  it('deletes with 204, then answers 404', async () => {
    const h = await harness();
    const { id } = await h.fx.aliceSession();
    await h.upload(id, [{ name: 'file', filename: 'gone/soon.txt', content: 'x' }]);
    expect((await h.del(fileUrl(id, 'gone/soon.txt'))).status).toBe(204);
    const again = await h.del(fileUrl(id, 'gone/soon.txt'));
    expect(again.status).toBe(404);
    expect(await again.json()).toMatchObject({ error: 'FILE_NOT_FOUND' });
    expect((await h.get(fileUrl(id, 'gone/soon.txt'))).status).toBe(404);
  });

  it('answers HEAD with the headers only', async () => {
    const h = await harness();
    const { id } = await h.fx.aliceSession();
    await h.upload(id, [{ name: 'file', filename: 'h.txt', content: 'hello' }]);
    const response = await fetch(`${h.base}${fileUrl(id, 'h.txt')}`, { method: 'HEAD' });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-length')).toBe('5');
    expect(await response.text()).toBe('');
  });
});

describe('hostile input', () => {
  it.each([
    ['../../escape.txt', 'path field'],
    ['/etc/escape.txt', 'path field'],
    ['a\0escape.txt', 'path field'],
    ['ctl\u0007escape.txt', 'path field'],
    ['..\\..\\escape.txt', 'path field'],
    ['../../escape.txt', 'filename'],
    ['/tmp/escape.txt', 'filename'],
  ])('rejects %j given as %s, writing nothing anywhere', async (hostile, via) => {
    const h = await harness();
    const { id } = await h.fx.aliceSession();
    const parts: MultipartPart[] =
      via === 'filename'
        ? [{ name: 'file', filename: hostile, content: 'pwned' }]
        : [{ name: 'path', content: hostile }, { name: 'file', filename: 'innocent.txt', content: 'pwned' }];
    const response = await h.upload(id, parts);
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'INVALID_INPUT' });
    const names = await allNames(h.fx.dataDir);
    expect(names.filter((name) => name.includes('escape') || name === 'innocent.txt')).toEqual([]);
    expect(await readdir(h.fx.sessions.filesDir(id))).toEqual([]);
  });

  it('refuses a body that is not multipart, and a malformed URL', async () => {
    const h = await harness();
    const { id } = await h.fx.aliceSession();
    const response = await fetch(`${h.base}/v1/sessions/${id}/files`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'INVALID_INPUT', message: expect.stringContaining('multipart') });
    const bad = await h.get(`/v1/sessions/${id}/files/%E0%A4%A`);
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'INVALID_INPUT' });
  });
});

describe('limits', () => {
  it('answers 413 for a file over the per-file limit and keeps no part of the upload', async () => {
    const h = await harness({ CODECELL_MAX_FILE_MB: '1' });
    const { id, dir } = await h.fx.aliceSession();
    const response = await h.upload(id, [
      { name: 'file', filename: 'small-first.txt', content: 'fine' },
      { name: 'file', filename: 'huge.bin', content: Buffer.alloc(2 * MiB, 7) },
    ]);
    expect(response.status).toBe(413);
    const body = (await response.json()) as { error: string; message: string };
    expect(body.error).toBe('FILE_TOO_LARGE');
    expect(body.message).toContain("'huge.bin' is larger than the limit of 1 MiB per file");
    expect(await readdir(dir)).toEqual([]);
    expect(await readdir(path.join(h.fx.dataDir, 'incoming'))).toEqual([]);
  });

  it('answers 413 QUOTA_EXCEEDED when the session quota would be passed', async () => {
    const h = await harness({ CODECELL_MAX_FILE_MB: '1', CODECELL_SESSION_QUOTA_MB: '2' });
    const { id, dir } = await h.fx.aliceSession();
    expect((await h.upload(id, [{ name: 'file', filename: 'a.bin', content: Buffer.alloc(900 * 1024) }])).status).toBe(201);
    const response = await h.upload(id, [
      { name: 'file', filename: 'b.bin', content: Buffer.alloc(900 * 1024) },
      { name: 'file', filename: 'c.bin', content: Buffer.alloc(900 * 1024) },
    ]);
    expect(response.status).toBe(413);
    expect(await response.json()).toMatchObject({ error: 'QUOTA_EXCEEDED', message: expect.stringContaining('quota of 2 MiB') });
    expect(await readdir(dir)).toEqual(['a.bin']);
  });
  it('drops a half-sent upload when the client goes away, leaving nothing behind', async () => {
    const h = await harness();
    const { id, dir } = await h.fx.aliceSession();
    const { body, contentType } = multipartBody([{ name: 'file', filename: 'cut.bin', content: Buffer.alloc(4 * MiB, 1) }]);
    const port = new URL(h.base).port;
    const socket = connectTcp(Number(port), '127.0.0.1');
    await once(socket, 'connect');
    socket.write(
      `POST /v1/sessions/${id}/files HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: ${contentType}\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`,
    );
    socket.write(body.subarray(0, 2 * MiB));
    const incoming = path.join(h.fx.dataDir, 'incoming');
    await waitFor(async () => (await readdir(incoming).catch(() => [])).length === 1); // the upload is staging
    socket.destroy();
    await waitFor(async () => (await readdir(incoming)).length === 0);
    expect(await readdir(dir)).toEqual([]);
  });
});

/** Polls `condition` every 20 ms for up to 5 s. */
async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let attempt = 0; attempt < 250; attempt += 1) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error('condition not met within 5 s');
}

describe('links made in the sandbox', () => {
  it('lists a symlink to /etc/shadow as a link and refuses it on the REST and signed routes', async () => {
    const h = await harness({ CODECELL_PUBLIC_URL: 'https://codecell.test' });
    const { id, dir } = await h.fx.aliceSession();
    await symlink('/etc/shadow', path.join(dir, 'shadow'));

    const list = (await (await h.get(`/v1/sessions/${id}/files`)).json()) as Array<{ path: string; kind: string }>;
    expect(list).toMatchObject([{ path: 'shadow', kind: 'symlink' }]);

    const direct = await h.get(fileUrl(id, 'shadow'));
    expect(direct.status).toBe(400);
    const directBody = await direct.text();
    expect(directBody).toContain('symbolic link');
    expect(directBody).not.toContain('root:');

    const signedUrl = new URL(String(h.fx.files.downloadUrl(id, 'shadow')));
    const signed = await h.get(signedUrl.pathname);
    expect(signed.status).toBe(400);
    expect(await signed.text()).not.toContain('root:');
  });

  it("refuses a symlinked folder leading into another session's files, for reading, deleting and uploading", async () => {
    const h = await harness();
    const victim = await h.fx.sessions.create(h.fx.bob);
    const victimDir = h.fx.sessions.filesDir(victim.id);
    await writeFile(path.join(victimDir, 'private.txt'), 'bob only');
    const { id, dir } = await h.fx.aliceSession();
    await symlink(victimDir, path.join(dir, 'bobs'));

    expect((await h.get(fileUrl(id, 'bobs/private.txt'))).status).toBe(400);
    expect((await h.del(fileUrl(id, 'bobs/private.txt'))).status).toBe(400);
    const upload = await h.upload(id, [{ name: 'file', filename: 'bobs/planted.txt', content: 'x' }]);
    expect(upload.status).toBe(400);
    expect(await readdir(victimDir)).toEqual(['private.txt']);
    expect(await readFile(path.join(victimDir, 'private.txt'), 'utf8')).toBe('bob only');
  });

  it('refuses a hardlink', async () => {
    const h = await harness();
    const { id, dir } = await h.fx.aliceSession();
    await mkdir(path.join(dir, 'sub'));
    await writeFile(path.join(dir, 'sub/real.txt'), 'data');
    await link(path.join(dir, 'sub/real.txt'), path.join(dir, 'alias.txt'));
    const response = await h.get(fileUrl(id, 'alias.txt'));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: 'INVALID_INPUT', message: expect.stringContaining('hard link') });
  });
});

describe('signed download links', () => {
  it('serve exactly one file without credentials, until they expire', async () => {
    const h = await harness({ CODECELL_PUBLIC_URL: 'https://codecell.test/' });
    const { id } = await h.fx.aliceSession();
    await h.fx.files.write(h.fx.alice, id, 'out/report.pdf', Buffer.from('%PDF-1.7 fake'));
    await h.fx.files.write(h.fx.alice, id, 'out/other.txt', Buffer.from('other'));
    const url = new URL(String(h.fx.files.downloadUrl(id, 'out/report.pdf')));
    expect(url.origin).toBe('https://codecell.test');

    const ok = await h.get(url.pathname, 'bob'); // who asks does not matter: the link is the permission
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe('%PDF-1.7 fake');
    expect(ok.headers.get('content-type')).toBe('application/pdf');
    expect(ok.headers.get('x-content-type-options')).toBe('nosniff');
    expect(ok.headers.get('content-disposition')).toBe('attachment; filename=report.pdf');

    // The same signature on a payload naming another file.
    const token = url.pathname.split('/').pop() ?? '';
    const [payload, mac] = token.split('.') as [string, string];
    const fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    const forged = `${Buffer.from(JSON.stringify({ ...fields, p: 'out/other.txt' })).toString('base64url')}.${mac}`;
    const refused = await h.get(`/files/signed/${forged}`);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toMatchObject({ error: 'UNAUTHORIZED' });
    expect((await h.get('/files/signed/not-a-token')).status).toBe(403);

    h.fx.clock.now += h.fx.settings.signedUrlTtlMs + 1000;
    const expired = await h.get(url.pathname);
    expect(expired.status).toBe(403);
    expect(((await expired.json()) as { message: string }).message).toContain('expired');
  });
});

describe('ownership', () => {
  it("answers 404 to bob for everything in alice's session, like a missing session", async () => {
    const h = await harness();
    const { id } = await h.fx.aliceSession();
    await h.upload(id, [{ name: 'file', filename: 'mine.txt', content: 'alice' }]);

    const responses = [
      await h.get(`/v1/sessions/${id}/files`, 'bob'),
      await h.get(fileUrl(id, 'mine.txt'), 'bob'),
      await h.del(fileUrl(id, 'mine.txt'), 'bob'),
      await h.upload(id, [{ name: 'file', filename: 'planted.txt', content: 'x' }], 'bob'),
    ];
    const missing = await h.get('/v1/sessions/00000000-0000-4000-8000-000000000000/files', 'bob');
    for (const response of [...responses, missing]) {
      expect(response.status).toBe(404);
      expect(await response.json()).toMatchObject({ error: 'SESSION_NOT_FOUND' });
    }
    expect((await h.fx.files.list(h.fx.alice, id)).files.map((file) => file.path)).toEqual(['mine.txt']);
  });
});
