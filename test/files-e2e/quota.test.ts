/**
 * The session quota end to end, on a server with an 8 MiB quota: uploads that would pass it are
 * refused with 413, one file cannot outgrow it, and a run that fills it with many files is stopped
 * with a clear notice while the session goes on working (that part needs the quota watchdog wired
 * into the executor: src/executor/quota-watchdog.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestServer } from '../interfaces/helpers/test-server.js';
import { MiB, connectActor, jsonOf, startFilesServer, type Actor } from './helpers.js';

let server: TestServer;
let alice: Actor;

beforeAll(async () => {
  server = await startFilesServer({
    CODECELL_SESSION_QUOTA_MB: '8',
    CODECELL_MAX_FILE_MB: '4',
    // Only lean Python and bash run here: no warm containers for the rest.
    CODECELL_POOL_PYTHON: '0',
    CODECELL_POOL_NODE: '0',
  });
  alice = await connectActor(server.url, { userId: 'alice' });
});

afterAll(async () => {
  await alice?.close();
  await server?.close();
});

describe('session quota', () => {
  it('refuses an upload that would pass the quota with 413, on REST and MCP, storing nothing', async () => {
    const session = await alice.newSession();
    const filled = await alice.run('execute_bash_command', 'head -c 7340032 /dev/zero > seven.bin && echo done', session);
    expect(filled.output.stdout, filled.text).toBe('done\n');

    const upload = await alice.rest.upload(session, [{ name: 'file', filename: 'two.bin', content: Buffer.alloc(2 * MiB) }]);
    expect(upload.status).toBe(413);
    expect(jsonOf(upload)).toMatchObject({
      error: 'QUOTA_EXCEEDED',
      message: expect.stringMatching(/to 9 MiB, over its quota of 8 MiB .*delete files you no longer need first\. Nothing was stored\./),
    });
    const viaMcp = await alice.tool('upload_file', {
      filename: 'two.bin',
      content: Buffer.alloc(2 * MiB).toString('base64'),
      encoding: 'base64',
      session_id: session,
    });
    expect(viaMcp.isError).toBe(true);
    expect(viaMcp.text).toMatch(/^QUOTA_EXCEEDED: .*quota of 8 MiB/);
    expect(await alice.rest.paths(session)).toEqual(['seven.bin']);

    // Room made, the same upload goes through.
    expect((await alice.rest.remove(session, 'seven.bin')).status).toBe(204);
    expect((await alice.rest.upload(session, [{ name: 'file', filename: 'two.bin', content: Buffer.alloc(2 * MiB) }])).status).toBe(201);
  });

  it('stops one file at the quota: the write fails inside the run, which says so', async () => {
    const run = await alice.run(
      'execute_python_code',
      'try:\n    with open("huge.bin", "wb") as f:\n        f.write(b"x" * (9 * 1024 * 1024))\n' +
        'except OSError as e:\n    print("refused:", e.strerror)\nimport os\nprint(os.path.getsize("huge.bin"))',
    );
    expect(run.output.status, run.text).toBe('ok');
    expect(run.output.stdout).toBe(`refused: File too large\n${8 * MiB}\n`);
  });

  it('stops a run that fills the quota with many files, with a clear notice, and the session keeps working', async () => {
    const session = await alice.newSession();
    const before = await alice.run('execute_python_code', 'kept = 41', session);
    expect(before.output.status, before.text).toBe('ok');

    // 1 MiB every 50 ms, 120 MiB at most: without the watchdog this ends "ok" far over the quota.
    const fill = await alice.run(
      'execute_python_code',
      'import time\nfor i in range(120):\n    open(f"fill-{i:03}.bin", "wb").write(b"\\0" * (1024 * 1024))\n    time.sleep(0.05)',
      session,
    );
    expect(fill.output.status, `notice: ${fill.output.notice}`).toBe('killed');
    expect(fill.output.notice).toContain("the session's files passed their quota of 8 MiB: the run was stopped; delete files to continue");
    expect(fill.raw.isError).toBe(true);
    // Stopped soon after passing 8 MiB (the listing waits until the files are back in place).
    const written = (await alice.rest.paths(session)).filter((name) => name.startsWith('fill-'));
    expect(written.length).toBeGreaterThan(8);
    expect(written.length).toBeLessThan(120);

    // The session still runs code (its variables from before intact) while it is over the quota,
    // refuses uploads until files are deleted, and takes them again afterwards.
    const after = await alice.run('execute_python_code', 'import os\nprint(kept + 1, len(os.listdir(".")) > 8)', session);
    expect(after.output.status, after.text).toBe('ok');
    expect(after.output.stdout).toBe('42 True\n');
    const refused = await alice.rest.upload(session, [{ name: 'file', filename: 'note.txt', content: 'hello' }]);
    expect(refused.status).toBe(413);
    expect(jsonOf(refused).error).toBe('QUOTA_EXCEEDED');

    const cleaned = await alice.run('execute_bash_command', 'rm fill-*.bin && ls | wc -l', session);
    expect(cleaned.output.status, cleaned.text).toBe('ok');
    expect(cleaned.output.stdout.trim()).toBe('0');
    const accepted = await alice.rest.upload(session, [{ name: 'file', filename: 'note.txt', content: 'hello' }]);
    expect(accepted.status).toBe(201);
  });
});
