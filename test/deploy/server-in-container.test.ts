/**
 * Codecell deployed as docker-compose.yml deploys it: the server in a container built from the root
 * Dockerfile, with only the Docker socket and the data dir (same path inside and out) mounted. From
 * there the host's cgroups are out of sight, so an OOM kill is reported only through what needs no
 * host cgroup: on runc the runner's own count from its container's cgroup (a child killed while the
 * runner lives on); on gVisor, which shows no cgroup inside and kills the whole sandbox, the Docker
 * engine's events over the socket.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { GenericContainer, Wait, type StartedTestContainer } from 'testcontainers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionOutputSchema } from '../../src/interfaces/mcp/render-result.js';
import { SMALL_POOLS } from '../helpers/engine.js';
import { CHILD_MEMORY_BOMB } from '../helpers/oom-code.js';
import { callTool, connectStreamable } from '../interfaces/helpers/mcp-client.js';
import { freePort, TEST_KEY } from '../interfaces/helpers/test-server.js';
import { buildServerImage } from './server-image.js';

describe.each(['runc', 'runsc'])('the server in a container, with only the Docker socket (%s)', (runtime) => {
  let dataDir: string;
  let server: StartedTestContainer;
  let client: Client;

  beforeAll(async () => {
    // testcontainers looks for the engine's host on the bridge network, which an engine may not have;
    // every port here is on this machine's loopback (host networking below).
    process.env.TESTCONTAINERS_HOST_OVERRIDE ??= '127.0.0.1';
    const image = await buildServerImage();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-in-container-'));
    const port = await freePort();
    server = await new GenericContainer(image)
      // Host networking: the engine may have no bridge network (compose publishes 127.0.0.1:7860 instead).
      .withNetworkMode('host')
      .withBindMounts([
        { source: '/var/run/docker.sock', target: '/var/run/docker.sock' },
        { source: dataDir, target: dataDir },
      ])
      .withEnvironment({
        ...SMALL_POOLS,
        HOST: '127.0.0.1',
        PORT: String(port),
        CODECELL_API_KEYS: TEST_KEY,
        CODECELL_DATA_DIR: dataDir,
        CODECELL_MEMORY_MB: '256',
        CODECELL_RUNTIME: runtime,
      })
      .withWaitStrategy(Wait.forLogMessage(/codecell listening/))
      .withStartupTimeout(300_000)
      .start();
    client = await connectStreamable(`http://127.0.0.1:${port}`);
  }, 1_200_000);

  afterAll(async () => {
    await client?.close();
    // SIGTERM: the server kills and removes its execution containers before it exits.
    await server?.stop({ timeout: 60_000 });
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('cannot read the execution containers’ cgroups', async () => {
    const { output, exitCode } = await server.exec(['sh', '-c', 'ls /sys/fs/cgroup/memory/docker /sys/fs/cgroup/system.slice 2>&1 | head -3']);
    expect(exitCode).toBe(0);
    expect(output).not.toMatch(/[0-9a-f]{64}/);
  });

  it('reports a child process killed for memory', async () => {
    const result = await callTool(client, 'execute_python_code', { code: CHILD_MEMORY_BOMB });
    const output = ExecutionOutputSchema.parse(result.structuredContent);
    expect(output.status).toBe('oom');
    // runc holds the limit per process group of the container: the runner lives on and says so.
    if (runtime === 'runc') expect(output.stdout).toContain('runner alive, child exit -9');
  });

  it('answers an ordinary run as ok', async () => {
    const result = await callTool(client, 'execute_python_code', { code: 'print(6 * 7)' });
    const output = ExecutionOutputSchema.parse(result.structuredContent);
    expect(output.stdout).toBe('42\n');
    expect(output.status).toBe('ok');
  });
});
