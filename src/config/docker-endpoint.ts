/**
 * Where the Docker engine answers, read as Docker's own clients read it: DOCKER_HOST
 * (unix:///path or tcp://host[:port]) first, else the DOCKER_SOCKET path (Codecell's older setting),
 * else /var/run/docker.sock. TLS (tcp with DOCKER_TLS_VERIFY) is not supported: a socket proxy on
 * a private network or a unix socket is what Codecell is deployed behind.
 */
export type DockerEndpoint =
  | { readonly kind: 'unix'; readonly socketPath: string }
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number };

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';
const DEFAULT_TCP_PORT = 2375;

/** Parses a DOCKER_HOST value; throws with the reason on anything else. */
export function parseDockerHost(value: string): DockerEndpoint {
  if (value.startsWith('unix://')) {
    const socketPath = value.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw new Error(`DOCKER_HOST ${value}: a unix socket needs an absolute path`);
    return { kind: 'unix', socketPath };
  }
  if (value.startsWith('tcp://')) {
    let url: URL;
    try {
      url = new URL(`http://${value.slice('tcp://'.length)}`);
    } catch {
      throw new Error(`DOCKER_HOST ${value}: not a host[:port]`);
    }
    if (url.pathname !== '/' || url.search !== '' || url.username !== '' || url.hostname === '') {
      throw new Error(`DOCKER_HOST ${value}: only tcp://host[:port] is understood`);
    }
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    return { kind: 'tcp', host, port: url.port === '' ? DEFAULT_TCP_PORT : Number(url.port) };
  }
  throw new Error(`DOCKER_HOST ${value}: use unix:///path/to/docker.sock or tcp://host:port`);
}

/** DOCKER_HOST when set (non-empty), else the DOCKER_SOCKET path. */
export function dockerEndpoint(dockerHost: string | undefined, dockerSocket: string): DockerEndpoint {
  if (dockerHost !== undefined && dockerHost !== '') return parseDockerHost(dockerHost);
  return { kind: 'unix', socketPath: dockerSocket };
}

/** For messages and logs: the endpoint as a DOCKER_HOST value. */
export function describeDockerEndpoint(endpoint: DockerEndpoint): string {
  return endpoint.kind === 'unix' ? `unix://${endpoint.socketPath}` : `tcp://${endpoint.host}:${endpoint.port}`;
}
