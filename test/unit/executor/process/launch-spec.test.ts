/**
 * What a sandboxed runner is started with (executor/process/launch-spec.ts): the launcher's config,
 * bubblewrap's arguments, and an environment with nothing of the server's.
 */
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../../src/config/settings.js';
import {
  bwrapArgs,
  launcherConfig,
  runnerEnv,
  SLOT_FDS,
  spawnSpec,
  type ProcessSlotDirs,
} from '../../../../src/executor/process/launch-spec.js';

const settings = loadSettings({}, { CODECELL_DATA_DIR: '/data/cc', CODECELL_MEMORY_MB: '512', CODECELL_SESSION_QUOTA_MB: '100', EXECUTION_TIMEOUT: '30' });
const slot: ProcessSlotDirs = {
  root: '/data/cc/slots/s1',
  dataDir: '/data/cc/slots/s1/data',
  homeDir: '/data/cc/slots/s1/home',
  inDir: '/data/cc/slots/s1/in',
  outDir: '/data/cc/slots/s1/out',
  artifactsDir: '/data/cc/slots/s1/artifacts',
  tmpDir: '/data/cc/slots/s1/tmp',
};

describe('runner environment', () => {
  it('holds only the sandbox variables, none of the server process environment', () => {
    process.env.CODECELL_TEST_SERVER_SECRET = 'server-secret';
    try {
      const env = runnerEnv(settings, 'python', 'landlock');
      expect(Object.values(env)).not.toContain('server-secret');
      expect(Object.keys(env).sort()).toEqual(
        [
          'PATH', 'HOME', 'LANG', 'TMPDIR', 'PYTHONUNBUFFERED', 'PYTHONDONTWRITEBYTECODE', 'MPLCONFIGDIR', 'MPLBACKEND',
          'CODECELL_PRELOAD', 'NODE_OPTIONS', 'CODECELL_SLOT_FDS', 'CODECELL_CPUS', 'CODECELL_CPU_COUNT', 'CODECELL_MEMORY_LIMIT_MB',
          'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'VECLIB_MAXIMUM_THREADS', 'BLIS_NUM_THREADS',
          'NUMEXPR_NUM_THREADS', 'NUMEXPR_MAX_THREADS', 'RAYON_NUM_THREADS', 'POLARS_MAX_THREADS', 'LOKY_MAX_CPU_COUNT',
        ].sort(),
      );
      expect(env.HOME).toBe('/home/sandbox');
      expect(env.CODECELL_PRELOAD).toBe('numpy,pandas,matplotlib.pyplot');
      expect(env.CODECELL_SLOT_FDS).toBe('3,4,5,6,7,8');
      expect(env.NODE_OPTIONS).toBe('--max-old-space-size=384');
    } finally {
      delete process.env.CODECELL_TEST_SERVER_SECRET;
    }
  });

  it('needs no slot descriptors under bubblewrap, whose mounts put the slot at the real paths', () => {
    expect(runnerEnv(settings, 'bash', 'bwrap').CODECELL_SLOT_FDS).toBeUndefined();
    expect(runnerEnv(settings, 'python-lean', 'bwrap').CODECELL_PRELOAD).toBe('');
  });
});

describe('launcher config', () => {
  it('opens the slot at the descriptors the image links to, and makes only the slot writable', () => {
    const config = launcherConfig({ settings, layer: 'landlock', pool: 'node', slot, runningAsRoot: false, maxTasks: 500 });
    expect(config.slotFds).toEqual({
      [SLOT_FDS.data]: slot.dataDir,
      [SLOT_FDS.home]: slot.homeDir,
      [SLOT_FDS.in]: slot.inDir,
      [SLOT_FDS.out]: slot.outDir,
      [SLOT_FDS.artifacts]: slot.artifactsDir,
      [SLOT_FDS.tmp]: slot.tmpDir,
    });
    expect(config.writable).toEqual([slot.dataDir, slot.homeDir, slot.outDir, slot.artifactsDir, slot.tmpDir, '/dev/null', '/dev/zero', '/dev/full']);
    expect(config.readable).toContain(slot.inDir);
    expect(config.readable.filter((entry) => entry.startsWith('/data'))).toEqual([slot.inDir]);
    expect(config.argv).toEqual(['/opt/codecell/node/runner']);
    expect(config.cwd).toBe(slot.dataDir);
    expect(config.uid).toBeNull();
    expect(config.lockMetadata).toBe(true); // the runner keeps the server's uid, which owns its data dir
  });

  it('sets the rlimits from the settings, and drops to the sandbox user when the server is root', () => {
    const config = launcherConfig({ settings, layer: 'landlock', pool: 'python', slot, runningAsRoot: true, maxTasks: 777 });
    expect(config.rlimits).toEqual({
      RLIMIT_DATA: 512 * 1024 * 1024,
      RLIMIT_FSIZE: 100 * 1024 * 1024,
      RLIMIT_NOFILE: 1024,
      RLIMIT_NPROC: 777,
      RLIMIT_CORE: 0,
      RLIMIT_CPU: 180,
    });
    expect([config.uid, config.gid]).toEqual([10001, 10001]);
    expect(config.lockMetadata).toBe(false);
  });
});

describe('spawn', () => {
  it('starts the launcher directly without namespaces, its own environment holding only PATH, LANG and its config', () => {
    const spec = spawnSpec({ settings, layer: 'landlock', pool: 'bash', slot, runningAsRoot: false, maxTasks: 100 });
    expect(spec.command).toBe('/usr/bin/python3');
    expect(spec.args).toEqual(['-I', '-S', '/opt/codecell/sandbox/launcher.py', 'run']);
    // The config (the slot's paths) in the environment: a command line is readable by every run through /proc.
    expect(JSON.parse(spec.env.CODECELL_LAUNCH_CONFIG ?? '{}').mode).toBe('landlock');
    expect(Object.keys(spec.env).sort()).toEqual(['CODECELL_LAUNCH_CONFIG', 'LANG', 'PATH']);
  });

  it('wraps the launcher in bubblewrap with new namespaces and the slot bound at the container paths', () => {
    const spec = spawnSpec({ settings, layer: 'bwrap', pool: 'bash', slot, runningAsRoot: false, maxTasks: 100 });
    expect(spec.command).toBe('bwrap');
    const separator = spec.args.indexOf('--');
    expect(spec.args.slice(separator + 1, separator + 6)).toEqual(['/usr/bin/python3', '-I', '-S', '/opt/codecell/sandbox/launcher.py', 'run']);
    const args = spec.args.slice(0, separator);
    expect(args.slice(0, 2)).toEqual(['--unshare-all', '--die-with-parent']);
    const pairs = (flag: string) => args.flatMap((arg, index) => (arg === flag ? [`${args[index + 1]} ${args[index + 2]}`] : []));
    expect(pairs('--bind')).toEqual([
      `${slot.dataDir} /mnt/data`,
      `${slot.homeDir} /home/sandbox`,
      `${slot.outDir} /run/codecell/out`,
      `${slot.artifactsDir} /run/codecell/artifacts`,
      `${slot.tmpDir} /tmp`,
    ]);
    expect(pairs('--ro-bind')).toEqual([`${slot.inDir} /run/codecell/in`]);
    expect(pairs('--ro-bind-try')).toContain('/usr /usr');
    expect(pairs('--ro-bind-try').some((pair) => pair.startsWith('/data'))).toBe(false);
    expect(args).not.toContain('--share-net');
  });

  it('binds nothing of the data dir but the slot under bubblewrap', () => {
    const args = bwrapArgs(slot, ['/usr', '/etc', '/proc', '/dev/null', slot.inDir]);
    const sources = args.flatMap((arg, index) => (arg.startsWith('--') && arg.includes('bind') ? [args[index + 1]] : []));
    expect(sources.filter((source) => source?.startsWith('/data'))).toEqual([slot.dataDir, slot.homeDir, slot.inDir, slot.outDir, slot.artifactsDir, slot.tmpDir]);
    expect(sources).not.toContain('/proc');
    expect(sources).not.toContain('/dev/null');
  });
});
