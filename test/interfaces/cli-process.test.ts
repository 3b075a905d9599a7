/**
 * The built CLI as a real process: `serve` shuts down cleanly on SIGTERM (exit 0, no container
 * left), `serve --stdio` speaks MCP on stdout with logs on stderr, and `exec` runs one job.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { callTool, connectStreamable, textOf } from './helpers/mcp-client.js';
import { TEST_KEY } from './helpers/test-server.js';
import { TEST_IMAGES } from '../helpers/engine.js';
import { listeningUrl } from './helpers/server-process.js';

const runFile = promisify(execFile);
const CLI = path.resolve('dist/src/cli.js');

let dataDir: string;

/** The environment of a CLI process: small pools, its own data dir, nothing inherited by accident. */
function cliEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.tmpdir(),
    CODECELL_DATA_DIR: dataDir,
    CODECELL_POOL_PYTHON: '1',
    CODECELL_POOL_PYTHON_LEAN: '1',
    CODECELL_POOL_NODE: '1',
    CODECELL_POOL_BASH: '1',
    ...TEST_IMAGES,
    ...extra,
  };
}

/** Containers of the server using `dataDir` (the executor labels them with a hash of it). */
function instanceContainers(): string[] {
  const instance = createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  const out = spawnSync('docker', ['ps', '-aq', '--filter', 'label=codecell', '--filter', `label=codecell.instance=${instance}`], {
    encoding: 'utf8',
  });
  return out.stdout.split('\n').filter((line) => line.trim().length > 0);
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

beforeAll(() => {
  // Build what `codecell` runs; type errors elsewhere still emit, so only a missing file is fatal.
  spawnSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-cli-test-'));
});

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('codecell serve', () => {
  it('exits 0 on SIGTERM and leaves no container behind', async () => {
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
      env: cliEnv({ CODECELL_API_KEYS: TEST_KEY }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const url = await listeningUrl(child);
    const client = await connectStreamable(url);
    const result = await callTool(client, 'execute_python_code', { code: 'print("served by the cli")' });
    expect(result.structuredContent?.stdout).toBe('served by the cli\n');
    await client.close();
    // Warm containers exist now, so "none left" below is a real check.
    await waitFor(() => instanceContainers().length > 0, 60_000);

    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(instanceContainers()).toEqual([]);
  });

  it('speaks MCP over stdio with --stdio, and exits when the client goes away', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'serve', '--stdio'],
      env: cliEnv(),
      stderr: 'pipe',
    });
    const client = new Client({ name: 'stdio-test', version: '1.0.0' });
    await client.connect(transport);
    const result = await callTool(client, 'execute_bash_command', { command: 'echo over-stdio' });
    expect(result.structuredContent?.stdout).toBe('over-stdio\n');
    expect(textOf(result)).toContain('Session ');
    await client.close();
    await waitFor(() => instanceContainers().length === 0, 30_000);
  });
});

describe('codecell exec', () => {
  it('prints the result and exits 0 when the code succeeds, with --arg as its arguments', async () => {
    const code = 'import sys\nprint(6 * 7)\nprint(sys.argv[1:])';
    const { stdout } = await runFile(process.execPath, [CLI, 'exec', '--language', 'python', '--code', code, '--arg', 'a b', '--arg', 'c'], {
      env: cliEnv(),
    });
    expect(stdout).toContain(`[stdout]\n42\n['a b', 'c']`);
    expect(stdout).toMatch(/Session [0-9a-f-]{36} · python · ok/);
  });

  it('prints the whole result as JSON with --json, and exits 1 when the code fails', async () => {
    const failed = await runFile(process.execPath, [CLI, 'exec', '--language', 'javascript', '--code', 'throw new Error("boom")', '--json'], {
      env: cliEnv(),
    }).then(
      () => null,
      (error: unknown) => error,
    );
    const FailureSchema = z.object({ code: z.number(), stdout: z.string() });
    const failure = FailureSchema.parse(failed);
    expect(failure.code).toBe(1);
    const result = z.object({ status: z.string(), error: z.object({ message: z.string() }) }).parse(JSON.parse(failure.stdout));
    expect(result.status).toBe('error');
    expect(result.error.message).toContain('boom');
  });

  it('rejects an unknown language before doing anything', () => {
    const out = spawnSync(process.execPath, [CLI, 'exec', '--language', 'cobol', '--code', 'x'], { env: cliEnv(), encoding: 'utf8' });
    expect(out.status).not.toBe(0);
    expect(out.stderr).toContain('cobol');
  });
});

describe('codecell session', () => {
  /** Runs the CLI to the end: its exit status and both streams. */
  function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const out = spawnSync(process.execPath, [CLI, ...args], { env: cliEnv(), encoding: 'utf8' });
    return { status: out.status, stdout: out.stdout, stderr: out.stderr };
  }

  const SessionListSchema = z.array(z.object({ id: z.string(), isDefault: z.boolean(), executions: z.number() }));

  it('creates, lists and closes sessions, and exec --session runs in the one it names', async () => {
    const created = cli('session', 'create');
    expect(created.status, created.stderr).toBe(0);
    const id = created.stdout.trim();
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);

    const listed = SessionListSchema.parse(JSON.parse(cli('session', 'list', '--json').stdout));
    expect(listed.find((session) => session.id === id)).toMatchObject({ isDefault: false, executions: 0 });
    expect(cli('session', 'list').stdout).toContain(id);

    await runFile(process.execPath, [CLI, 'exec', '--language', 'python', '--code', 'kept = 41', '--session', id], { env: cliEnv() });
    const { stdout } = await runFile(process.execPath, [CLI, 'exec', '--language', 'python', '--code', 'print(kept + 1)', '--session', id], {
      env: cliEnv(),
    });
    expect(stdout).toContain('[stdout]\n42');
    expect(stdout).toContain(`Session ${id}`);

    const closed = cli('session', 'close', id);
    expect(closed.status, closed.stderr).toBe(0);
    expect(closed.stdout).toBe(`closed ${id}\n`);
    const after = SessionListSchema.parse(JSON.parse(cli('session', 'list', '--json').stdout));
    expect(after.map((session) => session.id)).not.toContain(id);
  });

  it('words a missing session in CLI terms: its commands and flags, never an MCP tool', () => {
    const missing = '00000000-0000-4000-8000-000000000000';
    const ran = cli('exec', '--language', 'bash', '--code', 'echo hi', '--session', missing);
    expect(ran.status).toBe(1);
    expect(ran.stderr).toContain(`codecell: SESSION_NOT_FOUND: no session "${missing}" exists for you`);
    expect(ran.stderr).toContain('codecell session create');
    expect(ran.stderr).toContain('--session');
    expect(ran.stderr).not.toMatch(/_execution_session|session_id/);

    const closing = cli('session', 'close', missing);
    expect(closing.status).toBe(1);
    expect(closing.stderr).toContain('SESSION_NOT_FOUND');
    expect(closing.stderr).toContain('codecell session list');
    // close takes no --session: its advice must not send the user to a flag it lacks.
    expect(closing.stderr).not.toContain('--session');
  });

  it('names the flag in a validation message', () => {
    const emptySession = cli('exec', '--language', 'bash', '--code', 'echo hi', '--session', '');
    expect(emptySession.status).toBe(1);
    expect(emptySession.stderr).toMatch(/^codecell: --session: must not be empty/);
    const manyArgs = cli('exec', '--language', 'bash', '--code', 'echo hi', ...Array.from({ length: 300 }, () => ['--arg', 'a']).flat());
    expect(manyArgs.stderr).toBe('codecell: --arg: at most 256 arguments are allowed (got 300)\n');
    const longArg = cli('exec', '--language', 'bash', '--code', 'echo hi', '--arg', 'ok', '--arg', 'x'.repeat(20_000));
    expect(longArg.stderr).toBe('codecell: --arg: argument 2 is 20000 characters; the limit is 10000 per argument\n');
  });

  it('has the flags its header comment shows: close takes an id and no --json', () => {
    expect(cli('session', 'close', '--json', 'x').stderr).toContain("unknown option '--json'");
  });
});
