/**
 * Images with Node 20 for local builds: node:20-bookworm-slim when the engine has it; a machine that
 * cannot pull from Docker Hub gets a local stand-in once (as scripts/build-images.sh does for Debian):
 * the execution images' Debian base plus this machine's own Node.js, npm and CA bundle.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const UPSTREAM_NODE = 'node:20-bookworm-slim';
const LOCAL_NODE = 'codecell-node20:bookworm';
const DEBIAN_BASES = ['debian:bookworm-slim', 'codecell-base:bookworm'];
const CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

export async function imageExists(name: string): Promise<boolean> {
  try {
    await run('docker', ['image', 'inspect', name]);
    return true;
  } catch {
    return false;
  }
}

/** `docker build --network host`: the engine may have no bridge network (see scripts/build-images.sh). */
export async function dockerBuild(context: string, tag: string, buildArgs: Record<string, string>): Promise<void> {
  const args = ['build', '--network', 'host', '--force-rm', '--tag', tag];
  for (const [name, value] of Object.entries(buildArgs)) args.push('--build-arg', `${name}=${value}`);
  try {
    await run('docker', [...args, context], { maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    const output = error as { stdout?: string; stderr?: string };
    throw new Error(`building ${tag} failed:\n${(output.stdout ?? '').slice(-4000)}\n${(output.stderr ?? '').slice(-4000)}`);
  }
}

/** An image with Node 20 at /usr/local/bin/node: upstream when the engine has it, else a local stand-in built once. */
export async function nodeImage(): Promise<string> {
  if (await imageExists(UPSTREAM_NODE)) return UPSTREAM_NODE;
  if (await imageExists(LOCAL_NODE)) return LOCAL_NODE;
  let base: string | undefined;
  for (const candidate of DEBIAN_BASES) if (base === undefined && (await imageExists(candidate))) base = candidate;
  if (base === undefined) throw new Error(`no Debian base image: run npm run images first (it makes ${DEBIAN_BASES.at(-1)})`);
  const context = await mkdtemp(path.join(os.tmpdir(), 'codecell-node20-'));
  try {
    await cp(process.execPath, path.join(context, 'node'));
    await cp(path.resolve(path.dirname(process.execPath), '../lib/node_modules/npm'), path.join(context, 'npm'), { recursive: true });
    // The registry may be reached through this machine's TLS setup: trust what this machine trusts.
    if (existsSync(CA_BUNDLE)) await cp(CA_BUNDLE, path.join(context, 'ca-certificates.crt'));
    else await writeFile(path.join(context, 'ca-certificates.crt'), '');
    await writeFile(
      path.join(context, 'Dockerfile'),
      [
        'ARG BASE_IMAGE',
        'FROM ${BASE_IMAGE}',
        'RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libstdc++6 && rm -rf /var/lib/apt/lists/*',
        'COPY ca-certificates.crt /usr/local/share/ca-certificates/host.crt',
        'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/host.crt',
        'COPY node /usr/local/bin/node',
        'COPY npm /usr/local/lib/node_modules/npm',
        'RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\',
        ' && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\',
        ' && node --version && npm --version',
        '',
      ].join('\n'),
    );
    await dockerBuild(context, LOCAL_NODE, { BASE_IMAGE: base });
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  return LOCAL_NODE;
}
