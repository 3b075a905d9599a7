/**
 * Where one execution container's lifecycle (create → start → ready → kill → remove) spends CPU,
 * measured, not estimated: `lifecycleSplitReport()` runs N lifecycles per pool, one after the other,
 * through the production path (runner-container.ts, container-spec.ts) and reads
 *
 *   dockerd, containerd   /proc/<pid>/stat utime+stime before and after the N lifecycles, less the
 *                         rate they burned in an idle stretch of the same length just before
 *                         (other clients of the same engine show up there: the note says how much)
 *   containerd-shim       the container's own shim (found by the container id in its command line),
 *                         its own ticks at ready
 *   runc                  the shim's reaped children at ready: `runc create` and `runc start`
 *                         (`runc kill`/`delete` come later, when the shim is on its way out: not seen)
 *   runner start-up       the container's cgroup CPU at ready: init, interpreter, runner warm-up
 *   imports               for the scientific pool, its start-up less the lean pool's (the preload)
 *   Codecell              this process (dockerode, the slot's directories), process.cpuUsage()
 *
 * `npm run bench` prints the section (scripts/bench.ts); run alone: `node dist/scripts/bench-lifecycle.js`.
 * Knobs: BENCH_LIFECYCLES (default 10 per pool), BENCH_LIFECYCLE_POOLS (default python-lean,python,node).
 */
import { promises as fs, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import Docker from 'dockerode';
import { loadSettings, type Settings } from '../src/config/settings.js';
import { readCpuMs } from '../src/executor/docker/cgroup-cpu.js';
import { dockerClient } from '../src/executor/docker/docker-client.js';
import { RunnerContainer } from '../src/executor/docker/runner-container.js';
import { POOL_KEYS, type PoolKey } from '../src/executor/pool-key.js';
import { createLogger } from '../src/logger.js';
import { statFieldsAfterName } from '../src/proc-stat.js';

const TICK_MS = 1000 / 100; // USER_HZ: 100 on every Linux the kernel ABI promises it to user space

interface LifecycleSample {
  readonly shimMs: number | null;
  readonly runcMs: number | null;
  readonly runnerMs: number | null;
  readonly phases: Record<string, number>;
  readonly wallMs: number;
}

interface PoolSplit {
  readonly pool: PoolKey;
  readonly cycles: number;
  readonly dockerdMs: number;
  readonly containerdMs: number;
  readonly backgroundMs: number;
  readonly codecellMs: number;
  readonly samples: readonly LifecycleSample[];
}

/** utime+stime (and, with `children`, the reaped children's) of a process, in ms; null when it is gone. */
function processCpuMs(pid: number, children = false): { own: number; reaped: number } | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, numbered from 3 (state).
    const fields = statFieldsAfterName(stat);
    const at = (field: number): number => Number(fields[field - 3] ?? 0);
    return { own: (at(14) + at(15)) * TICK_MS, reaped: children ? (at(16) + at(17)) * TICK_MS : 0 };
  } catch {
    return null;
  }
}

function pidsNamed(matches: (comm: string, cmdline: string) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const comm = readFileSync(`/proc/${entry}/comm`, 'utf8').trim();
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (matches(comm, cmdline)) found.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function totalCpuMs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + (processCpuMs(pid)?.own ?? 0), 0);
}

function mean(values: ReadonlyArray<number | null>): number | null {
  const known = values.filter((value): value is number => value !== null);
  return known.length === 0 ? null : known.reduce((sum, value) => sum + value, 0) / known.length;
}

function median(values: ReadonlyArray<number | null>): number | null {
  const known = values.filter((value): value is number => value !== null).sort((a, b) => a - b);
  if (known.length === 0) return null;
  const middle = Math.floor(known.length / 2);
  return known.length % 2 === 1 ? (known[middle] ?? null) : ((known[middle - 1] ?? 0) + (known[middle] ?? 0)) / 2;
}

async function oneLifecycle(docker: Docker, settings: Settings, slotsRoot: string, pool: PoolKey): Promise<LifecycleSample> {
  const began = performance.now();
  const runner = await RunnerContainer.start({
    docker,
    settings,
    instanceId: 'bench-lifecycle',
    slotsRoot,
    pool,
    logger: createLogger('silent'),
  });
  const runnerMs = await readCpuMs(runner.container.id);
  const [shim] = pidsNamed((comm, cmdline) => comm.startsWith('containerd-shim') && cmdline.includes(runner.container.id));
  const shimCpu = shim === undefined ? null : processCpuMs(shim, true);
  await runner.kill();
  await runner.dispose();
  return {
    shimMs: shimCpu?.own ?? null,
    runcMs: shimCpu?.reaped ?? null,
    runnerMs,
    phases: runner.startPhases,
    wallMs: performance.now() - began,
  };
}

async function measurePool(docker: Docker, settings: Settings, slotsRoot: string, pool: PoolKey, cycles: number): Promise<PoolSplit> {
  const engine = [...pidsNamed((comm) => comm === 'dockerd'), ...pidsNamed((comm) => comm === 'containerd')];
  const dockerd = pidsNamed((comm) => comm === 'dockerd');
  const containerd = pidsNamed((comm) => comm === 'containerd');
  await oneLifecycle(docker, settings, slotsRoot, pool); // image pages and caches warm, not measured
  const dockerdBefore = totalCpuMs(dockerd);
  const containerdBefore = totalCpuMs(containerd);
  const codecellBefore = process.cpuUsage();
  const began = performance.now();
  const samples: LifecycleSample[] = [];
  for (let cycle = 0; cycle < cycles; cycle += 1) samples.push(await oneLifecycle(docker, settings, slotsRoot, pool));
  const wallMs = performance.now() - began;
  const codecell = process.cpuUsage(codecellBefore);
  const dockerdMs = totalCpuMs(dockerd) - dockerdBefore;
  const containerdMs = totalCpuMs(containerd) - containerdBefore;
  // The engine's background (other clients, its own timers) over a stretch as long, right after.
  const backgroundBefore = totalCpuMs(engine);
  await new Promise((resolve) => setTimeout(resolve, Math.min(wallMs, 5000)));
  const backgroundMs = ((totalCpuMs(engine) - backgroundBefore) * wallMs) / Math.min(wallMs, 5000);
  return {
    pool,
    cycles,
    dockerdMs,
    containerdMs,
    backgroundMs,
    codecellMs: (codecell.user + codecell.system) / 1000,
    samples,
  };
}

function fmt(value: number | null): string {
  return value === null ? 'n/a' : value.toFixed(0);
}

function splitTable(splits: readonly PoolSplit[]): string {
  const lean = splits.find((split) => split.pool === 'python-lean');
  const leanRunner = lean ? median(lean.samples.map((sample) => sample.runnerMs)) : null;
  const lines = [
    '| pool | dockerd | containerd | engine background (subtracted) | shim | runc create+start | runner start-up | of which preload imports | Codecell (this process) | sum | wall p50 |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ];
  for (const split of splits) {
    const per = (total: number): number => total / split.cycles;
    const background = per(split.backgroundMs);
    const engineShare = per(split.dockerdMs + split.containerdMs);
    // The background is split between dockerd and containerd in proportion to what each burned.
    const keep = engineShare > 0 ? Math.max(0, engineShare - background) / engineShare : 0;
    const dockerd = per(split.dockerdMs) * keep;
    const containerd = per(split.containerdMs) * keep;
    // Means: the shim's ticks are 10 ms apart, a median of them says little.
    const shim = mean(split.samples.map((sample) => sample.shimMs));
    const runc = mean(split.samples.map((sample) => sample.runcMs));
    const runner = median(split.samples.map((sample) => sample.runnerMs));
    const imports = split.pool === 'python' && runner !== null && leanRunner !== null ? runner - leanRunner : null;
    const codecell = per(split.codecellMs);
    const sum = dockerd + containerd + (shim ?? 0) + (runc ?? 0) + (runner ?? 0) + codecell;
    lines.push(
      `| ${split.pool} | ${fmt(dockerd)} (raw ${fmt(per(split.dockerdMs))}) | ${fmt(containerd)} (raw ${fmt(per(split.containerdMs))}) | ${fmt(background)} | ${fmt(shim)} | ${fmt(runc)} | ${fmt(runner)} | ${fmt(imports)} | ${fmt(codecell)} | ${fmt(sum)} | ${fmt(median(split.samples.map((sample) => sample.wallMs)))} |`,
    );
  }
  return lines.join('\n');
}

function phaseTable(splits: readonly PoolSplit[]): string {
  const names = ['slot', 'create', 'watch', 'attach', 'start', 'ready'];
  const lines = [`| pool | ${names.join(' | ')} |`, `| --- | ${names.map(() => '---').join(' | ')} |`];
  for (const split of splits) {
    const cells = names.map((name) => fmt(median(split.samples.map((sample) => sample.phases[name] ?? null))));
    lines.push(`| ${split.pool} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The measured split, as a markdown section. */
export async function lifecycleSplitReport(): Promise<string> {
  const cycles = Number(process.env.BENCH_LIFECYCLES ?? 10);
  const pools = (process.env.BENCH_LIFECYCLE_POOLS ?? 'python-lean,python,node')
    .split(',')
    .filter((pool): pool is PoolKey => (POOL_KEYS as readonly string[]).includes(pool));
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-lifecycle-'));
  try {
    const settings = loadSettings({}, { ...process.env, CODECELL_DATA_DIR: dataDir });
    const docker = dockerClient(settings.docker.endpoint);
    const slotsRoot = path.join(dataDir, 'slots');
    await fs.mkdir(slotsRoot, { recursive: true });
    const splits: PoolSplit[] = [];
    for (const pool of pools) splits.push(await measurePool(docker, settings, slotsRoot, pool, cycles));
    const busy = os.loadavg()[0] ?? 0;
    return [
      '## Container lifecycle: where the CPU goes',
      '',
      `CPU ms per lifecycle (create → start → ready → kill → remove), median or mean of ${cycles} in a row per pool, ` +
        `${settings.docker.runtime}, ${os.cpus().length} cores, load average ${busy.toFixed(1)}` +
        (busy > 1 ? ' (NOISY: the engine serves other clients too; its background rate is subtracted)' : '') +
        '. runc kill/delete run after the shim was read and are not in any column; dockerd, containerd, shim and runc are means ' +
        '(their ticks are 10 ms), the rest medians. Kernel work done outside these processes (namespaces, mounts, cgroups torn down by kworkers) is in none.',
      '',
      splitTable(splits),
      '',
      'Wall time of each start-up step (ms, median):',
      '',
      phaseTable(splits),
      '',
    ].join('\n');
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.log(await lifecycleSplitReport());
}
