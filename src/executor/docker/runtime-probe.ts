/**
 * Each runtime's language and package versions, read from the images themselves: each image is asked
 * once (per image id) in a sealed container like any other (container-spec.ts probeContainerSpec).
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { Settings } from '../../config/settings.js';
import { z } from 'zod';
import { ONE_SHOT_LANGUAGES, type OneShotLanguageInfo, type RuntimeInfo } from '../../domain/types.js';
import { ONE_SHOT_POOL_KEYS, oneShotPoolFor, type OneShotPoolKey, type PoolKey } from '../pool-key.js';
import { imageFor, probeContainerSpec } from './container-spec.js';
import { isNotFound } from './docker-errors.js';

/** Every installed distribution (Debian's and any admin wheels), by its canonical lowercase name. */
const PYTHON_PROBE = `
import json, sys, importlib.metadata as md
found = {}
for dist in md.distributions():
    name = (dist.metadata["Name"] or "").strip()
    if name: found[name.lower().replace("_", "-")] = dist.version
# Debian builds some without a real version in their metadata (xarray 999, mpmath 0.0.0), and
# python3-opencv with none at all: the module's own __version__ is the true one.
for name, module in [*((n, n) for n, v in found.items() if v in ("0.0.0", "999")), ("opencv", "cv2")]:
    try: found[name] = str(__import__(module).__version__)
    except Exception: pass
print(json.dumps({"version": sys.version.split()[0], "packages": dict(sorted(found.items()))}))
`;

/** The npm packages baked into the image (images/node/Dockerfile), at the versions installed. */
const NODE_PROBE = `
const fs = require('fs');
const wanted = Object.keys(JSON.parse(fs.readFileSync('/opt/codecell/npm-packages.json', 'utf8')).dependencies || {});
const packages = {};
for (const name of wanted.sort()) {
  try { packages[name] = JSON.parse(fs.readFileSync('/mnt/node_modules/' + name + '/package.json', 'utf8')).version; } catch {}
}
console.log(JSON.stringify({ version: process.versions.node, packages }));
`;

const BASH_PROBE = `
v() { "$@" 2>/dev/null | head -n1 | grep -oE '[0-9]+(\\.[0-9]+)+' | head -n1; }
jq -n --arg bash "$BASH_VERSION" --arg jq "$(v jq --version)" --arg git "$(v git --version)" \\
  --arg curl "$(v curl --version)" --arg bc "$(v bc --version)" --arg sed "$(v sed --version)" \\
  --arg awk "$(v awk --version)" --arg grep "$(v grep --version)" --arg coreutils "$(v ls --version)" \\
  --arg python3 "$(v python3 --version)" --arg node "$(v node --version)" --arg sqlite3 "$(v sqlite3 --version)" \\
  '{version: $bash, packages: ({jq: $jq, git: $git, curl: $curl, bc: $bc, sed: $sed, awk: $awk, grep: $grep,
    coreutils: $coreutils, python3: $python3, node: $node, sqlite3: $sqlite3} | with_entries(select(.value != "")))}'
`;

export const PROBES: Record<RuntimeInfo['runtime'], string[]> = {
  python: ['/usr/bin/python3', '-c', PYTHON_PROBE],
  node: ['/usr/bin/node', '-e', NODE_PROBE],
  bash: ['/bin/bash', '-c', BASH_PROBE],
};

/** The one-shot images write their toolchain's versions at build time (see their Dockerfiles under images/). */
const ONE_SHOT_PROBE = ['/bin/cat', '/opt/codecell/versions.json'];
const VersionsSchema = z.record(z.string().max(100), z.string().max(200));

export class RuntimeProbe {
  private readonly cache = new Map<string, RuntimeInfo>();
  private readonly oneShotCache = new Map<string, Readonly<Record<string, string>>>();
  private readonly installedImages = new Set<string>();

  constructor(
    private readonly docker: Docker,
    private readonly settings: Settings,
    private readonly instanceId: string,
  ) {}

  all(): Promise<RuntimeInfo[]> {
    return Promise.all((['python', 'node', 'bash'] as const).map((runtime) => this.runtimeInfo(runtime)));
  }

  /**
   * Whether the pool's image is on this Docker engine. A yes is remembered (images are not taken
   * away under a running server; if one is, the run fails as RUNTIME_UNAVAILABLE); a no is asked
   * again next time, so an image built meanwhile is used at once.
   */
  async installed(pool: PoolKey): Promise<boolean> {
    const image = imageFor(this.settings, pool);
    if (this.installedImages.has(image)) return true;
    try {
      await this.docker.getImage(image).inspect();
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
    this.installedImages.add(image);
    return true;
  }

  /** Each one-shot language: its image, whether that is installed, and then its version. */
  async oneShotLanguages(): Promise<OneShotLanguageInfo[]> {
    const versionsByPool = new Map(
      await Promise.all(ONE_SHOT_POOL_KEYS.map(async (pool) => [pool, await this.oneShotVersions(pool)] as const)),
    );
    return ONE_SHOT_LANGUAGES.map((language) => {
      const pool = oneShotPoolFor(language);
      const versions = versionsByPool.get(pool) ?? null;
      return { language, image: imageFor(this.settings, pool), installed: versions !== null, version: versions?.[language] ?? null };
    });
  }

  /** The versions a one-shot image recorded when it was built; null: not installed. */
  private async oneShotVersions(pool: OneShotPoolKey): Promise<Readonly<Record<string, string>> | null> {
    if (!(await this.installed(pool))) return null;
    const image = imageFor(this.settings, pool);
    const imageId = (await this.docker.getImage(image).inspect()).Id;
    const cached = this.oneShotCache.get(imageId);
    if (cached) return cached;
    const output = await runProbe(this.docker, this.settings, image, ONE_SHOT_PROBE, this.instanceId);
    const versions = VersionsSchema.parse(JSON.parse(output));
    this.oneShotCache.set(imageId, versions);
    return versions;
  }

  private async runtimeInfo(runtime: RuntimeInfo['runtime']): Promise<RuntimeInfo> {
    const image = `${this.settings.docker.imagePrefix}-${runtime}:latest`;
    const imageId = (await this.docker.getImage(image).inspect()).Id;
    const cached = this.cache.get(imageId);
    if (cached) return cached;
    const output = await runProbe(this.docker, this.settings, image, PROBES[runtime], this.instanceId);
    const parsed = JSON.parse(output) as { version: string; packages: Record<string, string> };
    const info: RuntimeInfo = { runtime, image, languageVersion: parsed.version, packages: parsed.packages };
    this.cache.set(imageId, info);
    return info;
  }
}

async function runProbe(docker: Docker, settings: Settings, image: string, command: string[], instanceId: string): Promise<string> {
  const container = await docker.createContainer(probeContainerSpec(settings, instanceId, image, command));
  try {
    const stream = await container.attach({ stream: true, stdout: true, stderr: true });
    const stdout = new PassThrough();
    const chunks: Buffer[] = [];
    stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    docker.modem.demuxStream(stream, stdout, new PassThrough());
    await container.start();
    await container.wait();
    await new Promise((resolve) => setImmediate(resolve));
    return Buffer.concat(chunks).toString('utf8');
  } finally {
    await container.remove({ force: true }).catch(() => undefined);
  }
}
