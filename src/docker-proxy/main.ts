#!/usr/bin/env node
/**
 * Entry point of Codecell's Docker socket proxy (proxy-server.ts), run as its own process or
 * container beside the server (docker-compose.yml, service docker-proxy). Settings, from the environment:
 *   CODECELL_PROXY_LISTEN   where to listen: tcp://host:port or unix:///path (default tcp://0.0.0.0:2375)
 *   DOCKER_HOST             the engine (default unix:///var/run/docker.sock; DOCKER_SOCKET as a path also works)
 *   CODECELL_DATA_DIR       the server's data dir: the only host paths a container may bind (required)
 *   CODECELL_IMAGE_PREFIX   the execution images' prefix (default codecell)
 *   CODECELL_RUNTIME        the server's runtime, the only one a container may get: runc (default) or runsc
 */
import { chmod, rm } from 'node:fs/promises';
import { z } from 'zod';
import { DEFAULT_DOCKER_SOCKET, describeDockerEndpoint, dockerEndpoint, parseDockerHost } from '../config/docker-endpoint.js';
import { createProxyServer } from './proxy-server.js';

const dockerHost = z.string().refine((value) => {
  try {
    parseDockerHost(value);
    return true;
  } catch {
    return false;
  }
}, 'unix:///path or tcp://host:port');

const EnvSchema = z.object({
  CODECELL_PROXY_LISTEN: dockerHost.default('tcp://0.0.0.0:2375'),
  DOCKER_HOST: z.string().default(''),
  DOCKER_SOCKET: z.string().min(1).default(DEFAULT_DOCKER_SOCKET),
  CODECELL_DATA_DIR: z.string().regex(/^\/.+/, 'an absolute path other than /'),
  CODECELL_IMAGE_PREFIX: z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/).default('codecell'),
  CODECELL_RUNTIME: z.enum(['runc', 'runsc']).default('runc'),
});

function log(fields: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), service: 'docker-proxy', ...fields })}\n`);
}

async function main(): Promise<void> {
  const parsed = EnvSchema.safeParse(process.env);
  if (!parsed.success) {
    process.stderr.write(`docker-proxy: bad settings: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}\n`);
    process.exit(2);
  }
  const env = parsed.data;
  const upstream = dockerEndpoint(env.DOCKER_HOST, env.DOCKER_SOCKET);
  const listen = parseDockerHost(env.CODECELL_PROXY_LISTEN);
  const server = createProxyServer({
    upstream,
    policy: { dataDir: env.CODECELL_DATA_DIR.replace(/\/+$/, ''), imagePrefix: env.CODECELL_IMAGE_PREFIX, runtime: env.CODECELL_RUNTIME },
    onRefused: (method, path, reason) => log({ level: 'warn', msg: 'refused', method, path: path.slice(0, 200), reason }),
  });
  if (listen.kind === 'unix') await rm(listen.socketPath, { force: true });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    if (listen.kind === 'unix') server.listen(listen.socketPath, resolve);
    else server.listen(listen.port, listen.host, resolve);
  });
  // A unix socket for a server running under another uid: the directory holding it is the access control.
  if (listen.kind === 'unix') await chmod(listen.socketPath, 0o666);
  log({ level: 'info', msg: 'docker proxy listening', listen: env.CODECELL_PROXY_LISTEN, upstream: describeDockerEndpoint(upstream), runtime: env.CODECELL_RUNTIME });
  const stop = (): void => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

await main();
