/**
 * One live engine per data dir, with real processes: a CLI command on a running server's data dir
 * is refused with a clear message while the server's run goes on to finish `ok`; a server killed
 * with SIGKILL leaves its data dir to the next one, which removes its containers and puts the
 * session files it was running on back. And a run whose container is removed from outside is not
 * blamed on the interpreter.
 */
import { execFile, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { promises as fs, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { OWNER_RECORD_FILE, type OwnerRecord } from '../../src/engine/data-dir-owner.js';
import { callTool, connectStreamable, sessionOf, textOf } from './helpers/mcp-client.js';
import { startTestServer, TEST_KEY, type TestServer } from './helpers/test-server.js';
import { TEST_IMAGES } from '../helpers/engine.js';
import { listeningUrl } from './helpers/server-process.js';

const runFile = promisify(execFile);
const CLI = path.resolve('dist/src/cli.js');

/** Writes a marker into its files, says so, and waits until the test puts `go` next to it. */
const WAIT_FOR_GO = [
  'import os, time',
  "open('/mnt/data/waiting', 'w').close()",
  "print('started', flush=True)",
  "while not os.path.exists('/mnt/data/go'):",
  '    time.sleep(0.05)',
  "print('done')",
].join('\n');

const cleanups: Array<() => Promise<void>> = [];

beforeAll(() => {
  // Build what `codecell` runs; type errors elsewhere still emit, so only a missing file is fatal.
  spawnSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
});

afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function cliEnv(dataDir: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: process.env.HOME ?? os.tmpdir(),
    CODECELL_DATA_DIR: dataDir,
    CODECELL_POOL_PYTHON: '1',
    CODECELL_POOL_PYTHON_LEAN: '0',
    CODECELL_POOL_NODE: '0',
    CODECELL_POOL_BASH: '0',
    ...TEST_IMAGES,
    ...extra,
  };
}

/** Runs the CLI to its end; resolves with its exit code and output (a failing command does not throw). */
async function cli(dataDir: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await runFile(process.execPath, [CLI, ...args], { env: cliEnv(dataDir, { CODECELL_API_KEYS: TEST_KEY }) });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = z.object({ code: z.number(), stdout: z.string(), stderr: z.string() }).parse(error);
    return failed;
  }
}

function instanceOf(dataDir: string): string {
  return createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
}

function instanceContainers(dataDir: string): string[] {
  const out = spawnSync('docker', ['ps', '-aq', '--no-trunc', '--filter', 'label=codecell', '--filter', `label=codecell.instance=${instanceOf(dataDir)}`], {
    encoding: 'utf8',
  });
  return out.stdout.split('\n').filter((line) => line.trim().length > 0);
}

/** The slot (host directory) a waiting run writes in: the one whose data holds its marker. */
async function waitingSlot(dataDir: string): Promise<string> {
  const slotsRoot = path.join(dataDir, 'slots');
  const found: string[] = [];
  for (const name of await fs.readdir(slotsRoot)) {
    const marker = path.join(slotsRoot, name, 'data', 'waiting');
    if (await fs.stat(marker).then(() => true, () => false)) found.push(path.join(slotsRoot, name));
  }
  expect(found).toHaveLength(1);
  return found[0] as string;
}

/** Starts a waiting run; resolves `started` once its first output came back as progress (it runs in its container). */
function startWaitingRun(client: Client, sessionId?: string): { started: Promise<void>; result: ReturnType<typeof callTool> } {
  let running!: () => void;
  const started = new Promise<void>((resolve) => (running = resolve));
  const result = callTool(
    client,
    'execute_python_code',
    { code: WAIT_FOR_GO, ...(sessionId === undefined ? {} : { session_id: sessionId }) },
    { onprogress: () => running(), timeoutMs: 120_000 },
  );
  return { started, result };
}

describe('a data dir held by a running server', () => {
  it('refuses CLI commands on it with a clear message, and the server\'s run finishes ok', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const client = await connectStreamable(server.url);
    cleanups.push(() => client.close());
    const run = startWaitingRun(client);
    await run.started;

    const listed = await cli(server.dataDir, ['session', 'list']);
    expect(listed.code).toBe(1);
    expect(listed.stdout).toBe('');
    expect(listed.stderr).toContain(`DATA_DIR_IN_USE: the data dir ${server.dataDir} is in use by process ${process.pid}`);
    expect(listed.stderr).toContain('--set CODECELL_DATA_DIR=<dir>');
    expect(listed.stderr).toContain(`stop process ${process.pid}`);

    const executed = await cli(server.dataDir, ['exec', '--language', 'bash', '--code', 'echo never']);
    expect(executed.code).toBe(1);
    expect(executed.stderr).toContain('DATA_DIR_IN_USE');

    const served = await cli(server.dataDir, ['serve', '--port', '0']);
    expect(served.code).toBe(1);
    expect(served.stderr).toContain(`Another Codecell server (or command) holds it`);
    expect(served.stderr).toContain(`Stop process ${process.pid} first`);

    // The refused commands touched nothing: the run still waits, its container and record intact.
    await fs.writeFile(path.join(await waitingSlot(server.dataDir), 'data', 'go'), '');
    const result = await run.result;
    expect(result.structuredContent?.status, textOf(result)).toBe('ok');
    expect(result.structuredContent?.stdout).toBe('started\ndone\n');
    const record = z.object({ pid: z.number() }).parse(JSON.parse(readFileSync(path.join(server.dataDir, OWNER_RECORD_FILE), 'utf8')));
    expect(record.pid).toBe(process.pid);
  });

  it('says a run whose container was removed from outside was not ended by the interpreter', async () => {
    const server = await startTestServer();
    cleanups.push(() => server.close());
    const client = await connectStreamable(server.url);
    cleanups.push(() => client.close());
    const run = startWaitingRun(client);
    await run.started;
    const slot = await waitingSlot(server.dataDir);
    const running = instanceContainers(server.dataDir).filter((id) => {
      const mounts = spawnSync('docker', ['inspect', '--format', '{{range .Mounts}}{{.Source}} {{end}}', id], { encoding: 'utf8' }).stdout;
      return mounts.includes(slot);
    });
    expect(running).toHaveLength(1);
    spawnSync('docker', ['rm', '-f', running[0] as string]);
    const result = await run.result;
    expect(result.structuredContent?.status).toBe('killed');
    expect(String(result.structuredContent?.notice)).toContain('removed by something outside this run');
    expect(String(result.structuredContent?.notice)).not.toContain('interpreter died');
  });
});

describe('a data dir whose server was killed', () => {
  it('is taken over by the next server, which removes the dead one\'s containers and returns its session files', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-owner-test-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
      env: cliEnv(dataDir, { CODECELL_API_KEYS: TEST_KEY }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = once(child, 'exit');
    const url = await listeningUrl(child);
    const client = await connectStreamable(url);
    const sessionId = sessionOf(await callTool(client, 'create_execution_session'));
    await callTool(client, 'execute_python_code', { code: "open('kept.txt', 'w').write('from the killed server')", session_id: sessionId });
    const run = startWaitingRun(client, sessionId);
    await run.started;

    child.kill('SIGKILL');
    await exited;
    void run.result.catch(() => undefined); // its server is gone: the call can only fail
    void client.close().catch(() => undefined);
    const leftovers = instanceContainers(dataDir);
    expect(leftovers.length).toBeGreaterThan(0);
    const deadRecord = z.object({ pid: z.number() }).parse(JSON.parse(readFileSync(path.join(dataDir, OWNER_RECORD_FILE), 'utf8')));
    expect(deadRecord.pid).toBe(child.pid);
    // The session's files sit in the dead server's slot, not in the session.
    await waitingSlot(dataDir);

    let next: TestServer | undefined = await startTestServer({ dataDir });
    cleanups.push(async () => next?.close({ keepData: true }));
    const remaining = new Set(instanceContainers(dataDir));
    expect(leftovers.filter((id) => remaining.has(id))).toEqual([]);
    const record = z.object({ pid: z.number() }).parse(JSON.parse(readFileSync(path.join(dataDir, OWNER_RECORD_FILE), 'utf8')));
    expect(record.pid).toBe(process.pid);

    const again = await connectStreamable(next.url);
    const read = await callTool(again, 'execute_python_code', {
      code: "import os\nprint(open('kept.txt').read(), os.path.exists('waiting'))",
      session_id: sessionId,
    });
    expect(read.structuredContent?.stdout, textOf(read)).toBe('from the killed server True\n');
    await again.close();
    await next.close({ keepData: true });
    next = undefined;
  });
});

/** A short lease so the real processes below see one lapse within seconds. */
const SHORT_LEASE = { CODECELL_OWNER_LEASE_RENEW_SECONDS: '1', CODECELL_OWNER_LEASE_STALE_SECONDS: '3' };

/** The record as another container would write it: another host name, boot and pid namespace. */
function asForeign(record: OwnerRecord, renewedAt: string): OwnerRecord {
  return { ...record, hostname: 'd65559dadbee', bootId: 'another-boot', pidNamespace: 'pid:[4026532999]', pid: 7, renewedAt };
}

function serve(dataDir: string): { child: ReturnType<typeof spawn>; stderr: () => string; exited: Promise<unknown> } {
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0'], {
    env: cliEnv(dataDir, { CODECELL_API_KEYS: TEST_KEY, CODECELL_POOL_PYTHON: '0', ...SHORT_LEASE }),
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let text = '';
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
  return { child, stderr: () => text, exited: once(child, 'exit') };
}

describe('a data dir whose owner ran in another container (the owner lease)', () => {
  it('is taken over from a SIGKILLed server once its lease lapses, and the session is kept', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-owner-test-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const first = serve(dataDir);
    const client = await connectStreamable(await listeningUrl(first.child));
    const sessionId = sessionOf(await callTool(client, 'create_execution_session'));
    await callTool(client, 'execute_python_code', { code: "open('kept.txt', 'w').write('before the crash')", session_id: sessionId });
    first.child.kill('SIGKILL');
    await first.exited;
    void client.close().catch(() => undefined);
    const recordFile = path.join(dataDir, OWNER_RECORD_FILE);
    const dead = JSON.parse(readFileSync(recordFile, 'utf8')) as OwnerRecord;
    expect(dead.pid).toBe(first.child.pid);
    // As a new container sees it: written elsewhere, last renewed just now (so the newcomer must wait for the lapse).
    await fs.writeFile(recordFile, `${JSON.stringify(asForeign(dead, new Date().toISOString()))}\n`);

    const second = serve(dataDir);
    cleanups.push(async () => {
      second.child.kill('SIGTERM');
      await second.exited;
    });
    const url = await listeningUrl(second.child);
    expect(second.stderr()).toContain('whose lease had lapsed');
    expect(second.stderr()).toContain('d65559dadbee');
    const taken = JSON.parse(readFileSync(recordFile, 'utf8')) as OwnerRecord;
    expect(taken.pid).toBe(second.child.pid);
    expect(taken.hostname).toBe(os.hostname());

    const again = await connectStreamable(url);
    const read = await callTool(again, 'execute_python_code', { code: "print(open('kept.txt').read())", session_id: sessionId });
    expect(read.structuredContent?.stdout, textOf(read)).toBe('before the crash\n');
    await again.close();
  });

  it('keeps refusing while the foreign owner renews its lease, and the record stays its own', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-owner-test-'));
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const recordFile = path.join(dataDir, OWNER_RECORD_FILE);
    // A live owner in another container, as this one sees it: its record renewed every 0.5 s (written whole, renamed in).
    const renewer = spawn(
      process.execPath,
      [
        '-e',
        `const fs = require('node:fs');
         const file = process.argv[1];
         const base = JSON.parse(process.argv[2]);
         const renew = () => { fs.writeFileSync(file + '.tmp', JSON.stringify({ ...base, renewedAt: new Date().toISOString() }) + '\\n'); fs.renameSync(file + '.tmp', file); };
         renew(); console.log('renewing'); setInterval(renew, 500);`,
        recordFile,
        JSON.stringify(asForeign({ pid: 1, startTime: null, bootId: null, pidNamespace: null, hostname: '', since: new Date().toISOString() }, '')),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    const renewerExited = once(renewer, 'exit');
    cleanups.push(async () => {
      renewer.kill('SIGKILL');
      await renewerExited;
    });
    await once(renewer.stdout as NodeJS.ReadableStream, 'data');

    const newcomer = serve(dataDir);
    const [code] = (await newcomer.exited) as [number | null];
    expect(code).toBe(1);
    expect(newcomer.stderr()).toContain('DATA_DIR_IN_USE');
    expect(newcomer.stderr()).toContain('process 7 on host d65559dadbee');
    expect(newcomer.stderr()).toContain('still renews its lease');
    const record = JSON.parse(readFileSync(recordFile, 'utf8')) as OwnerRecord;
    expect(record).toMatchObject({ pid: 7, hostname: 'd65559dadbee' });
  });
});
