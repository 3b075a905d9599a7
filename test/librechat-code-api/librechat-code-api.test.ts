/**
 * LibreChat's Code API on a real Codecell server (loopback, real Docker): what LibreChat's
 * execute_code / bash_tool and its file priming send, and what they read back.
 */
import { execFileSync } from 'node:child_process';
import { setImmediate } from 'node:timers/promises';
import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSessionId, encodeSessionId, fileIdFor, findFileById, SHORT_ID_PATTERN } from '../../src/interfaces/http/librechat-code-api/ids.js';
import { languageOf } from '../../src/interfaces/http/librechat-code-api/exec.js';
import { multipartBody, type MultipartPart } from '../unit/files/helpers.js';
import { startTestServer, TEST_KEY, type TestServer } from '../interfaces/helpers/test-server.js';
import { TESTS_USE_DOCKER } from '../helpers/engine.js';

const MiB = 1024 * 1024;

interface ExecFile {
  id: string;
  name: string;
  path?: string;
  storage_session_id?: string;
}

interface ExecResult {
  session_id: string;
  stdout: string;
  stderr: string;
  files: ExecFile[];
  code: number | null;
  signal: string | null;
  status: string;
  wall_time: number;
}

type Headers = Record<string, string>;

/**
 * Closes a test server and, on Docker, checks that none of its containers is left (other suites
 * may be running). The process executor's own leftovers are its suite's business (src/executor/process).
 */
async function closeAndCheck(server: TestServer | undefined): Promise<void> {
  if (server === undefined) return;
  if (!TESTS_USE_DOCKER) {
    await server.close();
    return;
  }
  const instance = createHash('sha256').update(server.dataDir).digest('hex').slice(0, 16);
  const ours = (): string => execFileSync('docker', ['ps', '-aq', '--filter', `label=codecell.instance=${instance}`], { encoding: 'utf8' }).trim();
  expect(ours()).not.toBe(''); // the warm pool: proves the filter finds this server's containers
  await server.close();
  expect(ours()).toBe('');
}
const KEY_HEADER: Headers = { 'X-API-Key': TEST_KEY };

/** Lets pending I/O run (one turn of the event loop), then calls `look`. */
async function yieldThen<T>(look: () => Promise<T>): Promise<T> {
  await setImmediate();
  return look();
}

describe('ids (no server)', () => {
  it('writes a session UUID in 21 URL-safe characters and reads it back', () => {
    for (let i = 0; i < 200; i += 1) {
      const uuid = randomUUID();
      const short = encodeSessionId(uuid);
      expect(short).toMatch(SHORT_ID_PATTERN);
      expect(decodeSessionId(short)).toBe(uuid);
      expect(decodeSessionId(uuid)).toBe(uuid);
    }
    expect(decodeSessionId('../../etc/passwd')).toBeNull();
    expect(decodeSessionId('_'.repeat(21))).toBeNull(); // leading bits must be zero
    expect(decodeSessionId('A'.repeat(22))).toBeNull();
  });

  it('gives a file a 21-character id without dots that only finds listed paths', () => {
    const id = fileIdFor('reports/q1 data.csv');
    expect(id).toMatch(SHORT_ID_PATTERN);
    expect(id).not.toContain('.');
    expect(fileIdFor('reports/q1 data.csv')).toBe(id);
    expect(fileIdFor('reports/q2 data.csv')).not.toBe(id);
    const entries = [{ path: 'a.txt' }, { path: 'reports/q1 data.csv' }];
    expect(findFileById(entries, id)).toEqual({ path: 'reports/q1 data.csv' });
    expect(findFileById(entries, '../a.txt')).toBeUndefined();
  });

  it('maps LibreChat language names', () => {
    expect(languageOf('py')).toBe('python');
    expect(languageOf('node')).toBe('javascript');
    expect(languageOf('ts')).toBe('typescript');
    expect(languageOf('sh')).toBe('bash');
    expect(languageOf('rs')).toBe('rust');
    expect(languageOf('f90')).toBe('fortran');
    expect(() => languageOf('cobol')).toThrow('Unsupported language: cobol');
  });
});

describe('LibreChat Code API', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { CODECELL_MAX_FILE_MB: '1' } });
  });

  afterAll(async () => {
    await closeAndCheck(server);
  });

  async function call(method: string, path: string, options: { json?: unknown; headers?: Headers } = {}): Promise<Response> {
    const headers: Headers = { ...KEY_HEADER, ...options.headers };
    if (options.json !== undefined) headers['Content-Type'] = 'application/json';
    return fetch(`${server.url}/v1${path}`, {
      method,
      headers,
      ...(options.json !== undefined ? { body: JSON.stringify(options.json) } : {}),
    });
  }

  async function exec(body: Record<string, unknown>, headers: Headers = {}): Promise<ExecResult> {
    const response = await call('POST', '/exec', { json: body, headers });
    const text = await response.text();
    expect(response.status, text).toBe(200);
    const result = JSON.parse(text) as ExecResult;
    expect(result.session_id).toMatch(SHORT_ID_PATTERN);
    return result;
  }

  async function upload(path: string, parts: readonly MultipartPart[], headers: Headers = {}): Promise<Response> {
    const { body, contentType } = multipartBody(parts);
    return fetch(`${server.url}/v1${path}`, {
      method: 'POST',
      headers: { ...KEY_HEADER, 'Content-Type': contentType, ...headers },
      body: new Uint8Array(body),
    });
  }

  async function download(sessionId: string, fileId: string, headers: Headers = {}, query = ''): Promise<Response> {
    return call('GET', `/download/${sessionId}/${fileId}${query}`, { headers });
  }

  it('runs Python, JavaScript, TypeScript and bash with stdout, stderr and args', async () => {
    const py = await exec({
      lang: 'py',
      code: 'import sys\nprint("hello from", sys.argv[1:])\nprint("careful", file=sys.stderr)',
      args: ['a b', "it's"],
    });
    expect(py.stdout).toBe(`hello from ['a b', "it's"]\n`);
    expect(py.stderr).toContain('careful');
    expect(py).toMatchObject({ status: 'ok', code: 0, signal: null, files: [] });
    expect(py.wall_time).toBeGreaterThan(0);

    const js = await exec({
      lang: 'js',
      code: 'console.log(6 * 7, process.argv.slice(2).join("|")); console.error("js-err");',
      args: ['x', 'y z'],
    });
    expect(js.stdout).toBe('42 x|y z\n');
    expect(js.stderr).toContain('js-err');

    const ts = await exec({ lang: 'typescript', code: 'const n: number = 5;\nconsole.log(`ts ${n * 2}`);' });
    expect(ts.stdout).toBe('ts 10\n');

    const sh = await exec({ lang: 'bash', code: 'echo "args: $# $1"; echo oops >&2; exit 3', args: ['one two', 'three'] });
    expect(sh.stdout).toBe('args: 2 one two\n');
    expect(sh.stderr).toContain('oops');
    expect(sh.code).toBe(3);
  });

  it('runs the code as sent with args: tracebacks count its own lines, __future__ imports still work', async () => {
    const traced = await exec({ lang: 'py', code: 'import sys\nprint(sys.argv[1:])\nraise ValueError(sys.argv[2])', args: ['first', 'second\nline'] });
    expect(traced.stdout).toBe(`['first', 'second\\nline']\n`);
    expect(traced.stderr).toMatch(/line 3\b/);
    expect(traced.stderr).not.toMatch(/line 4\b/);
    expect(traced.stderr).toContain('ValueError: second');

    const future = await exec({
      lang: 'py',
      code: 'from __future__ import annotations\nimport sys\ndef f(x: Later) -> int: return len(x)\nprint(f(sys.argv[1:]))',
      args: ['a', 'b', 'c'],
    });
    expect(future.stderr).toBe('');
    expect(future.stdout).toBe('3\n');

    const ts = await exec({ lang: 'ts', code: 'const rest: string[] = process.argv.slice(2);\nconsole.log(rest.length, rest[1]);', args: ['x', "it's"] });
    expect(ts.stdout).toBe("2 it's\n");

    const bashLines = await exec({ lang: 'bash', code: 'printf "%s|" "$@"\necho\nfalse', args: ['a b', 'c\nd', ''] });
    expect(bashLines.stdout).toBe('a b|c\nd||\n');
  });

  it('refuses args that no program can be given (a NUL character) with 400', async () => {
    const nul = await call('POST', '/exec', { json: { lang: 'bash', code: 'echo "$1"', args: ['a\u0000b'] } });
    expect(nul.status).toBe(400);
    expect(((await nul.json()) as { message: string }).message).toContain('NUL');
  });

  it('refuses code or args with a lone UTF-16 surrogate with 400, naming where it is', async () => {
    const inArgs = await call('POST', '/exec', { json: { lang: 'bash', code: 'echo ${#1}', args: ['\ud800x'] } });
    expect(inArgs.status).toBe(400);
    expect(await inArgs.json()).toEqual({
      error: 'INVALID_INPUT',
      message: 'args must be valid Unicode text: a lone surrogate at character 1 of argument 1',
    });
    const inCode = await call('POST', '/exec', { json: { lang: 'py', code: 'print("\udc00")' } });
    expect(inCode.status).toBe(400);
    expect(((await inCode.json()) as { message: string }).message).toBe('code must be valid Unicode text: a lone surrogate at character 8');
  });

  it('answers 200 with the error in stderr when the program fails', async () => {
    const result = await exec({ lang: 'py', code: 'print("before")\nraise ValueError("bad value")' });
    expect(result.stdout).toBe('before\n');
    expect(result.stderr).toContain('ValueError: bad value');
    expect(result.status).toBe('error');
  });

  it('reports a TypeScript error at the line and with the source line the user wrote', async () => {
    const result = await exec({ lang: 'ts', code: "type T = { a: number };\nconst t: T = { a: 1 };\n\nthrow new Error('ts line 4');" });
    expect(result.status).toBe('error');
    expect(result.stderr).toContain("<cell>:4\nthrow new Error('ts line 4');\n^");
    expect(result.stderr).toContain('at <cell>:4:7');
  });

  it('refuses languages it does not have, and malformed requests, with 400', async () => {
    const r = await call('POST', '/exec', { json: { lang: 'cobol', code: 'print(1)' } });
    expect(r.status).toBe(400);
    expect(((await r.json()) as { message: string }).message).toMatch(/^Unsupported language: cobol\. Supported: py, js, ts, bash, c, cpp, java, php, rs, go, d, f90, r$/);
    const noCode = await call('POST', '/exec', { json: { lang: 'py' } });
    expect(noCode.status).toBe(400);
    const badJson = await fetch(`${server.url}/v1/exec`, { method: 'POST', headers: { ...KEY_HEADER, 'Content-Type': 'application/json' }, body: '{' });
    expect(badJson.status).toBe(400);
    const plainText = await fetch(`${server.url}/v1/exec`, {
      method: 'POST',
      headers: { ...KEY_HEADER, 'Content-Type': 'text/plain' },
      body: JSON.stringify({ lang: 'py', code: 'print(1)' }),
    });
    expect(plainText.status).toBe(400);
    expect(await plainText.json()).toEqual({ error: 'INVALID_INPUT', message: 'send a JSON body with Content-Type: application/json' });
    const stdin = await call('POST', '/exec', { json: { lang: 'py', code: 'input()', stdin: 'x' } });
    expect(stdin.status).toBe(400);
  });

  it('puts uploaded files into /mnt/data for a run (old and new files[] shapes)', async () => {
    const old = await upload('/upload', [
      { name: 'entity_id', content: 'agent_abc' },
      { name: 'file', filename: 'notes.txt', content: 'old shape\n' },
    ], { 'User-Id': 'user-1' });
    expect(old.status).toBe(200);
    const oldBody = (await old.json()) as { message: string; session_id: string; storage_session_id: string; files: Array<{ fileId: string; filename: string }> };
    expect(oldBody.message).toBe('success');
    expect(oldBody.session_id).toMatch(SHORT_ID_PATTERN);
    expect(oldBody.storage_session_id).toBe(oldBody.session_id);
    expect(oldBody.files).toEqual([{ fileId: expect.stringMatching(SHORT_ID_PATTERN), filename: 'notes.txt' }]);

    const fresh = await upload('/upload', [
      { name: 'kind', content: 'user' },
      { name: 'id', content: 'user-1' },
      { name: 'file', filename: 'data.csv', content: 'x,y\n1,2\n' },
    ], { 'User-Id': 'user-1' });
    expect(fresh.status).toBe(200);
    const freshBody = (await fresh.json()) as { storage_session_id: string; files: Array<{ fileId: string }> };

    const result = await exec({
      lang: 'bash',
      user_id: 'user-1',
      code: 'cat /mnt/data/notes.txt /mnt/data/input/data.csv; ls /mnt/data',
      files: [
        { id: oldBody.files[0]?.fileId, session_id: oldBody.session_id, name: 'notes.txt' },
        { id: freshBody.files[0]?.fileId, resource_id: 'user-1', storage_session_id: freshBody.storage_session_id, name: 'input/data.csv', kind: 'user' },
      ],
    });
    expect(result.stdout).toBe('old shape\nx,y\n1,2\ninput\nnotes.txt\n');
    expect(result.files).toEqual([]); // inputs the run did not change are not offered again

    // An input whose session is gone is left out with a note; the run still happens.
    const gone = await exec({ lang: 'bash', code: 'echo ran', files: [{ id: 'A'.repeat(21), session_id: encodeSessionId(randomUUID()), name: 'lost.txt' }] });
    expect(gone.stdout).toBe('ran\n');
    expect(gone.stderr).toContain('"lost.txt" is no longer available');
  });

  it('lists files the code wrote and plots it showed, downloadable byte for byte', async () => {
    const result = await exec(
      {
        lang: 'py',
        code: [
          'import os',
          'import matplotlib.pyplot as plt',
          'os.makedirs("out", exist_ok=True)',
          'open("out/data.bin", "wb").write(bytes(range(256)) * 40)',
          'plt.plot([1, 2, 3], [1, 4, 9])',
          'plt.show()',
          'print("done")',
        ].join('\n'),
      },
      { 'X-User-Id': 'alice' },
    );
    expect(result.stdout).toBe('done\n');
    const names = result.files.map((file) => file.name).sort();
    expect(names).toEqual(['out/data.bin', 'plot-1.png']);
    for (const file of result.files) {
      expect(file.id).toMatch(SHORT_ID_PATTERN);
      expect(file.storage_session_id).toBe(result.session_id);
      expect(file.path).toBe(`/mnt/data/${file.name}`);
    }
    const data = result.files.find((file) => file.name === 'out/data.bin');
    const plot = result.files.find((file) => file.name === 'plot-1.png');
    if (!data || !plot) throw new Error('files missing');

    const bin = await download(result.session_id, data.id, { 'X-User-Id': 'alice' });
    expect(bin.status).toBe(200);
    const expected = Buffer.concat(Array.from({ length: 40 }, () => Buffer.from(Array.from({ length: 256 }, (_, i) => i))));
    expect(Buffer.from(await bin.arrayBuffer()).equals(expected)).toBe(true);

    // Newer LibreChat names the user in the query; the plot is a real PNG.
    const png = await download(result.session_id, plot.id, {}, '?kind=user&id=alice');
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    expect(Buffer.from(await png.arrayBuffer()).subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]))).toBe(true);

    // Another user cannot reach alice's session, by header or by query.
    expect((await download(result.session_id, data.id, { 'X-User-Id': 'bob' })).status).toBe(404);
    expect((await download(result.session_id, data.id, {}, '?kind=user&id=bob')).status).toBe(404);
    expect((await call('GET', `/files/${result.session_id}`, { headers: { 'User-Id': 'bob' } })).status).toBe(404);
    // A request naming no user at all (older LibreChat servers download that way) may.
    expect((await download(result.session_id, data.id)).status).toBe(200);
    // Ids that name nothing: 404, never a path outside the session.
    expect((await download(result.session_id, 'A'.repeat(21), { 'X-User-Id': 'alice' })).status).toBe(404);
    expect((await call('GET', `/download/${result.session_id}/..%2F..%2Fmeta.json`, { headers: { 'X-User-Id': 'alice' } })).status).toBe(404);
    expect((await call('GET', `/download/%ZZ/${data.id}`, { headers: { 'X-User-Id': 'alice' } })).status).toBe(400);
  });

  it('does not list a saved plot twice, and lists at most 50 files per run, counting the rest', async () => {
    const saved = await exec({ lang: 'py', code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2])\nplt.savefig("chart.png")' });
    expect(saved.files.map((file) => file.name)).toEqual(['chart.png']);
    const many = await exec({
      lang: 'bash',
      code: 'for i in $(seq 60); do echo $i > f$i.txt; done; mkdir -p lib/__pycache__; for i in 1 2 3; do echo x > lib/__pycache__/m$i.pyc; done',
    });
    expect(many.files).toHaveLength(50);
    expect(many.files.every((file) => !file.name.includes('__pycache__'))).toBe(true);
    expect(many.stderr).toContain('+ 10 more files at the top of /mnt/data (26 bytes)');
    expect(many.stderr).toContain('Python bytecode cache /mnt/data/lib/__pycache__/: 3 files (6 bytes)');
    // The files left out of the run's list are still in the session's list, and downloadable.
    const listed = await call('GET', `/files/${many.session_id}`);
    const names = ((await listed.json()) as { name: string }[]).map((file) => file.name);
    expect(names).toHaveLength(63);
    const unlisted = names.find((name) => !many.files.some((file) => name.endsWith(`/${file.id}`)));
    expect(unlisted).toBeDefined();
    expect((await call('GET', `/download/${unlisted ?? ''}`)).status).toBe(200);
  });

  it('gives a shown figure too large to send inline as its full-size file, and a small one as plot-N.png', async () => {
    const code = [
      'import matplotlib.pyplot as plt',
      'big = plt.figure(figsize=(6.3, 2.1), dpi=1000)',
      'plt.plot([1, 3, 2])',
      'plt.show()',
      'small = plt.figure(figsize=(3, 2), dpi=100)',
      'plt.plot([2, 1])',
      'plt.show()',
    ].join('\n');
    const result = await exec({ lang: 'py', code });
    expect(result.status, result.stderr).toBe('ok');
    const names = result.files.map((file) => file.name);
    expect(names).toHaveLength(2);
    expect(names).toContain('plot-1.png');
    const full = result.files.find((file) => /^figure-\d+-full-size\.png$/.test(file.name));
    expect(full, names.join(', ')).toBeDefined();
    const png = await download(result.session_id, full?.id ?? '');
    const bytes = Buffer.from(await png.arrayBuffer());
    expect(bytes.readUInt32BE(16)).toBeGreaterThan(5000);
  });

  it('keeps state between runs of one session (session_id, runtime_session_hint)', async () => {
    const first = await exec({ lang: 'py', code: 'x = 41', runtime_session_hint: 'conversation-7' }, { 'X-User-Id': 'carol' });
    const second = await exec({ lang: 'py', code: 'print(x + 1)', session_id: first.session_id }, { 'X-User-Id': 'carol' });
    expect(second.session_id).toBe(first.session_id);
    expect(second.stdout).toBe('42\n');
    const third = await exec({ lang: 'py', code: 'print(x + 2)', runtime_session_hint: 'conversation-7' }, { 'X-User-Id': 'carol' });
    expect(third.session_id).toBe(first.session_id);
    expect(third.stdout).toBe('43\n');
    // Someone else's session id is not used: the run gets a fresh session instead.
    const other = await exec({ lang: 'py', code: 'print("x" in globals())', session_id: first.session_id }, { 'X-User-Id': 'dave' });
    expect(other.session_id).not.toBe(first.session_id);
    expect(other.stdout).toBe('False\n');
  });

  it('uploads batches, lists summary and full, probes freshness, deletes', async () => {
    const tooBig = Buffer.alloc(MiB + 10, 1);
    const batch = await upload('/upload/batch', [
      { name: 'file', filename: 'a.txt', content: 'alpha' },
      { name: 'file', filename: 'big.bin', content: tooBig },
      { name: 'file', filename: 'dir/b.txt', content: 'beta' },
    ], { 'User-Id': 'erin' });
    expect(batch.status).toBe(200);
    const body = (await batch.json()) as {
      message: string;
      storage_session_id: string;
      files: Array<{ status: string; fileId?: string; filename: string; error?: string }>;
      succeeded: number;
      failed: number;
    };
    expect(body).toMatchObject({ message: 'partial_success', succeeded: 2, failed: 1 });
    expect(body.files.map((file) => [file.status, file.filename])).toEqual([
      ['success', 'a.txt'],
      ['error', 'big.bin'],
      ['success', 'dir/b.txt'],
    ]);
    // A per-file error speaks of its file: the others were stored.
    expect(body.files[1]?.error).toBe("'big.bin' is larger than the limit of 1 MiB per file (CODECELL_MAX_FILE_MB), so it was not stored");
    const session = body.storage_session_id;
    const aId = body.files[0]?.fileId ?? '';

    const summary = (await (await call('GET', `/files/${session}?detail=summary`, { headers: { 'User-Id': 'erin' } })).json()) as Array<Record<string, unknown>>;
    expect(summary).toHaveLength(2);
    expect(summary[0]).toEqual({ name: `${session}/${aId}`, lastModified: expect.any(String) });
    const full = (await (await call('GET', `/files/${session}?detail=full`, { headers: { 'User-Id': 'erin' } })).json()) as Array<Record<string, unknown>>;
    expect(full[1]).toMatchObject({ size: 4, metadata: { 'original-filename': 'dir/b.txt', 'content-type': 'text/plain; charset=utf-8' } });

    const probe = await call('GET', `/sessions/${session}/objects/${aId}?kind=user&id=erin`);
    expect(probe.status).toBe(200);
    const object = (await probe.json()) as { lastModified: string };
    expect(Date.now() - Date.parse(object.lastModified)).toBeLessThan(60_000);

    expect((await call('DELETE', `/files/${session}/${aId}`, { headers: { 'User-Id': 'erin' } })).status).toBe(200);
    expect((await call('DELETE', `/files/${session}/${aId}`, { headers: { 'User-Id': 'erin' } })).status).toBe(404);
    expect((await call('GET', `/sessions/${session}/objects/${aId}`, { headers: { 'User-Id': 'erin' } })).status).toBe(404);
    expect((await download(session, aId, { 'User-Id': 'erin' })).status).toBe(404);
    const bId = body.files[2]?.fileId ?? '';
    expect((await call('DELETE', `/sessions/${session}/objects/${bId}`, { headers: { 'User-Id': 'erin' } })).status).toBe(200);
    expect((await call('DELETE', `/sessions/${session}/objects/${bId}`, { headers: { 'User-Id': 'erin' } })).status).toBe(404);

    // A single upload over the limit is 413 and leaves nothing.
    const single = await upload('/upload', [{ name: 'file', filename: 'big.bin', content: tooBig }], { 'User-Id': 'erin' });
    expect(single.status).toBe(413);
  });

  it('accepts the key as X-API-Key, Basic user name, or Bearer; refuses without it', async () => {
    const made = await upload('/upload', [{ name: 'file', filename: 'k.txt', content: 'k' }]);
    const { session_id: session } = (await made.json()) as { session_id: string };
    const path = `${server.url}/v1/files/${session}`;
    const basic = Buffer.from(`${TEST_KEY}:`).toString('base64');
    expect((await fetch(path, { headers: { 'X-API-Key': TEST_KEY } })).status).toBe(200);
    expect((await fetch(path, { headers: { Authorization: `Basic ${basic}` } })).status).toBe(200);
    expect((await fetch(path, { headers: { Authorization: `Bearer ${TEST_KEY}` } })).status).toBe(200);
    expect((await fetch(path)).status).toBe(401);
    expect((await fetch(path, { headers: { 'X-API-Key': 'wrong-key' } })).status).toBe(401);
    // The /v1/sessions/:session/files routes still answer beside these.
    expect((await fetch(`${server.url}/v1/sessions/default/files`, { headers: KEY_HEADER })).status).toBe(200);
  });
});

describe('LibreChat Code API when the engine is busy', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({
      env: { CODECELL_CONCURRENCY: '1', CODECELL_QUEUE_LIMIT: '0', CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0' },
    });
  });

  afterAll(async () => {
    await closeAndCheck(server);
  });

  it('answers 429 rate_limited with retry_after_seconds when the queue is full', async () => {
    const post = (code: string, signal?: AbortSignal): Promise<Response> =>
      fetch(`${server.url}/v1/exec`, {
        method: 'POST',
        headers: { ...KEY_HEADER, 'Content-Type': 'application/json' },
        body: JSON.stringify({ lang: 'bash', code }),
        signal,
      });
    // Holds the only slot until this test lets go of it (no time window to race).
    const holder = new AbortController();
    const slow = post('sleep 600', holder.signal).catch((error: unknown) => error);
    let slowEnded = false;
    void slow.then(() => (slowEnded = true));
    // The engine counts the job as running once it holds the only slot. Each look yields to the event
    // loop first: an executor whose health() answers without I/O would otherwise starve the request.
    while ((await yieldThen(() => server.running.engine.health())).queue.running === 0) {
      if (slowEnded) throw new Error('the holding run ended before it was seen running');
    }
    const busy = await post('echo hi');
    expect(busy.status).toBe(429);
    expect(busy.headers.get('retry-after')).toMatch(/^\d+$/);
    const body = (await busy.json()) as { error: string; retry_after_seconds: number };
    expect(body.error).toBe('rate_limited');
    expect(body.retry_after_seconds).toBeGreaterThan(0);
    // The client going away kills its run; once its container is gone the slot serves again.
    holder.abort();
    await slow;
    while ((await yieldThen(() => server.running.engine.health())).queue.running > 0);
    const after = await post('echo hi');
    expect(after.status).toBe(200);
    expect(((await after.json()) as ExecResult).stdout).toBe('hi\n');
  });
});
