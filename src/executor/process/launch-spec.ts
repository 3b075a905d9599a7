/**
 * What a sandboxed runner process is started with (pure; the process executor spawns it):
 *
 *   landlock  python3 launcher.py run, CONFIG in its environment: the launcher opens the slot's directories at fixed
 *             descriptors (the image links /mnt/data, /home/sandbox, /run/codecell/{in,out,artifacts}
 *             and /tmp to /proc/self/fd/3..8), sets rlimits, NO_NEW_PRIVS, Landlock and seccomp,
 *             then execs the runner.
 *   bwrap     bwrap [namespaces, the slot's directories bound at those paths] -- python3 launcher.py
 *             run: the same launcher inside the namespaces, for rlimits and seccomp.
 *   weak      the launcher with rlimits only (CODECELL_ALLOW_WEAK_SANDBOX).
 *
 * The runner's environment is built here from nothing: none of the server's variables pass.
 */
import path from 'node:path';
import type { Settings } from '../../config/settings.js';
import { SANDBOX_GID, SANDBOX_UID } from '../../sandbox-user.js';
import { limitsEnv } from '../docker/limits-env.js';
import { preloadFor, runtimeOf, type PoolKey } from '../pool-key.js';

export type SandboxLayer = 'bwrap' | 'landlock' | 'weak';

/** The directories of one slot on the host (slot.ts, plus the process executor's tmp and artifacts). */
export interface ProcessSlotDirs {
  readonly root: string;
  readonly dataDir: string;
  readonly homeDir: string;
  readonly inDir: string;
  readonly outDir: string;
  readonly artifactsDir: string;
  readonly tmpDir: string;
}

/** Fixed descriptor numbers of the slot's directories; the image's links point at them. */
export const SLOT_FDS = { data: 3, home: 4, in: 5, out: 6, artifacts: 7, tmp: 8 } as const;

/** Where the runtime lives: readable and executable, never writable. */
export const SYSTEM_READ_PATHS = [
  '/usr',
  '/lib',
  '/lib64',
  '/bin',
  '/sbin',
  '/etc',
  '/opt/codecell',
  '/mnt/node_modules',
  '/proc',
  '/sys/devices/system/cpu',
  '/sys/fs/cgroup',
  '/dev/urandom',
  '/dev/random',
] as const;

/** Device files a runtime writes to (discarding output, reading zeros). */
export const DEVICE_WRITE_PATHS = ['/dev/null', '/dev/zero', '/dev/full'] as const;

export interface LauncherConfig {
  readonly mode: SandboxLayer;
  readonly slotFds: Record<string, string>;
  readonly readable: readonly string[];
  readonly writable: readonly string[];
  readonly rlimits: Record<string, number>;
  readonly uid: number | null;
  readonly gid: number | null;
  /** The runner keeps the server's uid (a Space): chmod, chown and xattrs by path are refused. */
  readonly lockMetadata: boolean;
  readonly env: Record<string, string>;
  readonly cwd: string;
  readonly argv: readonly string[];
}

/** The launcher's variable holding its config (the slot's paths: never in a command line that /proc shows). */
export const LAUNCH_CONFIG_VARIABLE = 'CODECELL_LAUNCH_CONFIG';

export interface SpawnSpec {
  readonly command: string;
  readonly args: readonly string[];
  /** The launcher's own environment and its config (the runner's environment is in that config). */
  readonly env: Record<string, string>;
}

export interface LaunchContext {
  readonly settings: Settings;
  readonly layer: SandboxLayer;
  readonly pool: PoolKey;
  readonly slot: ProcessSlotDirs;
  /** The server runs as root: drop to the sandbox user first. */
  readonly runningAsRoot: boolean;
  /** Tasks (processes and threads) the sandbox user may have in all, across every live slot. */
  readonly maxTasks: number;
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const PYTHON = '/usr/bin/python3';

export function runnerPath(settings: Settings, pool: PoolKey): string {
  return path.join(settings.process.sandboxDir, runtimeOf(pool), 'runner');
}

export function launcherPath(settings: Settings): string {
  return path.join(settings.process.sandboxDir, 'sandbox', 'launcher.py');
}

/** The complete environment of a runner: the same variables as an execution container, and nothing else. */
export function runnerEnv(settings: Settings, pool: PoolKey, layer: SandboxLayer): Record<string, string> {
  const memoryMb = Math.floor(settings.limits.memoryBytes / (1024 * 1024));
  const env: Record<string, string> = {
    PATH,
    HOME: '/home/sandbox',
    LANG: 'C.UTF-8',
    TMPDIR: '/tmp',
    PYTHONUNBUFFERED: '1',
    PYTHONDONTWRITEBYTECODE: '1',
    MPLCONFIGDIR: '/tmp/matplotlib',
    MPLBACKEND: 'module://codecell_runner.mpl_backend',
    CODECELL_PRELOAD: preloadFor(pool).join(','),
    // V8 fails with a clear "heap out of memory" below the address-space limit instead of at a random allocation.
    NODE_OPTIONS: `--max-old-space-size=${Math.max(32, Math.floor(memoryMb * 0.75))}`,
  };
  for (const entry of limitsEnv(settings.limits)) {
    const at = entry.indexOf('=');
    env[entry.slice(0, at)] = entry.slice(at + 1);
  }
  // bubblewrap mounts the slot at the real paths; without mount namespaces they are the launcher's descriptors.
  if (layer !== 'bwrap') env.CODECELL_SLOT_FDS = Object.values(SLOT_FDS).join(',');
  return env;
}

/** Per-process limits (rlimits are per process; RLIMIT_NPROC counts the sandbox user's tasks). */
export function rlimitsFor(settings: Settings, maxTasks: number): Record<string, number> {
  const { limits } = settings;
  return {
    RLIMIT_DATA: limits.memoryBytes,
    RLIMIT_FSIZE: limits.sessionQuotaBytes,
    RLIMIT_NOFILE: 1024,
    RLIMIT_NPROC: maxTasks,
    RLIMIT_CORE: 0,
    // CPU seconds of one process: a run is killed at its timeout anyway; this stops a runner the host lost track of.
    RLIMIT_CPU: Math.ceil(limits.timeoutMs / 1000) * 4 + 60,
  };
}

export function launcherConfig(context: LaunchContext): LauncherConfig {
  const { settings, layer, pool, slot } = context;
  const inBwrap = layer === 'bwrap';
  const slotFds: Record<string, string> = inBwrap
    ? {}
    : {
        [SLOT_FDS.data]: slot.dataDir,
        [SLOT_FDS.home]: slot.homeDir,
        [SLOT_FDS.in]: slot.inDir,
        [SLOT_FDS.out]: slot.outDir,
        [SLOT_FDS.artifacts]: slot.artifactsDir,
        [SLOT_FDS.tmp]: slot.tmpDir,
      };
  return {
    mode: layer,
    slotFds,
    readable: [...SYSTEM_READ_PATHS, settings.process.sandboxDir, slot.inDir],
    writable: [slot.dataDir, slot.homeDir, slot.outDir, slot.artifactsDir, slot.tmpDir, ...DEVICE_WRITE_PATHS],
    rlimits: rlimitsFor(settings, context.maxTasks),
    uid: context.runningAsRoot ? SANDBOX_UID : null,
    gid: context.runningAsRoot ? SANDBOX_GID : null,
    // Landlock does not govern metadata: with the server's uid, a chmod by path would reach its data dir.
    lockMetadata: !context.runningAsRoot,
    env: runnerEnv(settings, pool, layer),
    cwd: inBwrap ? '/mnt/data' : slot.dataDir,
    argv: [runnerPath(settings, pool)],
  };
}

/** bubblewrap's arguments: new namespaces, the system read-only, the slot at the container paths, no network. */
export function bwrapArgs(slot: ProcessSlotDirs, readPaths: readonly string[]): string[] {
  const args = ['--unshare-all', '--die-with-parent', '--cap-drop', 'ALL', '--hostname', 'sandbox', '--proc', '/proc', '--dev', '/dev'];
  for (const system of readPaths) {
    // /proc and /dev are bubblewrap's own; the slot is bound below at the container paths.
    if (system === '/proc' || system.startsWith('/dev/') || system.startsWith(`${slot.root}/`)) continue;
    args.push('--ro-bind-try', system, system);
  }
  args.push(
    '--tmpfs', '/run',
    '--bind', slot.dataDir, '/mnt/data',
    '--bind', slot.homeDir, '/home/sandbox',
    '--ro-bind', slot.inDir, '/run/codecell/in',
    '--bind', slot.outDir, '/run/codecell/out',
    '--bind', slot.artifactsDir, '/run/codecell/artifacts',
    '--bind', slot.tmpDir, '/tmp',
    '--chdir', '/mnt/data',
  );
  return args;
}

export function spawnSpec(context: LaunchContext): SpawnSpec {
  const config = launcherConfig(context);
  const launch = [PYTHON, '-I', '-S', launcherPath(context.settings), 'run'];
  // In the environment, not argv: every run can read any process's command line, but not its environment (ptrace-class).
  const env = { PATH, LANG: 'C.UTF-8', [LAUNCH_CONFIG_VARIABLE]: JSON.stringify(config) };
  if (context.layer === 'bwrap') {
    return { command: 'bwrap', args: [...bwrapArgs(context.slot, config.readable), '--', ...launch], env };
  }
  return { command: launch[0] ?? PYTHON, args: launch.slice(1), env };
}
