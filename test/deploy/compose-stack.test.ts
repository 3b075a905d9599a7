/**
 * docker-compose.yml as an admin runs it: the server image built from the root Dockerfile, the
 * server with no Docker socket of its own, every engine call through Codecell's socket proxy,
 * and LibreChat's network joined through docker-compose.librechat.yml. A compromised server is
 * played from inside the server's container: what it asks of the proxy beyond the allowlist is refused.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionOutputSchema } from '../../src/interfaces/mcp/render-result.js';
import { SMALL_POOLS } from '../helpers/engine.js';
import { CHILD_MEMORY_BOMB } from '../helpers/oom-code.js';
import { callTool, connectStreamable } from '../interfaces/helpers/mcp-client.js';
import { freePort, TEST_KEY } from '../interfaces/helpers/test-server.js';
import { awaitEvent, awaitLog, compose, COMPOSE_FILE, containerOf, dockerExec, LIBRECHAT_FILE, type ComposeProject } from './compose.js';
import { buildServerImage } from './server-image.js';

const run = promisify(execFile);
const IMAGE_PREFIX = process.env.CODECELL_IMAGE_PREFIX ?? 'codecell';
/** CHOWN, DAC_OVERRIDE and FOWNER: the server's only capabilities (docker-compose.yml). */
const SERVER_CAPABILITIES = (1n << 0n) | (1n << 1n) | (1n << 3n);

/** What a compromised server might ask of the engine, sent from inside its container to the proxy. */
const ATTACKS = `
const [proxyId, image] = process.argv.slice(1);
const base = 'http://docker-proxy:2375/v1.41';
async function call(method, path, body) {
  const response = await fetch(base + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, text: (await response.text()).slice(0, 400) };
}
const results = {
  privilegedCreate: await call('POST', '/containers/create', {
    Image: image, User: '10001:10001', Labels: { codecell: 'true' }, NetworkDisabled: true,
    HostConfig: { Privileged: true, Binds: ['/:/host'], NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'], Memory: 268435456, MemorySwap: 268435456, PidsLimit: 64 },
  }),
  hostBindCreate: await call('POST', '/containers/create', {
    Image: image, User: '10001:10001', Labels: { codecell: 'true' }, NetworkDisabled: true,
    HostConfig: { Binds: ['/var/run/docker.sock:/var/run/docker.sock'], NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'], Memory: 268435456, MemorySwap: 268435456, PidsLimit: 64 },
  }),
  execIntoProxy: await call('POST', '/containers/' + proxyId + '/exec', { Cmd: ['id'], AttachStdout: true }),
  killProxy: await call('POST', '/containers/' + proxyId + '/kill'),
  build: await call('POST', '/build?t=evil'),
  pull: await call('POST', '/images/create?fromImage=alpine&tag=latest'),
  info: await call('GET', '/info'),
  ping: await call('GET', '/_ping'),
};
console.log(JSON.stringify(results));
`;

describe('docker-compose.yml: the server behind the socket proxy', () => {
  let dataDir: string;
  let configDir: string;
  let project: ComposeProject;
  let librechatNetwork: string;
  let serverImage: string;
  let baseUrl: string;
  let client: Client | undefined;
  let startedAt: number;

  beforeAll(async () => {
    serverImage = await buildServerImage();
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-compose-'));
    configDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-compose-config-'));
    const port = await freePort();
    baseUrl = `http://127.0.0.1:${port}`;
    const name = `ccdeploy${process.pid}`;
    librechatNetwork = `${name}-librechat`;
    // Stands for LibreChat's own compose network (an external network to Codecell's project).
    await run('docker', ['network', 'create', librechatNetwork]);
    const override = path.join(configDir, 'override.yml');
    const env = { ...SMALL_POOLS, CODECELL_MEMORY_MB: '256' };
    writeFileSync(
      override,
      `services:\n  codecell:\n    environment:\n${Object.entries(env).map(([key, value]) => `      ${key}: "${value}"`).join('\n')}\n`,
    );
    project = {
      name,
      files: [COMPOSE_FILE, LIBRECHAT_FILE, override],
      env: {
        CODECELL_API_KEYS: TEST_KEY,
        CODECELL_SERVER_IMAGE: serverImage,
        CODECELL_IMAGE_PREFIX: IMAGE_PREFIX,
        CODECELL_DATA_DIR: dataDir,
        CODECELL_BIND: `127.0.0.1:${port}`,
        DOCKER_GID: String(statSync('/var/run/docker.sock').gid),
        LIBRECHAT_NETWORK: librechatNetwork,
        // Interpolated even while the monitoring profile is off (Grafana's admin password).
        GRAFANA_ADMIN_PASSWORD: 'unused-here-0123456789',
      },
    };
    startedAt = Math.floor(Date.now() / 1000) - 1;
    await compose(project, ['up', '-d', '--no-build', 'codecell']);
    await awaitLog(await containerOf(project, 'codecell'), /codecell listening/);
    client = await connectStreamable(baseUrl);
  }, 1_200_000);

  afterAll(async () => {
    await client?.close();
    // SIGTERM: the server removes its execution containers before it exits.
    if (project) await compose(project, ['down', '--volumes', '--timeout', '60']).catch(() => undefined);
    if (librechatNetwork) await run('docker', ['network', 'rm', librechatNetwork]).catch(() => undefined);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
    if (configDir) rmSync(configDir, { recursive: true, force: true });
  }, 300_000);

  it('validates as a compose file, with and without the LibreChat override', async () => {
    const plain = await compose({ ...project, files: [COMPOSE_FILE] }, ['config', '--services']);
    expect(plain.trim().split('\n')).toEqual(expect.arrayContaining(['codecell', 'docker-proxy']));
    const resolved = await compose({ ...project, files: [COMPOSE_FILE, LIBRECHAT_FILE] }, ['config']);
    expect(resolved).toContain('DOCKER_HOST: tcp://docker-proxy:2375');
    expect(resolved).toContain(`name: ${librechatNetwork}`);
    // Codecell alone: no metrics key file is named, so none must exist (README, "Monitoring").
    expect(resolved).toMatch(/CODECELL_METRICS_KEYS_FILE: ''/);
    const monitored = await compose(
      { ...project, files: [COMPOSE_FILE], env: { ...project.env, CODECELL_METRICS_KEYS_FILE: '/run/secrets/codecell/metrics.key' } },
      ['config'],
    );
    expect(monitored).toContain('CODECELL_METRICS_KEYS_FILE: /run/secrets/codecell/metrics.key');
    expect(monitored).toMatch(/grafana\/secrets:\/run\/secrets\/codecell:ro/);
  });

  it('starts alone with no metrics key file, and /metrics then takes only an API key', async () => {
    const anonymous = await fetch(`${baseUrl}/metrics`);
    expect(anonymous.status).toBe(401);
    const withApiKey = await fetch(`${baseUrl}/metrics`, { headers: { authorization: `Bearer ${TEST_KEY}` } });
    expect(withApiKey.status).toBe(200);
    expect(await withApiKey.text()).toContain('codecell_executions_total');
  });

  it('runs the server without a Docker socket and with three capabilities, the proxy as non-root', async () => {
    const codecell = await containerOf(project, 'codecell');
    const status = await dockerExec(codecell, ['cat', '/proc/1/status']);
    expect(BigInt(`0x${/^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? 'ff'}`)).toBe(SERVER_CAPABILITIES);
    expect(BigInt(`0x${/^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1] ?? 'ff'}`)).toBe(SERVER_CAPABILITIES);
    await expect(dockerExec(codecell, ['test', '-e', '/var/run/docker.sock'])).rejects.toThrow();
    const proxy = await containerOf(project, 'docker-proxy');
    expect((await dockerExec(proxy, ['id', '-u'])).trim()).toBe('1000');
  });

  it('runs code through the proxy, end to end over MCP', async () => {
    if (!client) throw new Error('no MCP client');
    const result = await callTool(client, 'execute_python_code', { code: 'print(6 * 7)' });
    const output = ExecutionOutputSchema.parse(result.structuredContent);
    expect(output.status).toBe('ok');
    expect(output.stdout).toBe('42\n');
  });

  it('reports an OOM kill through the proxy (attach, wait and the engine’s event stream)', async () => {
    if (!client) throw new Error('no MCP client');
    const result = await callTool(client, 'execute_python_code', { code: CHILD_MEMORY_BOMB });
    expect(ExecutionOutputSchema.parse(result.structuredContent).status).toBe('oom');
  });

  it('turns healthy by its compose healthcheck on /readyz', async () => {
    const codecell = await containerOf(project, 'codecell');
    await awaitEvent(codecell, startedAt, /health_status: healthy/);
    const { stdout } = await run('docker', ['inspect', '-f', '{{json .State.Health}}', codecell]);
    const health = JSON.parse(stdout) as { Status: string; Log: { ExitCode: number }[] };
    expect(health.Status).toBe('healthy');
    expect(health.Log.at(-1)?.ExitCode).toBe(0);
  });

  it('is reachable as http://codecell:7860 from LibreChat’s network', async () => {
    const probe = "fetch('http://codecell:7860/healthz').then(async (r) => console.log(r.status, (await r.text()).slice(0, 200)))";
    const { stdout } = await run('docker', ['run', '--rm', '--network', librechatNetwork, serverImage, 'node', '-e', probe]);
    expect(stdout).toMatch(/^200 /);
  });

  it('refuses what a compromised server asks beyond the allowlist, and keeps serving', async () => {
    const codecell = await containerOf(project, 'codecell');
    const proxy = await containerOf(project, 'docker-proxy');
    const output = await dockerExec(codecell, ['node', '--input-type=module', '-e', ATTACKS, proxy, `${IMAGE_PREFIX}-python:latest`]);
    const results = JSON.parse(output) as Record<string, { status: number; text: string }>;
    for (const attack of ['privilegedCreate', 'hostBindCreate', 'execIntoProxy', 'killProxy', 'build', 'pull', 'info']) {
      expect({ attack, status: results[attack]?.status }).toEqual({ attack, status: 403 });
      expect(results[attack]?.text).toContain('codecell docker proxy');
    }
    expect(results['privilegedCreate']?.text).toMatch(/Privileged/);
    expect(results['hostBindCreate']?.text).toMatch(/Binds/);
    expect(results['killProxy']?.text).toMatch(/not a Codecell container/);
    expect(results['ping']).toEqual({ status: 200, text: 'OK' });
    // The proxy still serves the server: another run goes through.
    if (!client) throw new Error('no MCP client');
    const result = await callTool(client, 'execute_python_code', { code: 'print(sum(range(10)))' });
    expect(ExecutionOutputSchema.parse(result.structuredContent).stdout).toBe('45\n');
    const { stdout } = await run('docker', ['inspect', '-f', '{{.State.Running}}', proxy]);
    expect(stdout.trim()).toBe('true');
  });
});
