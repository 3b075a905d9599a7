/** DOCKER_HOST as Docker's clients read it, with DOCKER_SOCKET as the fallback (config/docker-endpoint.ts). */
import { describe, expect, it } from 'vitest';
import { dockerEndpoint, parseDockerHost } from '../../../src/config/docker-endpoint.js';
import { loadSettings } from '../../../src/config/settings.js';

describe('the Docker endpoint', () => {
  it('reads unix and tcp DOCKER_HOST values', () => {
    expect(parseDockerHost('unix:///run/proxy/docker.sock')).toEqual({ kind: 'unix', socketPath: '/run/proxy/docker.sock' });
    expect(parseDockerHost('tcp://docker-proxy:2375')).toEqual({ kind: 'tcp', host: 'docker-proxy', port: 2375 });
    expect(parseDockerHost('tcp://10.0.0.5')).toEqual({ kind: 'tcp', host: '10.0.0.5', port: 2375 });
    expect(parseDockerHost('tcp://[::1]:2376')).toEqual({ kind: 'tcp', host: '::1', port: 2376 });
  });

  it.each(['ssh://host', 'unix://relative.sock', 'tcp://host:2375/path', 'tcp://user@host:2375', 'tcp://', '/var/run/docker.sock'])(
    'refuses %s',
    (value) => {
      expect(() => parseDockerHost(value)).toThrow(/DOCKER_HOST/);
    },
  );

  it('prefers DOCKER_HOST and falls back to DOCKER_SOCKET', () => {
    expect(dockerEndpoint('tcp://proxy:2375', '/x.sock')).toEqual({ kind: 'tcp', host: 'proxy', port: 2375 });
    expect(dockerEndpoint('', '/x.sock')).toEqual({ kind: 'unix', socketPath: '/x.sock' });
    expect(dockerEndpoint(undefined, '/x.sock')).toEqual({ kind: 'unix', socketPath: '/x.sock' });
  });

  it('is part of the settings, refused there when malformed', () => {
    expect(loadSettings({}, { DOCKER_HOST: 'tcp://docker-proxy:2375' }).docker.endpoint).toEqual({ kind: 'tcp', host: 'docker-proxy', port: 2375 });
    expect(loadSettings({}, { DOCKER_SOCKET: '/run/d.sock' }).docker.endpoint).toEqual({ kind: 'unix', socketPath: '/run/d.sock' });
    expect(() => loadSettings({}, { DOCKER_HOST: 'ssh://host' })).toThrow(/DOCKER_HOST/);
  });
});
