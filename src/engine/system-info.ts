/**
 * get_system_info's data, read from the images themselves: each image is asked once (per image id)
 * which language version and package versions it holds, in a sealed container like any other.
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { Settings } from '../config/settings.js';
import type { DockerExecutor } from '../executor/docker/docker-executor.js';
import { probeContainerSpec } from '../executor/docker/container-spec.js';
import { z } from 'zod';
import { imageFor, ONE_SHOT_POOL_KEYS, oneShotPoolFor, type OneShotPoolKey } from '../executor/docker/pool-key.js';
import { LANGUAGES, ONE_SHOT_LANGUAGES, type OneShotLanguageInfo, type RuntimeInfo, type SystemInfo } from './types.js';

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

/** The one-shot images write their toolchain's versions at build time (their Dockerfiles under images/). */
const ONE_SHOT_PROBE = ['/bin/cat', '/opt/codecell/versions.json'];
const VersionsSchema = z.record(z.string().max(100), z.string().max(200));

const PROBES: Record<RuntimeInfo['runtime'], string[]> = {
  python: ['/usr/bin/python3', '-c', PYTHON_PROBE],
  node: ['/usr/bin/node', '-e', NODE_PROBE],
  bash: ['/bin/bash', '-c', BASH_PROBE],
};

/** The limits a run gets, as get_system_info reports them (whole MiB, seconds). */
export function limitsInfo(settings: Settings): SystemInfo['limits'] {
  const { limits, sessions } = settings;
  return {
    timeoutSeconds: limits.timeoutMs / 1000,
    maxOutputChars: limits.maxOutputChars,
    memoryMb: Math.round(limits.memoryBytes / 1024 / 1024),
    cpus: limits.nanoCpus / 1e9,
    pidsLimit: limits.pidsLimit,
    maxFileMb: Math.round(limits.maxFileBytes / 1024 / 1024),
    sessionQuotaMb: Math.round(limits.sessionQuotaBytes / 1024 / 1024),
    maxImagesPerRun: limits.maxImagesPerRun,
    sessionTtlSeconds: sessions.ttlMs / 1000,
    maxSessions: sessions.maxSessions,
  };
}

export class SystemInfoProbe {
  private readonly cache = new Map<string, RuntimeInfo>();

  constructor(
    private readonly settings: Settings,
    private readonly executor: DockerExecutor,
    private readonly version: string,
  ) {}

  async get(): Promise<SystemInfo> {
    const { docker } = this.settings;
    const runtimes = await Promise.all(
      (['python', 'node', 'bash'] as const).map((runtime) => this.runtimeInfo(runtime)),
    );
    return {
      codecellVersion: this.version,
      executor: {
        kind: 'docker',
        engineVersion: await this.executor.engineVersion(),
        containerRuntime: docker.runtime === 'runsc' ? 'runsc (gVisor)' : 'runc',
      },
      languages: [...LANGUAGES],
      runtimes,
      oneShotLanguages: await this.oneShotLanguages(),
      limits: limitsInfo(this.settings),
      network: 'none',
      workingDirectory: '/mnt/data',
    };
  }

  /** Each one-shot language: its image, whether that is installed, and then its version. */
  private async oneShotLanguages(): Promise<OneShotLanguageInfo[]> {
    const versionsByPool = new Map(
      await Promise.all(ONE_SHOT_POOL_KEYS.map(async (pool) => [pool, await this.oneShotVersions(pool)] as const)),
    );
    return ONE_SHOT_LANGUAGES.map((language) => {
      const pool = oneShotPoolFor(language);
      const versions = versionsByPool.get(pool) ?? null;
      return {
        language,
        image: imageFor(this.settings, pool),
        installed: versions !== null,
        version: versions?.[language] ?? null,
      };
    });
  }

  /** The versions a one-shot image recorded when it was built (/opt/codecell/versions.json); null: not installed. */
  private async oneShotVersions(pool: OneShotPoolKey): Promise<Readonly<Record<string, string>> | null> {
    if (!(await this.executor.imageInstalled(pool))) return null;
    const image = imageFor(this.settings, pool);
    const docker = this.executor.docker;
    const imageId = (await docker.getImage(image).inspect()).Id;
    const cached = this.oneShotCache.get(imageId);
    if (cached) return cached;
    const output = await runProbe(docker, this.settings, image, ONE_SHOT_PROBE, this.executor.instanceId);
    const versions = VersionsSchema.parse(JSON.parse(output));
    this.oneShotCache.set(imageId, versions);
    return versions;
  }

  private readonly oneShotCache = new Map<string, Readonly<Record<string, string>>>();

  private async runtimeInfo(runtime: RuntimeInfo['runtime']): Promise<RuntimeInfo> {
    const image = `${this.settings.docker.imagePrefix}-${runtime}:latest`;
    const docker = this.executor.docker;
    const imageId = (await docker.getImage(image).inspect()).Id;
    const cached = this.cache.get(imageId);
    if (cached) return cached;
    const output = await runProbe(docker, this.settings, image, PROBES[runtime], this.executor.instanceId);
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
