/**
 * get_system_info for the process executor: each runtime's language and package versions, asked of
 * the runtimes on this machine with the container executor's probe commands (fixed code of ours,
 * run once, with an environment of nothing but PATH and LANG).
 */
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Settings } from '../../config/settings.js';
import type { RuntimeInfo } from '../../domain/types.js';
import { PROBES } from '../docker/runtime-probe.js';

const run = promisify(execFile);
const PROBE_TIMEOUT_MS = 30_000;

export function probeRuntimes(settings: Settings): Promise<RuntimeInfo[]> {
  return Promise.all((['python', 'node', 'bash'] as const).map((runtime) => probeRuntime(settings, runtime)));
}

async function probeRuntime(settings: Settings, runtime: RuntimeInfo['runtime']): Promise<RuntimeInfo> {
  const [command = '', ...args] = PROBES[runtime];
  // The node image keeps its package list at /opt/codecell; here it is in the sandbox dir or its node/ folder.
  const packageList = await firstExisting([
    path.join(settings.process.sandboxDir, 'npm-packages.json'),
    path.join(settings.process.sandboxDir, 'node', 'npm-packages.json'),
  ]);
  const located = args.map((arg) => (packageList ? arg.replaceAll('/opt/codecell/npm-packages.json', packageList) : arg));
  const where = path.join(settings.process.sandboxDir, runtime);
  try {
    const { stdout } = await run(command, located, {
      timeout: PROBE_TIMEOUT_MS,
      maxBuffer: 8 * 1024 * 1024,
      cwd: '/',
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/nonexistent' },
    });
    const parsed = JSON.parse(stdout) as { version: string; packages: Record<string, string> };
    return { runtime, image: where, languageVersion: parsed.version, packages: parsed.packages };
  } catch {
    return { runtime, image: where, languageVersion: 'unknown', packages: {} };
  }
}

async function firstExisting(candidates: readonly string[]): Promise<string | null> {
  for (const candidate of candidates) if (await access(candidate).then(() => true, () => false)) return candidate;
  return null;
}
