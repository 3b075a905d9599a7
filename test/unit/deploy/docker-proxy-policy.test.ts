/** The socket proxy's rules (api-rules.ts) and create-body policy (create-policy.ts), without an engine. */
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';
import { classifyRequest } from '../../../src/docker-proxy/api-rules.js';
import { checkCreateBody, type CreatePolicy } from '../../../src/docker-proxy/create-policy.js';
import { containerSpec, probeContainerSpec } from '../../../src/executor/docker/container-spec.js';

const DATA_DIR = '/srv/codecell';
const POLICY: CreatePolicy = { dataDir: DATA_DIR, imagePrefix: 'codecell', runtime: 'runc' };
const GVISOR_POLICY: CreatePolicy = { ...POLICY, runtime: 'runsc' };
const SLOT = {
  dataDir: `${DATA_DIR}/slots/a/data`,
  homeDir: `${DATA_DIR}/slots/a/home`,
  inDir: `${DATA_DIR}/slots/a/in`,
  outDir: `${DATA_DIR}/slots/a/out`,
};

function settings(overrides: Record<string, string> = {}) {
  return loadSettings({}, { CODECELL_DATA_DIR: DATA_DIR, ...overrides });
}

/** A real execution container's body, as JSON travels (undefined fields dropped). */
function executionBody(overrides: Record<string, string> = {}): Record<string, unknown> {
  return JSON.parse(JSON.stringify(containerSpec(settings(overrides), 'instance', 'python', SLOT))) as Record<string, unknown>;
}

function withHostConfig(change: Record<string, unknown>): Record<string, unknown> {
  const body = executionBody();
  return { ...body, HostConfig: { ...(body['HostConfig'] as Record<string, unknown>), ...change } };
}

function check(method: string, url: string) {
  return classifyRequest(method, new URL(url, 'http://docker'));
}

describe('the create-body policy', () => {
  it('accepts every container the Docker executor makes', () => {
    expect(checkCreateBody(executionBody(), POLICY)).toEqual({ allowed: true });
    expect(checkCreateBody(executionBody({ CODECELL_RUNTIME: 'runsc' }), GVISOR_POLICY)).toEqual({ allowed: true });
    const oneShot = JSON.parse(JSON.stringify(containerSpec(settings(), 'instance', 'gcc', SLOT))) as unknown;
    expect(checkCreateBody(oneShot, POLICY)).toEqual({ allowed: true });
    const probe = JSON.parse(JSON.stringify(probeContainerSpec(settings(), 'instance', 'codecell-python:latest', ['python3', '-V']))) as unknown;
    expect(checkCreateBody(probe, POLICY)).toEqual({ allowed: true });
  });

  it.each([
    ['a privileged container', withHostConfig({ Privileged: true }), /Privileged/],
    ['added capabilities', withHostConfig({ CapAdd: ['SYS_ADMIN'] }), /CapAdd|Unrecognized/i],
    ['the host root bind-mounted', withHostConfig({ Binds: ['/:/host:rw'] }), /Binds/],
    ['the engine socket bind-mounted', withHostConfig({ Binds: ['/var/run/docker.sock:/var/run/docker.sock'] }), /Binds/],
    ['a bind escaping the data dir', withHostConfig({ Binds: [`${DATA_DIR}/../../etc:/etc2`] }), /Binds/],
    ['a bind beside the data dir', withHostConfig({ Binds: [`${DATA_DIR}-other/x:/x`] }), /Binds/],
    ['the data dir itself', withHostConfig({ Binds: [`${DATA_DIR}:/x`] }), /Binds/],
    ['the data dir beside the slots (keys)', withHostConfig({ Binds: [`${DATA_DIR}/keys:/x:ro`] }), /Binds/],
    ['the slots dir itself', withHostConfig({ Binds: [`${DATA_DIR}/slots:/x`] }), /Binds/],
    ['a label of another tool (compose)', { ...executionBody(), Labels: { codecell: 'true', 'com.docker.compose.project': 'librechat' } }, /Labels/],
    ['a slot bound over the container\'s /etc', withHostConfig({ Binds: [`${DATA_DIR}/slots/a/data:/etc:ro`] }), /Binds/],
    ['a slot bound into /proc', withHostConfig({ Binds: [`${DATA_DIR}/slots/a/data:/proc/sys/kernel:rw`] }), /Binds/],
    ['a Mounts entry', withHostConfig({ Mounts: [{ Type: 'bind', Source: '/', Target: '/host' }] }), /Mounts|Unrecognized/i],
    ['host networking', withHostConfig({ NetworkMode: 'host' }), /NetworkMode/],
    ['the host pid namespace', withHostConfig({ PidMode: 'host' }), /PidMode|Unrecognized/i],
    ['a device', withHostConfig({ Devices: [{ PathOnHost: '/dev/sda', PathInContainer: '/dev/sda', CgroupPermissions: 'rwm' }] }), /Devices|Unrecognized/i],
    ['seccomp unconfined', withHostConfig({ SecurityOpt: ['no-new-privileges:true', 'seccomp=unconfined'] }), /SecurityOpt/],
    ['an allow-all seccomp profile', withHostConfig({ SecurityOpt: ['no-new-privileges:true', 'seccomp={"defaultAction":"SCMP_ACT_ALLOW"}'] }), /SecurityOpt/],
    ['apparmor unconfined', withHostConfig({ SecurityOpt: ['no-new-privileges:true', 'apparmor=unconfined'] }), /SecurityOpt/],
    ['no memory limit', withHostConfig({ Memory: 0 }), /Memory/],
    ['a writable root', withHostConfig({ ReadonlyRootfs: false }), /ReadonlyRootfs/],
    ['another image', { ...executionBody(), Image: 'alpine:latest' }, /Image/],
    ['root', { ...executionBody(), User: '0:0' }, /User/],
    ['a user by name', { ...executionBody(), User: 'root' }, /User/],
    ['no codecell label', { ...executionBody(), Labels: { other: 'true' } }, /Labels/],
    ['a network', { ...executionBody(), NetworkDisabled: false }, /NetworkDisabled/],
  ])('refuses %s', (_name, body, field) => {
    const verdict = checkCreateBody(body, POLICY);
    expect(verdict.allowed).toBe(false);
    if (!verdict.allowed) expect(verdict.reason).toMatch(field);
  });

  it('allows only the configured runtime: under runsc (gVisor) no container can drop it', () => {
    const gvisorBody = executionBody({ CODECELL_RUNTIME: 'runsc' });
    const gvisorHost = gvisorBody['HostConfig'] as Record<string, unknown>;
    expect(gvisorHost['Runtime']).toBe('runsc');
    for (const runtime of ['runc', 'io.containerd.runc.v2', 'kata']) {
      const verdict = checkCreateBody({ ...gvisorBody, HostConfig: { ...gvisorHost, Runtime: runtime } }, GVISOR_POLICY);
      expect(verdict).toEqual({ allowed: false, reason: expect.stringMatching(/HostConfig\.Runtime/) as unknown });
    }
    // No Runtime at all would be the engine's default runtime (runc on most hosts).
    const { Runtime: _dropped, ...withoutRuntime } = gvisorHost;
    expect(checkCreateBody({ ...gvisorBody, HostConfig: withoutRuntime }, GVISOR_POLICY).allowed).toBe(false);
    // A runc host: runc (or the default) only; runsc bodies fail loudly when the proxy was not told.
    expect(checkCreateBody(withHostConfig({ Runtime: 'runc' }), POLICY)).toEqual({ allowed: true });
    expect(checkCreateBody(gvisorBody, POLICY).allowed).toBe(false);
    expect(checkCreateBody(withHostConfig({ Runtime: 'kata' }), POLICY).allowed).toBe(false);
  });

  it('takes the image prefix literally', () => {
    const policy: CreatePolicy = { ...POLICY, imagePrefix: 'cc.x' };
    expect(checkCreateBody({ ...executionBody(), Image: 'cc.x-python:latest' }, policy)).toEqual({ allowed: true });
    expect(checkCreateBody({ ...executionBody(), Image: 'ccAx-python:latest' }, policy).allowed).toBe(false);
  });
});

describe('the API allowlist', () => {
  it.each([
    ['GET', '/_ping', 'ping'],
    ['HEAD', '/_ping', 'ping'],
    ['GET', '/v1.41/version', 'version'],
    ['GET', `/v1.41/events?filters=${encodeURIComponent('{"type":["container"],"container":["0123abcd"],"event":["oom","die"]}')}`, 'events'],
    ['POST', '/v1.24/containers/0123abcd/start', 'container'],
    ['POST', '/v1.41/containers/create', 'create-container'],
    ['POST', '/v1.41/containers/0123abcd/attach?stream=1', 'container'],
    ['POST', '/containers/0123abcd/start', 'container'],
    ['POST', '/containers/0123abcd/wait', 'container'],
    ['POST', '/containers/0123abcd/kill?signal=SIGKILL', 'container'],
    ['DELETE', '/containers/0123abcd?force=true', 'container'],
    ['GET', '/containers/0123abcd/json', 'container'],
    ['GET', '/images/codecell-python:latest/json', 'inspect-image'],
    ['GET', `/containers/json?all=true&filters=${encodeURIComponent('{"label":["codecell=true","codecell.instance=x"]}')}`, 'list-containers'],
  ])('allows %s %s', (method, url, kind) => {
    const verdict = check(method, url);
    expect(verdict.allowed && verdict.call.kind).toBe(kind);
  });

  it.each([
    ['POST', '/v1.41/containers/0123abcd/exec'],
    ['POST', '/v1.41/exec/0123abcd/start'],
    ['POST', '/v1.41/build'],
    ['POST', '/v1.41/images/create?fromImage=alpine'],
    ['GET', '/v1.41/info'],
    ['GET', '/v1.41/containers/0123abcd/logs'],
    ['GET', '/v1.41/containers/0123abcd/archive?path=/'],
    ['PUT', '/v1.41/containers/0123abcd/archive?path=/'],
    ['POST', '/v1.41/containers/0123abcd/update'],
    ['POST', '/v1.41/volumes/create'],
    ['POST', '/v1.41/networks/create'],
    ['GET', '/v1.41/containers/json'],
    ['GET', `/v1.41/containers/json?filters=${encodeURIComponent('{"label":["other=true"]}')}`],
    ['POST', '/v1.41/containers/../build'],
    ['POST', '/v1.41/containers/%2e%2e/build'],
    ['GET', '/v1.41/images/json'],
    ['DELETE', '/v1.41/images/codecell-python:latest'],
    // Every container's events (names, images, labels): only the watched Codecell containers' may be asked for.
    ['GET', '/v1.41/events'],
    ['GET', '/v1.41/events?filters=%7B%7D'],
    ['GET', `/events?filters=${encodeURIComponent('{"container":[]}')}`],
    ['GET', `/events?filters=${encodeURIComponent('{"container":["a"]}')}&filters=${encodeURIComponent('{"container":["b"]}')}`],
    // Before API 1.24 the engine applies a HostConfig sent with start: old versions are refused.
    ['POST', '/v1.23/containers/0123abcd/start'],
    ['POST', '/v1.12/containers/create'],
    ['POST', '/v0.99/containers/create'],
    ['POST', '/v99/containers/create'],
  ])('refuses %s %s', (method, url) => {
    expect(check(method, url).allowed).toBe(false);
  });
});
