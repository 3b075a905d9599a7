/**
 * The Docker socket proxy restarts (`docker-compose restart docker-proxy`) under a live server: the
 * warm runners' attach and event streams went through the old proxy and broke. The real proxy
 * process (dist/…/main.js) on loopback and a real server (DOCKER_HOST=tcp://…) in front of the real
 * engine; the proxy is killed and started again on the same port, and the same MCP session must
 * answer its next calls (well before the 60 s run timeout) and leave no container behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCodecell, type CodecellProcess } from '../interop/helpers/codecell-process.js';
import { callTool, connectStreamable, sessionOf, textOf } from '../interfaces/helpers/mcp-client.js';
import { TEST_KEY } from '../interfaces/helpers/test-server.js';

const PREFIX = process.env.CODECELL_IMAGE_PREFIX ?? 'codecell';
const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });

let dataDir = '';
let port = 0;
let proxy: ChildProcess | null = null;
let server: CodecellProcess | null = null;
let client: Client | null = null;

async function freePort(): Promise<number> {
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  const chosen = (probe.address() as net.AddressInfo).port;
  probe.close();
  return chosen;
}

async function startProxy(): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['dist/src/docker-proxy/main.js'], {
    env: { ...process.env, CODECELL_PROXY_LISTEN: `tcp://127.0.0.1:${port}`, CODECELL_DATA_DIR: dataDir, CODECELL_IMAGE_PREFIX: PREFIX },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes('docker proxy listening')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`proxy exited with ${code}`)));
  });
  return child;
}

async function stopProxy(): Promise<void> {
  if (!proxy || proxy.exitCode !== null || proxy.signalCode !== null) return;
  const exited = once(proxy, 'exit');
  proxy.kill('SIGKILL');
  await exited;
}

function instanceContainers(): Promise<Docker.ContainerInfo[]> {
  const instance = createHash('sha256').update(dataDir).digest('hex').slice(0, 16);
  return docker.listContainers({ all: true, filters: { label: [`codecell.instance=${instance}`] } });
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'codecell-proxy-restart-'));
  port = await freePort();
  proxy = await startProxy();
  server = await startCodecell({
    CODECELL_API_KEYS: TEST_KEY,
    CODECELL_DATA_DIR: dataDir,
    DOCKER_HOST: `tcp://127.0.0.1:${port}`,
    CODECELL_POOL_PYTHON: '0',
    CODECELL_POOL_NODE: '0',
    CODECELL_POOL_BASH: '1',
    CODECELL_POOL_PYTHON_LEAN: '1',
  });
  client = await connectStreamable(server.url);
}, 120_000);

afterAll(async () => {
  await client?.close().catch(() => undefined);
  await server?.stop();
  await stopProxy();
  const left = await instanceContainers();
  await Promise.all(left.map((info) => docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined)));
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
}, 60_000);

describe('a restart of the Docker socket proxy', () => {
  it('leaves the active session working on its next calls, and no container behind', async () => {
    if (!client || !server) throw new Error('not started');
    const session = sessionOf(await callTool(client, 'create_execution_session'));
    const first = await callTool(client, 'execute_bash_command', { command: 'echo before > kept.txt && echo $((6 * 7))', session_id: session });
    expect(first.isError, textOf(first)).toBe(false);
    expect(textOf(first)).toContain('42');

    await stopProxy();
    proxy = await startProxy();

    const bash = await callTool(client, 'execute_bash_command', { command: 'cat kept.txt && echo $((7 * 8))', session_id: session }, { timeoutMs: 30_000 });
    expect(bash.isError, textOf(bash)).toBe(false);
    expect(textOf(bash)).toContain('before');
    expect(textOf(bash)).toContain('56');
    const python = await callTool(client, 'execute_python_code', { code: 'print(open("kept.txt").read().strip(), 9 * 9)', session_id: session }, { timeoutMs: 30_000 });
    expect(python.isError, textOf(python)).toBe(false);
    expect(textOf(python)).toContain('before 81');

    const ready = await fetch(`${server.url}/readyz`, { headers: { Authorization: `Bearer ${TEST_KEY}` } });
    expect(ready.status).toBe(200);

  }, 45_000);

  it('ends a run whose engine connection broke at once, with a notice, and the session keeps its last good state', async () => {
    if (!client || !server) throw new Error('not started');
    const session = sessionOf(await callTool(client, 'create_execution_session'));
    const kept = await callTool(client, 'execute_python_code', { code: 'answer = 41\nprint("kept")', session_id: session });
    expect(kept.isError, textOf(kept)).toBe(false);

    let seenStart: () => void = () => undefined;
    const started = new Promise<void>((resolve) => (seenStart = resolve));
    // The run prints, then waits far longer than this test may take (its own timeout is 60 s).
    const running = callTool(
      client,
      'execute_python_code',
      { code: 'import time\nanswer = 0\nprint("started", flush=True)\ntime.sleep(300)', session_id: session },
      {
        timeoutMs: 30_000,
        onprogress: (progress) => {
          if (JSON.stringify(progress).includes('started')) seenStart();
        },
      },
    );
    await started;
    await stopProxy();
    proxy = await startProxy();

    const lost = await running;
    expect(lost.structuredContent?.status, textOf(lost)).toBe('killed');
    expect(textOf(lost)).toContain('connection to the container engine was lost');
    const after = await callTool(client, 'execute_python_code', { code: 'print("answer", answer + 1)', session_id: session }, { timeoutMs: 30_000 });
    expect(after.isError, textOf(after)).toBe(false);
    expect(textOf(after)).toContain('answer 42');

    await server.stop();
    server = null;
    expect((await instanceContainers()).map((info) => `${info.Names.join(',')} ${info.State}`)).toEqual([]);
  }, 45_000);
});
