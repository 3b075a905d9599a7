/**
 * Files in and out of the sandbox end to end: uploads (REST and MCP) that code reads in the next
 * run, files code writes that download byte for byte, plots that arrive as images and as files,
 * signed links, and the per-file upload limit. Real server, real containers, real HTTP.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownloadSigner, loadSigningKey } from '../../src/files/signed-url.js';
import { isPng } from '../interfaces/helpers/mcp-client.js';
import type { TestServer } from '../interfaces/helpers/test-server.js';
import {
  MiB,
  connectActor,
  fetchWithoutKey,
  filePath,
  jsonOf,
  linksOf,
  rawRequest,
  sha256,
  startFilesServer,
  tokenOf,
  type Actor,
} from './helpers.js';

const SIGNING_KEY = 'files-e2e-signing-key-0123456789abcdef';
const LINK_TTL_SECONDS = 600;

let server: TestServer;
let alice: Actor;

beforeAll(async () => {
  server = await startFilesServer({
    CODECELL_MAX_FILE_MB: '1',
    CODECELL_SIGNING_KEY: SIGNING_KEY,
    CODECELL_SIGNED_URL_TTL_SECONDS: String(LINK_TTL_SECONDS),
  });
  alice = await connectActor(server.url, { userId: 'alice' });
});

afterAll(async () => {
  await alice?.close();
  await server?.close();
});

/** "<path> <sha256>" lines, as the readers below print them, as a map. */
function digestsIn(stdout: string): Map<string, string> {
  return new Map(
    stdout
      .trim()
      .split('\n')
      .map((line) => {
        const cut = line.lastIndexOf(' ');
        return [line.slice(0, cut), line.slice(cut + 1)] as const;
      }),
  );
}

describe('into the sandbox', () => {
  it('makes a REST upload and an MCP upload readable by Python, JavaScript and bash in the next run', async () => {
    const session = await alice.newSession();
    const csv = Buffer.from('région,total\nÎle-de-France,12\n', 'utf8');
    const blob = randomBytes(200 * 1024);
    const pixels = randomBytes(3000);
    const expected = new Map([
      ['data/Q1 résumé.csv', sha256(csv)],
      ['blob.bin', sha256(blob)],
      ['from-mcp/pixels.bin', sha256(pixels)],
    ]);

    const uploaded = await alice.rest.upload(session, [
      { name: 'path', content: 'data/Q1 résumé.csv' },
      { name: 'file', filename: 'ignored-name.csv', content: csv },
      { name: 'file', filename: 'blob.bin', content: blob },
    ]);
    expect(uploaded.status, uploaded.body.toString()).toBe(201);
    expect(jsonOf(uploaded).files).toEqual([
      { path: 'data/Q1 résumé.csv', size: csv.length, mimeType: 'text/csv; charset=utf-8', kind: 'file' },
      { path: 'blob.bin', size: blob.length, mimeType: 'application/octet-stream', kind: 'file' },
    ]);
    const viaMcp = await alice.tool('upload_file', {
      filename: 'from-mcp/pixels.bin',
      content: pixels.toString('base64'),
      encoding: 'base64',
      session_id: session,
    });
    expect(viaMcp.isError, viaMcp.text).toBe(false);

    const paths = JSON.stringify([...expected.keys()]);
    const python = await alice.run(
      'execute_python_code',
      `import hashlib, json\nfor p in json.loads(${JSON.stringify(paths)}):\n    print(p, hashlib.sha256(open(p, "rb").read()).hexdigest())`,
      session,
    );
    const javascript = await alice.run(
      'execute_javascript_code',
      `const { createHash } = require('crypto'); const fs = require('fs');\n` +
        `for (const p of ${paths}) console.log(p, createHash('sha256').update(fs.readFileSync('/mnt/data/' + p)).digest('hex'));`,
      session,
    );
    const bash = await alice.run(
      'execute_bash_command',
      `for p in 'data/Q1 résumé.csv' blob.bin from-mcp/pixels.bin; do echo "$p $(sha256sum < "$p" | cut -d' ' -f1)"; done`,
      session,
    );
    for (const run of [python, javascript, bash]) {
      expect(run.output.status, run.text).toBe('ok');
      expect(digestsIn(run.output.stdout)).toEqual(expected);
    }
  });
});

describe('out of the sandbox', () => {
  it('downloads a 20 MiB binary written by code byte for byte, over REST and its signed link', async () => {
    // The per-file limit (1 MiB here) is for uploads; what code writes is bounded by the session quota.
    const run = await alice.run(
      'execute_python_code',
      'import hashlib, os\nos.makedirs("out", exist_ok=True)\ndata = os.urandom(20 * 1024 * 1024)\n' +
        'open("out/big.bin", "wb").write(data)\nprint(hashlib.sha256(data).hexdigest())',
    );
    expect(run.output.status, run.text).toBe('ok');
    const writtenDigest = run.output.stdout.trim();
    expect(run.output.files).toEqual([
      expect.objectContaining({ path: 'out/big.bin', size: 20 * MiB, kind: 'file', change: 'created', mime_type: 'application/octet-stream' }),
    ]);

    const rest = await alice.rest.download(run.output.session_id, 'out/big.bin');
    expect(rest.status).toBe(200);
    expect(rest.headers['content-length']).toBe(String(20 * MiB));
    expect(rest.headers['content-type']).toBe('application/octet-stream');
    expect(rest.headers['content-disposition']).toContain('filename=big.bin');
    expect(rest.body.length).toBe(20 * MiB);
    expect(sha256(rest.body)).toBe(writtenDigest);

    const link = linksOf(run.output).get('out/big.bin');
    expect(link).toMatch(new RegExp(`^${server.url}/files/signed/`));
    const signed = await fetchWithoutKey(String(link));
    expect(signed.status).toBe(200);
    expect(sha256(signed.body)).toBe(writtenDigest);
  });

  it('reports every file a run wrote, also when the run is stopped by its time limit: the first listed, the rest counted', async () => {
    const session = await alice.newSession();
    const run = await alice.run('execute_bash_command', 'for i in $(seq -w 1 300); do echo "$i" > "part-$i.txt"; done; sleep 60', session, 2);
    expect(run.output.status).toBe('timeout');
    const expected = Array.from({ length: 300 }, (_, index) => `part-${String(index + 1).padStart(3, '0')}.txt`);
    const listed = run.output.files.map((file) => file.path);
    expect(listed.length).toBeGreaterThanOrEqual(10);
    expect(listed.length).toBeLessThanOrEqual(50);
    expect(listed).toEqual(expected.slice(0, listed.length));
    expect(run.output.files_total).toBe(300);
    expect(run.output.files_unlisted.omitted).toEqual([{ directory: '', directories: 1, files: 300 - listed.length, bytes: 4 * (300 - listed.length) }]);
    expect(await alice.rest.paths(session)).toEqual(expected);
  });

  it('shows a saved figure as an image block and lists it as a file with the same bytes', async () => {
    const run = await alice.run(
      'execute_python_code',
      'import matplotlib\nmatplotlib.use("Agg")\nimport matplotlib.pyplot as plt\n' +
        'plt.plot([1, 2, 3], [3, 1, 2])\nplt.savefig("chart.png")\nplt.close("all")',
    );
    expect(run.output.status, run.text).toBe('ok');
    const blocks = run.raw.content.filter((part) => part.type === 'image');
    expect(blocks).toHaveLength(1);
    const block = blocks[0];
    if (block?.type !== 'image') throw new Error('no image block');
    expect(block.mimeType).toBe('image/png');
    expect(isPng(block.data)).toBe(true);
    expect(run.output.images).toEqual([expect.objectContaining({ name: 'chart.png', mime_type: 'image/png' })]);

    const file = run.output.files.find((entry) => entry.path === 'chart.png');
    expect(file).toMatchObject({ kind: 'file', mime_type: 'image/png', change: 'created' });
    const listed = await alice.tool('list_files', { session_id: run.output.session_id });
    expect(listed.text).toMatch(/- chart\.png \(.*image\/png/);
    expect(await alice.rest.paths(run.output.session_id)).toContain('chart.png');
    const downloaded = await fetchWithoutKey(String(file?.download_url));
    expect(downloaded.status).toBe(200);
    expect(downloaded.headers['content-type']).toBe('image/png');
    expect(downloaded.body.equals(Buffer.from(block.data, 'base64'))).toBe(true);
  });
});

describe('signed links', () => {
  it('work without the API key, for their one file only, until they expire or the file goes', async () => {
    const session = await alice.newSession();
    const run = await alice.run('execute_bash_command', 'echo alpha-content > a.txt; echo bravo-content > b.txt', session);
    expect(run.output.status, run.text).toBe('ok');
    const links = linksOf(run.output);
    const linkA = String(links.get('a.txt'));
    const linkB = String(links.get('b.txt'));

    const ok = await fetchWithoutKey(linkA);
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toBe('alpha-content\n');
    expect(ok.headers['referrer-policy']).toBe('no-referrer');
    // The REST route for the same file needs the key: only the link is a permission.
    const keyless = await rawRequest(`${server.url}/v1/sessions/${session}/files/a.txt`, 'GET', {});
    expect(keyless.status).toBe(401);

    // The token names its file: pointing it at another file breaks the signature, and a signature
    // is good for its own payload only. (Both links expire in the same millisecond here, so the
    // renamed payload is byte for byte b.txt's: only the MAC can tell them apart.)
    const [payload, mac] = tokenOf(linkA).split('.');
    const fields = JSON.parse(Buffer.from(String(payload), 'base64url').toString('utf8')) as { s: string; p: string; e: number };
    expect(fields).toMatchObject({ s: session, p: 'a.txt' });
    const renamed = Buffer.from(JSON.stringify({ ...fields, p: 'b.txt' })).toString('base64url');
    const macOfB = tokenOf(linkB).split('.')[1];
    for (const forged of [`${renamed}.${mac}`, `${payload}.${macOfB}`]) {
      const answer = await fetchWithoutKey(`${server.url}/files/signed/${forged}`);
      expect(answer.status, forged).toBe(403);
      expect(jsonOf(answer)).toMatchObject({ error: 'UNAUTHORIZED', message: expect.stringContaining('not valid') });
      expect(answer.body.toString()).not.toContain('bravo');
    }

    // A token made with the server's key: good while fresh, refused once its time is up.
    const key = loadSigningKey({ signingKey: SIGNING_KEY, dataDir: server.dataDir });
    const ttlMs = LINK_TTL_SECONDS * 1000;
    const fresh = new DownloadSigner(key).sign(session, 'a.txt', ttlMs);
    expect((await fetchWithoutKey(`${server.url}/files/signed/${fresh}`)).status).toBe(200);
    const expired = new DownloadSigner(key, () => Date.now() - ttlMs - 1000).sign(session, 'a.txt', ttlMs);
    const late = await fetchWithoutKey(`${server.url}/files/signed/${expired}`);
    expect(late.status).toBe(403);
    expect(jsonOf(late)).toMatchObject({ error: 'UNAUTHORIZED', message: expect.stringContaining('expired') });

    // The link outlives neither its file nor its session.
    expect((await alice.rest.remove(session, 'a.txt')).status).toBe(204);
    expect((await fetchWithoutKey(linkA)).status).toBe(404);
    expect((await fetchWithoutKey(linkB)).status).toBe(200);
    const closed = await alice.tool('close_execution_session', { session_id: session });
    expect(closed.isError, closed.text).toBe(false);
    expect((await fetchWithoutKey(linkB)).status).toBe(404);
  });
});

describe('limits', () => {
  it('answers an upload over the per-file limit with 413 and a clear message, on REST and MCP, storing nothing', async () => {
    const session = await alice.newSession();
    const tooBig = await alice.rest.upload(session, [{ name: 'file', filename: 'big.bin', content: Buffer.alloc(MiB + 1) }]);
    expect(tooBig.status).toBe(413);
    expect(jsonOf(tooBig)).toEqual({
      error: 'FILE_TOO_LARGE',
      message: "'big.bin' is larger than the limit of 1 MiB per file (CODECELL_MAX_FILE_MB), so it was not stored",
    });
    const viaMcp = await alice.tool('upload_file', {
      filename: 'big-mcp.bin',
      content: Buffer.alloc(MiB + 1).toString('base64'),
      encoding: 'base64',
      session_id: session,
    });
    expect(viaMcp.isError).toBe(true);
    expect(viaMcp.text).toMatch(/^FILE_TOO_LARGE: 'big-mcp\.bin' is larger than the limit of 1 MiB per file/);

    const exactly = await alice.rest.upload(session, [{ name: 'file', filename: 'exactly.bin', content: Buffer.alloc(MiB) }]);
    expect(exactly.status).toBe(201);
    expect(await alice.rest.paths(session)).toEqual(['exactly.bin']);
    expect((await alice.rest.download(session, filePath('big.bin'))).status).toBe(404);
  });
});
