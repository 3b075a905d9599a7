/**
 * The hardening of every execution container, checked twice: from outside (what Docker says about
 * the containers the real server made, warm and running) and from inside (what a program in the
 * sandbox sees). Plus the server's own exposure: its environment never reaches a container, and the
 * container config only takes validated settings.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { ContainerInspectInfo } from 'dockerode';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { containerSpec, type SeccompProfile } from '../../src/executor/docker/container-spec.js';
import { TEST_KEY } from '../interfaces/helpers/test-server.js';
import { containersOf, eventually } from './helpers/docker.js';
import { Harness, LIMITS, random, RUNTIME } from './helpers/harness.js';

const MB = 1024 * 1024;
const SERVER_SECRET = random('server-env-secret');
const SIGNING_KEY = random('signing-key-that-is-long-enough');
const ALLOWED_ENV = [
  'HOME', 'LANG', 'PYTHONUNBUFFERED', 'PYTHONDONTWRITEBYTECODE', 'CODECELL_PRELOAD',
  // the limits, for code inside (src/executor/docker/limits-env.ts)
  'CODECELL_CPUS', 'CODECELL_CPU_COUNT', 'CODECELL_MEMORY_LIMIT_MB', 'OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS',
  'VECLIB_MAXIMUM_THREADS', 'BLIS_NUM_THREADS', 'NUMEXPR_NUM_THREADS', 'NUMEXPR_MAX_THREADS', 'RAYON_NUM_THREADS', 'POLARS_MAX_THREADS',
  'LOKY_MAX_CPU_COUNT',
];

let h: Harness;

beforeAll(async () => {
  // Secrets in the server's own environment, as an operator would have them.
  process.env.CODECELL_SECURITY_CANARY = SERVER_SECRET;
  process.env.OPENAI_API_KEY = SERVER_SECRET;
  h = await Harness.start({ env: { CODECELL_SIGNING_KEY: SIGNING_KEY }, pools: { pythonLean: 1, node: 1, bash: 1 } });
});

afterAll(async () => {
  delete process.env.CODECELL_SECURITY_CANARY;
  delete process.env.OPENAI_API_KEY;
  await h?.close();
});

/**
 * Every container of the server while one of them runs a job (so a used one is among the warm
 * ones): the running one is recognised by the file its job wrote into its slot. The job says when
 * its file is there and runs on until the containers have been seen; then the test cancels it.
 */
async function inspectWhileRunning(): Promise<{ all: ContainerInspectInfo[]; used: ContainerInspectInfo }> {
  const session = await h.newSession();
  const marker = random('used');
  const job = h.start('bash', `echo ${marker} > /mnt/data/marker; echo marked; while :; do sleep 0.1; done`, {
    session,
    timeout: h.budget(5 * LIMITS.timeoutSeconds),
  });
  const usedBy = (containers: ContainerInspectInfo[]) =>
    containers.find((info) => {
      const data = info.Mounts.find((mount) => mount.Destination === '/mnt/data')?.Source;
      return data !== undefined && existsSync(path.join(data, 'marker')) && readFileSync(path.join(data, 'marker'), 'utf8').includes(marker);
    });
  try {
    await job.printed('marked');
    const all = await eventually(
      () => containersOf(h.server),
      (containers) => usedBy(containers) !== undefined && containers.length >= 2,
      h.budget(10) * 10,
    );
    expect(job.ended, 'the job was still running while its container was inspected').toBe(false);
    const used = usedBy(all);
    if (!used) throw new Error('the container running the job was not seen');
    return { all, used };
  } finally {
    await job.cancel();
  }
}

let seen: { all: ContainerInspectInfo[]; used: ContainerInspectInfo };

describe('every execution container, as Docker reports it', () => {
  beforeAll(async () => {
    seen = await inspectWhileRunning();
    // The used container and at least one warm one.
    expect(seen.all.length).toBeGreaterThanOrEqual(2);
  });

  it('has no network, a read-only root, no capabilities, no new privileges, a non-root user and an init', async () => {
    const { all } = seen;
    for (const info of all) {
      const host = info.HostConfig;
      expect(host.NetworkMode).toBe('none');
      // Attached to no network at all (or only to "none"), with no address and no published port.
      expect(Object.keys(info.NetworkSettings.Networks ?? {}).filter((name) => name !== 'none')).toEqual([]);
      expect((info.NetworkSettings as { IPAddress?: string }).IPAddress ?? '').toBe('');
      expect(info.NetworkSettings.Ports ?? {}).toEqual({});
      expect(info.Config.ExposedPorts ?? {}).toEqual({});
      expect(host.ReadonlyRootfs).toBe(true);
      expect(host.Privileged).toBe(false);
      expect(host.CapDrop).toEqual(['ALL']);
      expect(host.CapAdd ?? []).toEqual([]);
      expect(host.SecurityOpt).toContain('no-new-privileges:true');
      expect(info.Config.User).toBe('10001:10001');
      expect((host as { Init?: boolean }).Init).toBe(true);
      expect(host.Devices ?? []).toEqual([]);
      expect(host.PidMode ?? '').toBe('');
      expect(host.IpcMode).toBe('private');
      expect(host.UsernsMode ?? '').toBe('');
      expect(host.Runtime).toBe(RUNTIME);
    }
  });

  it('runs under a seccomp profile at least as tight as Docker’s default, refusing io_uring and namespaces', async () => {
    const option = seen.used.HostConfig.SecurityOpt?.find((entry: string) => entry.startsWith('seccomp='));
    expect(option, 'a seccomp profile is set (not unconfined)').toBeDefined();
    expect(option).not.toBe('seccomp=unconfined');
    const profile = JSON.parse(option!.slice('seccomp='.length)) as SeccompProfile;
    expect(profile.defaultAction).toBe('SCMP_ACT_ERRNO');
    const allowed = new Set(
      profile.syscalls.filter((rule) => rule.action === 'SCMP_ACT_ALLOW' && !('args' in rule)).flatMap((rule) => rule.names),
    );
    for (const refused of ['io_uring_setup', 'io_uring_enter', 'io_setup', 'io_submit', 'mount', 'unshare', 'setns', 'bpf', 'perf_event_open', 'keyctl',
      'add_key', 'init_module', 'finit_module', 'ptrace', 'userfaultfd', 'kexec_load', 'open_by_handle_at', 'chroot', 'pivot_root']) {
      expect(allowed.has(refused), refused).toBe(false);
    }
    // Docker's default allows these; nothing ordinary was taken away.
    for (const kept of ['read', 'write', 'openat', 'clone', 'execve', 'mmap', 'futex', 'socket', 'wait4', 'epoll_wait', 'getrandom']) {
      expect(profile.syscalls.some((rule) => rule.action === 'SCMP_ACT_ALLOW' && rule.names.includes(kept)), kept).toBe(true);
    }
  });

  it('caps memory with swap included, CPU, pids, open files, file size and every tmpfs', async () => {
    const { all } = seen;
    for (const info of all) {
      const host = info.HostConfig;
      expect(host.Memory).toBe(LIMITS.memoryMb * MB);
      expect(host.MemorySwap, 'swap is included in the memory limit').toBe(LIMITS.memoryMb * MB);
      expect(host.NanoCpus).toBe(1e9);
      expect(host.PidsLimit).toBe(LIMITS.pids);
      expect(host.OomScoreAdj).toBe(1000);
      const ulimits = Object.fromEntries((host.Ulimits ?? []).map((limit) => [limit.Name, limit.Hard]));
      expect(ulimits).toMatchObject({ nofile: 1024, fsize: LIMITS.quotaMb * MB, core: 0 });
      const tmpfs = host.Tmpfs ?? {};
      expect(Object.keys(tmpfs).sort()).toEqual(['/run/codecell/artifacts', '/tmp']);
      for (const options of Object.values(tmpfs)) expect(options).toMatch(/(^|,)size=\d+(,|$)/);
      expect(host.ShmSize).toBeLessThanOrEqual(LIMITS.tmpfsMb * MB);
      expect(host.LogConfig?.Type).toBe('none');
    }
  });

  it('mounts nothing of the host but the slot of its session: no Docker socket, no other path', async () => {
    const { all } = seen;
    const slotsRoot = `${h.server.settings.dataDir}/slots/`;
    for (const info of all) {
      const mounts = info.Mounts.map((mount) => ({ type: mount.Type, source: mount.Source, target: mount.Destination, rw: mount.RW }));
      expect(mounts.map((mount) => mount.target).sort()).toEqual(['/home/sandbox', '/mnt/data', '/run/codecell/in', '/run/codecell/out']);
      for (const mount of mounts) {
        expect(mount.type).toBe('bind');
        expect(mount.source.startsWith(slotsRoot), `${mount.source} is inside ${slotsRoot}`).toBe(true);
        expect(mount.source).not.toMatch(/docker\.sock/);
      }
      expect(mounts.find((mount) => mount.target === '/run/codecell/in')?.rw).toBe(false);
      expect(info.HostConfig.VolumesFrom ?? []).toEqual([]);
      expect(info.HostConfig.Binds?.every((bind) => bind.startsWith(slotsRoot))).toBe(true);
    }
  });

  it('gets only the fixed sandbox environment: none of the server’s variables or secrets', async () => {
    const { all } = seen;
    for (const info of all) {
      const names = info.Config.Env.map((entry) => entry.split('=')[0]);
      // The image's own ENV lines (PATH, MPLCONFIGDIR, …) are the image's; ours are the fixed list.
      const ours = info.Config.Env.filter((entry) => !imageEnvOf(info).includes(entry));
      expect(ours.map((entry) => entry.split('=')[0]).every((name) => ALLOWED_ENV.includes(name ?? '')), ours.join(' ')).toBe(true);
      expect(names).not.toContain('CODECELL_SECURITY_CANARY');
      expect(names).not.toContain('OPENAI_API_KEY');
      const all = JSON.stringify(info);
      for (const secret of [SERVER_SECRET, SIGNING_KEY, TEST_KEY]) expect(all).not.toContain(secret);
    }
  });
});

/** Env entries that come from the image (its ENV lines), not from Codecell. */
const imageEnvCache = new Map<string, string[]>();
function imageEnvOf(info: ContainerInspectInfo): string[] {
  return imageEnvCache.get(info.Image) ?? [];
}

beforeAll(async () => {
  const { docker } = await import('./helpers/docker.js');
  for (const runtime of ['python', 'node', 'bash']) {
    const image = await docker.getImage(`${process.env.CODECELL_IMAGE_PREFIX ?? 'codecell'}-${runtime}:latest`).inspect();
    imageEnvCache.set(image.Id, image.Config.Env ?? []);
  }
});

describe('every execution container, as the program inside sees it', () => {
  it('runs as uid 10001 with no capabilities and no_new_privs set', async () => {
    const seen = await h.probe(
      'python',
      `import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
status = dict(line.split(':', 1) for line in open('/proc/self/status').read().splitlines() if ':' in line)
print(json.dumps({
  'ids': [os.getuid(), os.geteuid(), os.getgid(), os.getegid()],
  'groups': os.getgroups(),
  'caps': {k: status[k].strip() for k in ('CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb') if k in status},
  'no_new_privs': libc.prctl(39, 0, 0, 0, 0),
  'seccomp': status.get('Seccomp', '').strip(),
}))`,
    );
    expect(seen.ids).toEqual([10001, 10001, 10001, 10001]);
    expect(seen.groups).toEqual([10001]);
    for (const value of Object.values(seen.caps as Record<string, string>)) expect(value).toBe('0000000000000000');
    expect(seen.no_new_privs).toBe(1);
    // Under runc the kernel filters with the seccomp profile; gVisor's own kernel reports none.
    if (RUNTIME === 'runc') expect(seen.seccomp).toBe('2');
    await h.stillServing();
  });

  it('has a read-only root, size-capped tmpfs mounts and the resource limits in force', async () => {
    const seen = await h.probe(
      'python',
      `import json, os, resource
def try_write(path):
    try:
        open(path, 'w').write('x'); return 'written'
    except OSError as error:
        return error.strerror
def size(path):
    st = os.statvfs(path); return st.f_blocks * st.f_frsize
print(json.dumps({
  'root': [try_write(p) for p in ('/usr/bin/evil', '/etc/passwd', '/opt/codecell/runner', '/evil')],
  'tmp': size('/tmp'), 'artifacts': size('/run/codecell/artifacts'), 'shm': size('/dev/shm'),
  'fsize': resource.getrlimit(resource.RLIMIT_FSIZE), 'nofile': resource.getrlimit(resource.RLIMIT_NOFILE),
  'mem_total_kb': int(open('/proc/meminfo').readline().split()[1]),
}))`,
    );
    for (const outcome of seen.root as string[]) expect(outcome).toMatch(/Read-only file system|Permission denied/);
    expect(seen.tmp).toBeLessThanOrEqual(LIMITS.tmpfsMb * MB);
    expect(seen.artifacts).toBeLessThanOrEqual(LIMITS.artifactsMb * MB);
    expect(seen.shm).toBeLessThanOrEqual(LIMITS.tmpfsMb * MB);
    expect(seen.nofile).toEqual([1024, 1024]);
    if (RUNTIME === 'runc') expect(seen.fsize).toEqual([LIMITS.quotaMb * MB, LIMITS.quotaMb * MB]);
    // gVisor shows the container's memory limit as the machine's memory.
    if (RUNTIME === 'runsc') expect(seen.mem_total_kb).toBeLessThanOrEqual(LIMITS.memoryMb * 1024);
    await h.stillServing();
  });

  it('runs an init as pid 1, with the runner under it', async () => {
    const seen = await h.probe(
      'python',
      `import json, os
procs = {}
for pid in filter(str.isdigit, os.listdir('/proc')):
    try:
        procs[pid] = open(f'/proc/{pid}/cmdline', 'rb').read().split(b'\\0')[0].decode()
    except OSError:
        pass
print(json.dumps({'pid1': procs.get('1'), 'me': os.getpid(), 'parent': os.getppid(), 'procs': procs}))`,
    );
    expect(seen.pid1).toMatch(/docker-init|tini/);
    expect(seen.parent).toBe(1);
    await h.stillServing();
  });

  it('sees no host mount but its own slot and Docker’s per-container files', async () => {
    const seen = await h.probe(
      'python',
      `import json
mounts = []
for line in open('/proc/self/mountinfo'):
    left, right = line.split(' - ')
    fields, (fstype, source, *_rest) = left.split(), right.split()
    mounts.append({'target': fields[4], 'fstype': fstype, 'source': source})
print(json.dumps(mounts))`,
    );
    const virtual = new Set(['proc', 'sysfs', 'tmpfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2', 'overlay']);
    const mounts = seen as unknown as Array<{ target: string; fstype: string }>;
    const fromHost = mounts.filter((mount) => !virtual.has(mount.fstype) && mount.target !== '/').map((mount) => mount.target);
    // Docker's own per-container files and its init binary are the only other things it binds in.
    const allowed = ['/mnt/data', '/home/sandbox', '/run/codecell/in', '/run/codecell/out', '/etc/hostname', '/etc/hosts', '/etc/resolv.conf', '/usr/sbin/docker-init', '/sbin/docker-init'];
    expect(fromHost.filter((target) => !allowed.includes(target))).toEqual([]);
    expect(fromHost).toEqual(expect.arrayContaining(['/mnt/data', '/home/sandbox', '/run/codecell/in', '/run/codecell/out']));
    expect(mounts.some((mount) => /docker\.sock/.test(mount.target))).toBe(false);
    await h.stillServing();
  });
});

describe('the server’s own exposure', () => {
  it('never passes its environment, API keys or signing key into a container, in any language', async () => {
    const secrets = [SERVER_SECRET, SIGNING_KEY, TEST_KEY];
    // Each secret goes in as two halves joined at run time: the code itself never holds one whole.
    const halves = secrets.map((secret, index) => `S${index}="${secret.slice(0, 8)}""${secret.slice(8)}"`).join('; ');
    // The whole file system is searched: a probe cut by its time limit is retried, never judged.
    const bash = await h.finish(
      'bash',
      `${halves}
for f in /proc/[0-9]*/environ /proc/[0-9]*/cmdline; do tr '\\0' '\\n' < "$f" 2>/dev/null; done > /tmp/procs.txt
env > /tmp/env.txt
printf %s "$S0" > /mnt/data/control.txt
echo "dumped $(wc -l < /tmp/procs.txt) lines"
grep -rIl -D skip --exclude-dir=proc --exclude-dir=sys --exclude-dir=dev -e "$S0" -e "$S1" -e "$S2" / 2>/dev/null | sed 's/^/HIT /'
echo searched`,
      'searched',
    );
    expect(bash.stdout).toMatch(/dumped [1-9]\d* lines/);
    // The one hit is the control file this probe wrote itself: the search works, and finds nothing else.
    expect(bash.stdout.split('\n').filter((line) => line.startsWith('HIT '))).toEqual(['HIT /mnt/data/control.txt']);

    const envs = await h.probe(
      'javascript',
      `const fs = require('fs');
const environs = fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).map((pid) => {
  try { return fs.readFileSync('/proc/' + pid + '/environ', 'latin1'); } catch { return ''; }
});
console.log(JSON.stringify({ own: Object.keys(process.env).sort(), environs }));`,
    );
    const own = envs.own as string[];
    expect(own).not.toContain('CODECELL_SECURITY_CANARY');
    expect(own).not.toContain('OPENAI_API_KEY');
    expect(own).not.toContain('CODECELL_API_KEYS');
    for (const environ of envs.environs as string[]) for (const secret of secrets) expect(environ).not.toContain(secret);
    await h.stillServing();
  });

  it('builds the container config from validated settings only', () => {
    // Values that would smuggle options into Docker are refused before any container exists.
    expect(() => loadSettings({}, { CODECELL_IMAGE_PREFIX: 'evil --privileged' })).toThrow(/CODECELL_IMAGE_PREFIX/);
    expect(() => loadSettings({}, { CODECELL_RUNTIME: 'runc --privileged' })).toThrow(/CODECELL_RUNTIME/);
    expect(() => loadSettings({}, { CODECELL_MEMORY_MB: '-1' })).toThrow(/CODECELL_MEMORY_MB/);
    expect(() => loadSettings({}, { CODECELL_PIDS_LIMIT: '0' })).toThrow(/CODECELL_PIDS_LIMIT/);
    expect(() => loadSettings({}, { CODECELL_TMPFS_MB: '1,exec' })).toThrow(/CODECELL_TMPFS_MB/);

    // Whatever the server's environment holds, the spec is the same fixed shape.
    const settings = loadSettings({ ...process.env, LD_PRELOAD: '/evil.so', DOCKER_HOST: 'tcp://x' }, { CODECELL_DATA_DIR: '/srv/codecell' });
    const spec = containerSpec(settings, 'instance', 'python', {
      dataDir: '/srv/codecell/slots/a/data',
      homeDir: '/srv/codecell/slots/a/home',
      inDir: '/srv/codecell/slots/a/in',
      outDir: '/srv/codecell/slots/a/out',
    });
    expect(spec.Env?.map((entry) => entry.split('=')[0])).toEqual(ALLOWED_ENV);
    expect(spec.HostConfig?.Binds).toEqual([
      '/srv/codecell/slots/a/data:/mnt/data:rw',
      '/srv/codecell/slots/a/home:/home/sandbox:rw',
      '/srv/codecell/slots/a/in:/run/codecell/in:ro',
      '/srv/codecell/slots/a/out:/run/codecell/out:rw',
    ]);
    expect(JSON.stringify(spec)).not.toContain('/evil.so');
    expect(JSON.stringify(spec)).not.toContain(SERVER_SECRET);
  });
});
