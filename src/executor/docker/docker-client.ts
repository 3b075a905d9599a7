/** The one place a dockerode client is made: for the configured endpoint (DOCKER_HOST or DOCKER_SOCKET). */
import Docker from 'dockerode';
import type { DockerEndpoint } from '../../config/docker-endpoint.js';

export function dockerClient(endpoint: DockerEndpoint, options: { readonly timeoutMs?: number } = {}): Docker {
  const timeout = options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs };
  if (endpoint.kind === 'unix') return new Docker({ socketPath: endpoint.socketPath, ...timeout });
  return new Docker({ protocol: 'http', host: endpoint.host, port: endpoint.port, ...timeout });
}
