/**
 * Small Code API gaps LibreChat's client exposed, on a real server (loopback, real Docker): the
 * freshness probe names the file (originalFilename), a full session table answers 429 in this
 * API's words, and a failed run registers no files, as LibreChat's tool text tells the model.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { multipartBody } from '../unit/files/helpers.js';
import { startTestServer, TEST_KEY, type TestServer } from '../interfaces/helpers/test-server.js';
import { TESTS_USE_DOCKER } from '../helpers/engine.js';

interface ExecResult {
  session_id: string;
  stdout: string;
  stderr: string;
  files: Array<{ id: string; name: string }>;
  status: string;
}

const KEY = { 'X-API-Key': TEST_KEY };

describe('LibreChat Code API: small gaps', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { MAX_SESSIONS_PER_USER: '3' } });
  });

  afterAll(async () => {
    const instance = createHash('sha256').update(server.dataDir).digest('hex').slice(0, 16);
    await server.close();
    // Containers left are Docker's to check; the process executor's leftovers are its own suite's business.
    if (TESTS_USE_DOCKER) expect(execFileSync('docker', ['ps', '-aq', '--filter', `label=codecell.instance=${instance}`], { encoding: 'utf8' }).trim()).toBe('');
  });

  async function upload(user: string, filename: string, content: string): Promise<Response> {
    const { body, contentType } = multipartBody([
      { name: 'kind', content: 'user' },
      { name: 'id', content: user },
      { name: 'file', filename, content },
    ]);
    return fetch(`${server.url}/v1/upload`, { method: 'POST', headers: { ...KEY, 'User-Id': user, 'Content-Type': contentType }, body: new Uint8Array(body) });
  }

  async function exec(body: Record<string, unknown>): Promise<ExecResult> {
    const response = await fetch(`${server.url}/v1/exec`, { method: 'POST', headers: { ...KEY, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    const text = await response.text();
    expect(response.status, text).toBe(200);
    return JSON.parse(text) as ExecResult;
  }

  it('answers the freshness probe with originalFilename, the name the file was uploaded under', async () => {
    const uploaded = await upload('probe-user', 'data/sub/deep.csv', 'a,b\n');
    expect(uploaded.status).toBe(200);
    const { storage_session_id: session, files } = (await uploaded.json()) as { storage_session_id: string; files: Array<{ fileId: string }> };
    const probe = await fetch(`${server.url}/v1/sessions/${session}/objects/${files[0]?.fileId ?? ''}?kind=user&id=probe-user`, { headers: KEY });
    expect(probe.status).toBe(200);
    expect(await probe.json()).toMatchObject({ originalFilename: 'data/sub/deep.csv', name: 'data/sub/deep.csv', size: 4, lastModified: expect.any(String) });
  });

  it('answers a full session table with 429 rate_limited in Code API words, no MCP tool names', async () => {
    for (let index = 0; index < 3; index += 1) expect((await upload('busy-user', `f${index}.txt`, 'x')).status).toBe(200);
    const refused = await upload('busy-user', 'one-too-many.txt', 'x');
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBe('60');
    const body = (await refused.json()) as { error: string; retry_after_seconds: number; message: string };
    expect(body).toMatchObject({ error: 'rate_limited', retry_after_seconds: 60 });
    expect(body.message).toContain('you hold your maximum of 3 sessions (MAX_SESSIONS_PER_USER)');
    expect(body.message).toContain('runtime_session_hint');
    expect(body.message).not.toMatch(/_execution_session|list_files|MCP/);
    // Other users are not affected.
    expect((await upload('calm-user', 'ok.txt', 'x')).status).toBe(200);
  });

  // Each run names its own user: MAX_SESSIONS_PER_USER is small here, for the test above.
  it('lists the files of a run that ends ok, and none of a run that fails (exception, exit status, plot)', async () => {
    const write = 'import matplotlib.pyplot as plt\nopen("out.csv", "w").write("1,2\\n")\nplt.plot([1, 2]); plt.show()\n';
    const ok = await exec({ lang: 'py', code: `${write}print("done")`, user_id: 'ok-user' });
    expect(ok.status).toBe('ok');
    expect(ok.files.map((file) => file.name).sort()).toEqual(['out.csv', 'plot-1.png']);

    const failed = await exec({ lang: 'py', code: `${write}raise ValueError("bad")`, runtime_session_hint: 'failing-thread', user_id: 'failing-user' });
    expect(failed.status).toBe('error');
    expect(failed.files).toEqual([]);
    expect(failed.stderr).toContain('ValueError: bad');
    expect(failed.stderr).toContain('codecell: the run failed, so the files it wrote (out.csv) are not delivered');

    const bash = await exec({ lang: 'bash', code: 'echo hi > a.txt; echo hi > b.txt; exit 4', user_id: 'bash-user' });
    expect(bash).toMatchObject({ status: 'error', files: [] });
    expect(bash.stderr).toContain('(a.txt, b.txt)');

    // What the failed run wrote stays in its session, unlisted; a fixed rerun there lists its own changes.
    const rerun = await exec({ lang: 'py', code: 'print(open("out.csv").read().strip())\nopen("fixed.csv", "w").write("ok")', runtime_session_hint: 'failing-thread', user_id: 'failing-user' });
    expect(rerun.session_id).toBe(failed.session_id);
    expect(rerun.stdout).toBe('1,2\n');
    expect(rerun.files.map((file) => file.name)).toEqual(['fixed.csv']);

    // A failed run that wrote nothing gets no note.
    const quiet = await exec({ lang: 'py', code: 'raise SystemExit(2)', user_id: 'quiet-user' });
    expect(quiet.status).toBe('error');
    expect(quiet.stderr).not.toContain('codecell: the run failed');
  });
});
