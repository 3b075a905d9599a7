/**
 * Attacks on Codecell's Docker socket proxy (src/docker-proxy/) from a compromised server: real HTTP
 * (raw sockets, so nothing normalises the attack) against the real proxy process (dist/…/main.js) on
 * loopback, forwarding to the real engine. Each attack must fail, and the proxy must keep answering.
 * What a create actually did is read from the engine directly, not from the proxy's answer.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import Docker from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEngine, TESTS_USE_DOCKER } from '../helpers/engine.js';

const PREFIX = process.env.CODECELL_IMAGE_PREFIX ?? 'codecell';
const IMAGE = `${PREFIX}-python:latest`;
const ATTACK_LABEL = 'codecell.test.proxy-attacks';
const docker = new Docker({ socketPath: process.env.DOCKER_SOCKET ?? '/var/run/docker.sock' });

let proxy: ChildProcess;
let port = 0;
let dataDir = '';

/** One raw exchange: writes `data`, reads until the proxy closes (every request here says Connection: close). */
function exchange(data: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('latin1')));
    socket.on('error', reject);
    socket.on('close', () => resolve(answer));
    socket.on('connect', () => socket.write(data));
  });
}

function request(method: string, target: string, body = '', headers: Record<string, string> = {}): Promise<string> {
  const lines = [`${method} ${target} HTTP/1.1`, 'Host: docker', 'Connection: close', `Content-Length: ${Buffer.byteLength(body)}`];
  if (body !== '') lines.push('Content-Type: application/json');
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  return exchange(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

function statusOf(answer: string): number {
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? 0);
}

function createdId(answer: string): string | undefined {
  return /"Id":"([0-9a-f]{64})"/.exec(answer)?.[1];
}

function hardenedHost(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { NetworkMode: 'none', ReadonlyRootfs: true, CapDrop: ['ALL'], SecurityOpt: ['no-new-privileges:true'], Memory: 64_000_000, MemorySwap: 64_000_000, PidsLimit: 64, ...extra };
}

function hardenedBody(host: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    Image: IMAGE,
    User: '65534:65534',
    Labels: { codecell: 'true', [ATTACK_LABEL]: 'true' },
    NetworkDisabled: true,
    Entrypoint: ['sleep'],
    Cmd: ['120'],
    HostConfig: hardenedHost(host),
  };
}

async function createThroughProxy(body: string, name?: string): Promise<string> {
  const answer = await request('POST', `/containers/create${name === undefined ? '' : `?name=${name}`}`, body);
  expect(statusOf(answer), answer).toBe(201);
  const id = createdId(answer);
  if (id === undefined) throw new Error(`no id in ${answer}`);
  return id;
}

async function proxyStillAnswers(): Promise<void> {
  const answer = await request('GET', '/_ping');
  expect(statusOf(answer)).toBe(200);
  expect(answer.endsWith('OK')).toBe(true);
}

beforeAll(async () => {
  dataDir = await mkdtemp(path.join(os.tmpdir(), 'codecell-proxy-attacks-'));
  const probe = net.createServer();
  probe.listen(0, '127.0.0.1');
  await once(probe, 'listening');
  port = (probe.address() as net.AddressInfo).port;
  probe.close();
  proxy = spawn(process.execPath, ['dist/src/docker-proxy/main.js'], {
    env: { ...process.env, CODECELL_PROXY_LISTEN: `tcp://127.0.0.1:${port}`, CODECELL_DATA_DIR: dataDir, CODECELL_IMAGE_PREFIX: PREFIX },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let seen = '';
    proxy.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString('utf8');
      if (seen.includes('docker proxy listening')) resolve();
    });
    proxy.once('exit', (code) => reject(new Error(`proxy exited with ${code}`)));
  });
  await docker.getImage(IMAGE).inspect();
});

afterAll(async () => {
  const left = await docker.listContainers({ all: true, filters: { label: [`${ATTACK_LABEL}=true`] } });
  await Promise.all(left.map((info) => docker.getContainer(info.Id).remove({ force: true })));
  proxy?.kill('SIGTERM');
  if (dataDir !== '') await rm(dataDir, { recursive: true, force: true });
});

describe('create bodies the engine would read differently from the policy', () => {
  it('a repeated HostConfig key cannot merge privileges into the checked one', async () => {
    const body = JSON.stringify(hardenedBody());
    const evil = body.replace('"HostConfig":', `"HostConfig":${JSON.stringify({ Privileged: true, Binds: ['/:/host'], PidMode: 'host', CapAdd: ['ALL'] })},"HostConfig":`);
    const id = await createThroughProxy(evil);
    const host = (await docker.getContainer(id).inspect()).HostConfig;
    expect(host.Privileged).toBe(false);
    expect(host.Binds ?? []).toEqual([]);
    expect(host.PidMode).toBe('');
    expect(host.CapAdd ?? []).toEqual([]);
    await proxyStillAnswers();
  });

  it.each([
    ['a lower-case field in HostConfig', (b: string) => b.replace('"NetworkMode"', '"privileged":true,"NetworkMode"')],
    ['a lower-case HostConfig beside the real one', (b: string) => b.replace('"HostConfig":', '"hostconfig":{"Privileged":true},"HostConfig":')],
    ['a key that folds to Binds (long s)', (b: string) => b.replace('"NetworkMode"', '"Bind\u017f":["/:/host"],"NetworkMode"')],
    ['a unicode-escaped Privileged set to true', (b: string) => b.replace('"NetworkMode"', '"\\u0050rivileged":true,"NetworkMode"')],
    ['VolumesFrom', (b: string) => b.replace('"NetworkMode"', '"VolumesFrom":["some-other-container"],"NetworkMode"')],
    ['Mounts', (b: string) => b.replace('"NetworkMode"', '"Mounts":[{"Type":"bind","Source":"/","Target":"/host"}],"NetworkMode"')],
    ['Devices', (b: string) => b.replace('"NetworkMode"', '"Devices":[{"PathOnHost":"/dev/sda","PathInContainer":"/dev/sda","CgroupPermissions":"rwm"}],"NetworkMode"')],
    ['PidMode host', (b: string) => b.replace('"NetworkMode"', '"PidMode":"host","NetworkMode"')],
    ['UsernsMode host', (b: string) => b.replace('"NetworkMode"', '"UsernsMode":"host","NetworkMode"')],
    ['seccomp=unconfined', (b: string) => b.replace('"no-new-privileges:true"', '"no-new-privileges:true","seccomp=unconfined"')],
    ['apparmor=unconfined', (b: string) => b.replace('"no-new-privileges:true"', '"no-new-privileges:true","apparmor=unconfined"')],
    ['a bind of a path with ..', (b: string) => b.replace('"NetworkMode"', `"Binds":["${dataDir}/slots/../../../:/host"],"NetworkMode"`)],
    ['a bind with propagation options', (b: string) => b.replace('"NetworkMode"', `"Binds":["${dataDir}/slots/x:/host:rshared"],"NetworkMode"`)],
    ['root by number', (b: string) => b.replace('"65534:65534"', '"0"')],
    ['another registry\'s image', (b: string) => b.replace(IMAGE, `evil.example/${IMAGE}`)],
    ['an image by digest', (b: string) => b.replace(IMAGE, `${PREFIX}-python@sha256:${'a'.repeat(64)}`)],
  ])('%s is refused', async (_name, mutate) => {
    const body = mutate(JSON.stringify(hardenedBody()));
    expect(body).not.toBe(JSON.stringify(hardenedBody()));
    const answer = await request('POST', '/containers/create', body);
    expect(statusOf(answer), answer).toBe(403);
    await proxyStillAnswers();
  });

  it('a name outside codecell-* (squatting another service\'s) is refused', async () => {
    const answer = await request('POST', '/containers/create?name=librechat-api-1', JSON.stringify(hardenedBody()));
    expect(statusOf(answer)).toBe(403);
    expect(await docker.listContainers({ all: true, filters: { name: ['librechat-api-1'] } })).toEqual([]);
  });

  it('a create body above the limit is refused whole', async () => {
    const body = JSON.stringify({ ...hardenedBody(), Env: ['X='.padEnd(2 * 1024 * 1024, 'x')] });
    expect(statusOf(await request('POST', '/containers/create', body))).toBe(413);
    await proxyStillAnswers();
  });
});

describe('paths, versions and connections', () => {
  it('an old API version that applies a HostConfig sent with start is refused, and the current one ignores it', async () => {
    const id = await createThroughProxy(JSON.stringify(hardenedBody()));
    const privileges = JSON.stringify({ Privileged: true, Binds: ['/:/host'], PidMode: 'host' });
    expect(statusOf(await request('POST', `/v1.23/containers/${id}/start`, privileges))).toBe(403);
    expect(statusOf(await request('POST', `/v1.12/containers/${id}/start`, privileges))).toBe(403);
    const started = await request('POST', `/containers/${id}/start`, privileges);
    expect(statusOf(started), started).toBe(204);
    const container = await docker.getContainer(id).inspect();
    expect(container.State.Running).toBe(true);
    expect(container.HostConfig.Privileged).toBe(false);
    expect(container.HostConfig.Binds ?? []).toEqual([]);
    await docker.getContainer(id).remove({ force: true });
  });

  it.each([
    ['POST', '/containers/{id}/exec'],
    ['PUT', '/containers/{id}/archive?path=/tmp'],
    ['GET', '/containers/{id}/archive?path=/'],
    ['GET', '/containers/{id}/export'],
    ['POST', '/commit?container={id}'],
    ['POST', '/containers/{id}/update'],
    ['POST', '/containers/{id}/rename?name=x'],
    ['POST', '/containers/{id}%2Fexec'],
    ['POST', '/containers/{id}/%65xec'],
    ['POST', '/v1.41//containers/{id}/exec'],
    ['POST', '/containers/{id}/start/../exec'],
    ['POST', '/containers/{id};x=1/exec'],
    ['OPTIONS', '/containers/{id}/json'],
    ['HEAD', '/containers/{id}/json'],
  ])('%s %s on a Codecell container is refused', async (method, target) => {
    const id = await createThroughProxy(JSON.stringify(hardenedBody()));
    const answer = await request(method, target.replace('{id}', id), method === 'PUT' ? 'x' : '');
    expect(statusOf(answer), answer).toBe(403);
    await docker.getContainer(id).remove({ force: true });
  });

  it('a pipelined second request on an allowed connection is checked on its own', async () => {
    const id = await createThroughProxy(JSON.stringify(hardenedBody()));
    const answer = await exchange(
      `GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n` +
        `POST /containers/${id}/exec HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}`,
    );
    const statuses = [...answer.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((match) => Number(match[1]));
    // The proxy closes after the first answer (the engine's Connection: close) or refuses the second.
    expect(statuses[0]).toBe(200);
    expect(statuses.slice(1).every((status) => status === 403)).toBe(true);
    expect((await docker.getContainer(id).inspect()).ExecIDs ?? []).toEqual([]);
    await docker.getContainer(id).remove({ force: true });
  });

  it('Content-Length with Transfer-Encoding (request smuggling) is refused and the proxy survives', async () => {
    const smuggled = `0\r\n\r\nPOST /build HTTP/1.1\r\nHost: docker\r\nContent-Length: 0\r\n\r\n`;
    const answer = await exchange(`GET /_ping HTTP/1.1\r\nHost: docker\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n${smuggled}`);
    expect(statusOf(answer)).toBe(400);
    expect(answer).not.toContain('HTTP/1.1 200');
    await proxyStillAnswers();
  });

  it('an upgrade on anything but attach is refused', async () => {
    const answer = await request('GET', '/_ping', '', { Connection: 'Upgrade', Upgrade: 'tcp' });
    expect(statusOf(answer)).toBe(403);
    await proxyStillAnswers();
  });

  it('an attach to an unknown container ends at the proxy: bytes after it never reach the engine', async () => {
    const name = `codecell-proxy-attack-smuggled-${process.pid}`;
    const create = JSON.stringify({ Image: IMAGE, Labels: { [ATTACK_LABEL]: 'true' }, HostConfig: { Privileged: true } });
    const answer = await exchange(
      `POST /containers/no-such-container-${process.pid}/attach?stream=1&stdout=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n` +
        `POST /containers/create?name=${name} HTTP/1.1\r\nHost: docker\r\nContent-Type: application/json\r\nContent-Length: ${create.length}\r\n\r\n${create}`,
    );
    expect(statusOf(answer)).toBe(404);
    const found = await docker.listContainers({ all: true, filters: { name: [name] } });
    expect(found).toEqual([]);
    await proxyStillAnswers();
  });
});

describe('other containers', () => {
  let foreignId = '';

  beforeAll(async () => {
    const foreign = await docker.createContainer({ Image: IMAGE, Entrypoint: ['sleep'], Cmd: ['120'], Labels: { [ATTACK_LABEL]: 'true' } });
    foreignId = foreign.id;
  });

  it.each([
    ['GET', '/containers/{id}/json'],
    ['POST', '/containers/{id}/start'],
    ['POST', '/containers/{id}/kill'],
    ['POST', '/containers/{id}/wait'],
    ['DELETE', '/containers/{id}?force=1'],
  ])('%s %s on a container without the codecell label is refused', async (method, target) => {
    expect(statusOf(await request(method, target.replace('{id}', foreignId)))).toBe(403);
    expect(statusOf(await request(method, target.replace('{id}', foreignId.slice(0, 12))))).toBe(403);
    expect((await docker.getContainer(foreignId).inspect()).State.Status).toBe('created');
  });

  it('an attach upgrade on a foreign container is refused', async () => {
    const answer = await request('POST', `/containers/${foreignId}/attach?stream=1&stdin=1`, '', { Connection: 'Upgrade', Upgrade: 'tcp' });
    expect(statusOf(answer)).toBe(403);
  });

  it('a name once checked as Codecell\'s and then taken by another container does not open that container', async () => {
    const name = `codecell-proxy-attack-reused-${process.pid}`;
    const id = await createThroughProxy(JSON.stringify(hardenedBody()), name);
    expect(statusOf(await request('GET', `/containers/${name}/json`))).toBe(200);
    await docker.getContainer(id).remove({ force: true });
    const other = await docker.createContainer({ name, Image: IMAGE, Entrypoint: ['sleep'], Cmd: ['120'], Labels: { [ATTACK_LABEL]: 'true' } });
    expect(statusOf(await request('DELETE', `/containers/${name}?force=1`))).toBe(403);
    expect((await other.inspect()).Id).toBe(other.id);
  });

  it('events and lists say nothing of other containers', async () => {
    const since = Math.floor(Date.now() / 1000) - 600;
    expect(statusOf(await request('GET', `/events?since=${since}&until=${since + 600}`))).toBe(403);
    const foreignEvents = encodeURIComponent(JSON.stringify({ container: [foreignId] }));
    expect(statusOf(await request('GET', `/events?since=${since}&until=${since + 600}&filters=${foreignEvents}`))).toBe(403);
    expect(statusOf(await request('GET', '/containers/json?all=1'))).toBe(403);
    const list = await request('GET', `/containers/json?all=1&filters=${encodeURIComponent(JSON.stringify({ label: ['codecell=true'] }))}`);
    expect(statusOf(list)).toBe(200);
    expect(list).not.toContain(foreignId);
  });

  it('only the execution images may be inspected', async () => {
    expect(statusOf(await request('GET', `/images/${IMAGE}/json`))).toBe(200);
    for (const name of [`${PREFIX}-images-builder:latest`, 'debian:bookworm', `${PREFIX}-python`, 'node:20'].map(encodeURIComponent)) {
      expect(statusOf(await request('GET', `/images/${name}/json`))).toBe(403);
    }
  });

  it('events of a Codecell container come through, for that container only', async () => {
    const since = Math.floor(Date.now() / 1000) - 1;
    const id = await createThroughProxy(JSON.stringify(hardenedBody()));
    const filters = encodeURIComponent(JSON.stringify({ type: ['container'], container: [id] }));
    const answer = await request('GET', `/events?since=${since}&until=${Math.floor(Date.now() / 1000) + 1}&filters=${filters}`);
    expect(statusOf(answer)).toBe(200);
    expect(answer).toContain(`"id":"${id}"`);
    expect(answer).toContain('"status":"create"');
    expect(answer).not.toContain(foreignId);
    await docker.getContainer(id).remove({ force: true });
  });
});

describe.runIf(TESTS_USE_DOCKER)('the executor behind the proxy', () => {
  it('runs code, keeps state and sees an OOM, with every engine call through the proxy', async () => {
    const t = await startTestEngine({ DOCKER_HOST: `tcp://127.0.0.1:${port}`, CODECELL_MEMORY_MB: '128', EXECUTION_TIMEOUT: '30' }, dataDir);
    try {
      const session = (await t.engine.createSession(t.principal)).id;
      const first = await t.engine.execute({ principal: t.principal, sessionId: session, language: 'python', code: 'x = 6 * 7\nprint(x)' });
      expect(first.status, JSON.stringify(first.error)).toBe('ok');
      expect(first.stdout.text.trim()).toBe('42');
      const second = await t.engine.execute({ principal: t.principal, sessionId: session, language: 'python', code: 'print(x + 1)' });
      expect(second.stdout.text.trim()).toBe('43');
      const oom = await t.engine.execute({ principal: t.principal, language: 'python', code: 'b = bytearray(512 * 1024 * 1024)\nb[::4096] = b"x" * len(b[::4096])' });
      expect(oom.status).toBe('oom');
    } finally {
      await t.close({ keepData: true });
    }
  });
});
