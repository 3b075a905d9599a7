/**
 * Each runtime's language and package versions, read from the images themselves: each image is asked
 * once (per image id) in a sealed container like any other (container-spec.ts probeContainerSpec).
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { Settings } from '../../config/settings.js';
import type { RuntimeInfo } from '../../domain/types.js';
import { probeContainerSpec } from './container-spec.js';

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

const PROBES: Record<RuntimeInfo['runtime'], string[]> = {
  python: ['/usr/bin/python3', '-c', PYTHON_PROBE],
  node: ['/usr/bin/node', '-e', NODE_PROBE],
  bash: ['/bin/bash', '-c', BASH_PROBE],
};

export class RuntimeProbe {
  private readonly cache = new Map<string, RuntimeInfo>();

  constructor(
    private readonly docker: Docker,
    private readonly settings: Settings,
    private readonly instanceId: string,
  ) {}

  all(): Promise<RuntimeInfo[]> {
    return Promise.all((['python', 'node', 'bash'] as const).map((runtime) => this.runtimeInfo(runtime)));
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
