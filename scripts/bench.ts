/**
 * `npm run bench`: prints a table of what an execution costs, per language, on this machine.
 *
 *   cold (no pool)        every pool at 0: container start-up is on the critical path
 *   warm, small state     a trivial run in a session with small state, its container warm from the pool
 *   warm, 10 MB state     the same with 10 MB of state (a DataFrame in Python, a Float64Array in JS);
 *                         the note has the runner's own restore and save times (p50) where it reports them
 *   sustained, 8 callers  8 callers, each in its own session, calling again as soon as answered:
 *                         executions per second, and CPU-seconds per execution of the whole machine
 *                         (dockerd, containerd, shims, runc, the runners, this process), container
 *                         start and removal included, with the machine's background load subtracted;
 *                         the note splits it: inside the containers (their cgroups), this process, and
 *                         the rest, which is Docker's (dockerd, containerd, the shims, runc)
 *   python, numpy session the same for sessions whose state holds numpy/pandas (the scientific pool)
 *
 * How it is run, so the numbers are fair and repeatable:
 *   - Latency rows use the shipped pool sizes (python 2, python-lean 1, node 1, bash 1) and
 *     CODECELL_CONCURRENCY=2. Before each sample the bench waits until every pool is full and the
 *     previous run's container is gone, so "warm" means a warm container on an idle server.
 *   - Sustained rows use CODECELL_CONCURRENCY=2 and a pool of 4 for the pool under test (others 0):
 *     on 2 cores, more concurrent starts only contend for the same CPU. Override with
 *     BENCH_CONCURRENCY and BENCH_POOL to try others.
 *   - CPU is read from /proc/stat; the mean rate of busy CPU in the 3 s before and the 3 s after each
 *     sustained phase is taken as background and subtracted (the note shows both, and says NOISY when
 *     either is above 0.1 CPU). On a shared machine the rate suffers too: run it on a quiet one.
 *
 * Executors: BENCH_EXECUTORS (default: CODECELL_EXECUTOR, else docker,process) lists the executors to
 * measure, one after the other; the table puts their numbers side by side. Docker is measured on this
 * host. The process executor is measured here when its runners are (CODECELL_SANDBOX_DIR exists, as
 * inside the Space image); otherwise this bench runs again inside a container of the Space image,
 * started as a Space runs (uid 1000, cap-drop ALL, no-new-privileges, default seccomp), and takes its
 * rows back (scripts/bench-in-space.ts). The image is built from this tree through the layer cache,
 * as the Space test tier builds it; BENCH_SPACE_IMAGE=<image> uses an existing one as it is.
 *
 * Through the public interface (scripts/bench-mcp.ts), in the same run: a real server on 127.0.0.1,
 * MCP over Streamable HTTP with the official SDK client; each figure is printed next to its issue-13
 * target (met / not met), then the phase split of a chat-paced call and the container lifecycle split.
 *
 * Flags (npm run bench -- --cases mcp-chat --runs 3):
 *   --cases a,b,...   engine, mcp-chat, mcp-b2b, mcp-state, mcp-js, mcp-users, idle, lifecycle (default: all)
 *   --runs N          calls per MCP latency case (default 10)
 *   --pause-ms N      pause between chat-paced calls (default 1000)
 *   --big             adds the 500 MB state size (slow: it builds and snapshots 500 MB)
 *   --state-sizes a,b sizes in MB instead of 0,10,100
 *   --users a,b       concurrent user counts (default 8,32); --users-seconds N (default 10)
 *   --idle-sessions N (default 1000)
 * Optional: BENCH_MCP_URL=http://127.0.0.1:7860/mcp also measures a trivial Python call against a
 * server already running (BENCH_MCP_KEY if it wants a key).
 * Knobs: BENCH_SAMPLES (default 20), BENCH_SECONDS (default 10), BENCH_LANGUAGES (python,javascript,bash),
 * BENCH_NUMPY_SESSIONS=0 skips the numpy-session row.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadSettings } from '../src/config/settings.js';
import { createEngine } from '../src/engine/create-engine.js';
import type { Engine } from '../src/engine/engine.js';
import type { Language } from '../src/domain/types.js';
import { ONE_SHOT_POOL_KEYS, type OneShotPoolKey, type PoolKey } from '../src/executor/pool-key.js';
import { Metrics } from '../src/metrics/metrics.js';
import { principalFor } from '../src/sessions/principal.js';
import { benchInSpace, JSON_OUTPUT_ENV } from './bench-in-space.js';
import { benchLogger as logger, phaseRecords } from './bench-log.js';
import { benchThroughMcp } from './bench-mcp.js';
import { percentile } from './bench-stats.js';
import { printBenchTable, type BenchRow } from './bench-table.js';
import { countVerdicts, targetTableLines } from './bench-targets.js';
import { lifecycleSplitReport } from './bench-lifecycle.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 20);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CALLERS = 8;
const SUSTAINED_CONCURRENCY = process.env.BENCH_CONCURRENCY ?? '2';
const SUSTAINED_POOL = process.env.BENCH_POOL ?? '4';
const LANGUAGES = (process.env.BENCH_LANGUAGES ?? 'python,javascript,bash').split(',') as Language[];
const NUMPY_SESSIONS = process.env.BENCH_NUMPY_SESSIONS !== '0';
const principal = principalFor(null, 'bench');
const EXECUTORS = (process.env.BENCH_EXECUTORS || process.env.CODECELL_EXECUTOR || 'docker,process').split(',');
const JSON_OUTPUT = process.env[JSON_OUTPUT_ENV] === 'json';
/** The executor the current rows measure. */
let executor = EXECUTORS[0] ?? 'docker';

const TRIVIAL: Record<Language, string> = {
  python: 'x = 1\nprint(x + 1)',
  javascript: 'let x = 1;\nconsole.log(x + 1);',
  typescript: 'let x: number = 1;\nconsole.log(x + 1);',
  bash: 'x=1; echo $((x + 1))',
  c: '#include <stdio.h>\nint main(void) { int x = 1; printf("%d\\n", x + 1); return 0; }',
  cpp: '#include <iostream>\nint main() { int x = 1; std::cout << x + 1 << "\\n"; }',
  go: 'package main\nimport "fmt"\nfunc main() { x := 1; fmt.Println(x + 1) }',
  java: 'public class Main { public static void main(String[] args) { int x = 1; System.out.println(x + 1); } }',
  rust: 'fn main() { let x = 1; println!("{}", x + 1); }',
  php: '<?php $x = 1; echo $x + 1, "\\n";',
  r: 'x <- 1\ncat(x + 1, "\\n")',
  d: 'import std.stdio;\nvoid main() { int x = 1; writeln(x + 1); }',
  fortran: 'program main\n  integer :: x = 1\n  print *, x + 1\nend program main',
};

const TEN_MB_STATE: Partial<Record<Language, string>> = {
  python: 'import numpy as np, pandas as pd\ndf = pd.DataFrame(np.random.rand(131072, 10))\nprint(df.memory_usage().sum())',
  javascript: 'const big = new Float64Array(1310720).map(() => Math.random());\nconsole.log(big.byteLength);',
};

const NUMPY_STATE = 'import numpy as np, pandas as pd\ndf = pd.DataFrame({"a": [1, 2, 3]})';

/** The pool a trivial run of each language takes (a fresh Python session is lean). */
const TRIVIAL_POOL: Record<Language, PoolKey> = {
  python: 'python-lean',
  javascript: 'node',
  typescript: 'node',
  bash: 'bash',
  c: 'gcc',
  cpp: 'gcc',
  go: 'go',
  java: 'java',
  rust: 'rust',
  php: 'php',
  r: 'r',
  d: 'gcc',
  fortran: 'gcc',
};

const POOL_ENV: Record<PoolKey, string> = {
  python: 'CODECELL_POOL_PYTHON',
  'python-lean': 'CODECELL_POOL_PYTHON_LEAN',
  node: 'CODECELL_POOL_NODE',
  bash: 'CODECELL_POOL_BASH',
  ...(Object.fromEntries(ONE_SHOT_POOL_KEYS.map((key) => [key, 'CODECELL_POOL_ONESHOT'])) as Record<OneShotPoolKey, string>),
};
const ONE_SHOT_OFF = Object.fromEntries(ONE_SHOT_POOL_KEYS.map((key) => [key, 0])) as Record<OneShotPoolKey, number>;
const DEFAULT_POOLS: Record<PoolKey, number> = { python: 2, 'python-lean': 1, node: 1, bash: 1, ...ONE_SHOT_OFF };

const rows: BenchRow[] = [];
const howRun = new Map<string, string>();

// --- CPU ------------------------------------------------------------------------------------------

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Busy CPU time of the whole machine so far (every process: dockerd, containerd, runc, runners, us). */
function cpuSeconds(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = fields;
  return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS_PER_SECOND;
}

/** Busy CPU-seconds per second while the bench does nothing (other tenants, daemons). */
async function backgroundCpuRate(seconds = 3): Promise<number> {
  const before = cpuSeconds();
  const began = performance.now();
  await sleep(seconds * 1000);
  return (cpuSeconds() - before) / ((performance.now() - began) / 1000);
}

// --- engine ---------------------------------------------------------------------------------------

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function withEngine<T>(
  pools: Record<PoolKey, number>,
  overrides: Record<string, string>,
  task: (engine: Engine, pools: Record<PoolKey, number>) => Promise<T>,
): Promise<T> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-bench-'));
  // The one-shot pools share one setting: the largest size asked of any of them.
  const sizes = new Map<string, number>();
  for (const [key, size] of Object.entries(pools)) {
    const name = POOL_ENV[key as PoolKey];
    sizes.set(name, Math.max(sizes.get(name) ?? 0, size));
  }
  const poolEnv = Object.fromEntries([...sizes].map(([name, size]) => [name, String(size)]));
  const settings = loadSettings(process.env, {
    ...poolEnv,
    ...overrides,
    CODECELL_EXECUTOR: executor,
    LOG_LEVEL: 'debug',
    CODECELL_DATA_DIR: dataDir,
    MAX_SESSIONS: '10000',
  });
  const { engine } = await createEngine({ settings, logger, metrics: new Metrics({ collectProcessMetrics: false }) });
  try {
    return await task(engine, pools);
  } finally {
    await settle(engine, {}); // the last run's clean-up, so shutdown does not cut it short
    await engine.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * Waits until every pool is full and no job is left (a job holds its queue slot until its container
 * is dead and the files are back), then a moment more for the last container to be removed.
 */
async function settle(engine: Engine, pools: Partial<Record<PoolKey, number>>): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    const { pool, queue } = await engine.health();
    const full = Object.entries(pools).every(([key, target]) => (pool[key as PoolKey] ?? 0) >= (target ?? 0));
    if (full && queue.running === 0 && queue.waiting === 0) break;
    await sleep(50);
  }
  await sleep(250);
}

async function timeRuns(
  engine: Engine,
  pools: Record<PoolKey, number>,
  language: Language,
  sessionId: string,
  samples: number,
): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    await settle(engine, pools);
    const began = performance.now();
    const result = await engine.execute({ principal, sessionId, language, code: TRIVIAL[language] });
    times.push(performance.now() - began);
    if (result.status !== 'ok') throw new Error(`${language} run failed: ${result.status} ${result.error?.message ?? ''} ${result.stderr.text}`);
  }
  return times;
}

function addLatencyRow(language: string, measure: string, times: number[], note = ''): void {
  rows.push({ executor, language, measure, p50: `${percentile(times, 50).toFixed(0)} ms`, p99: `${percentile(times, 99).toFixed(0)} ms`, note });
}

/** p50 of the runner's restore and save times for a session's runs (null if it does not report them). */
function runnerTimings(sessionId: string): { restore: number; save: number; both: number } | null {
  const timed = phaseRecords.filter((record) => record.session === sessionId && record.runner?.restoreMs !== undefined);
  if (timed.length === 0) return null;
  const restore = timed.map((record) => record.runner?.restoreMs ?? 0);
  const save = timed.map((record) => record.runner?.saveMs ?? 0);
  const both = timed.map((record) => (record.runner?.restoreMs ?? 0) + (record.runner?.saveMs ?? 0));
  return { restore: percentile(restore, 50), save: percentile(save, 50), both: percentile(both, 50) };
}

function warmShare(sessionId: string): string {
  const records = phaseRecords.filter((record) => record.session === sessionId);
  return `${records.filter((record) => record.warm).length}/${records.length} warm`;
}

const ALL_OFF: Record<PoolKey, number> = { python: 0, 'python-lean': 0, node: 0, bash: 0, ...ONE_SHOT_OFF };

async function latency(language: Language): Promise<void> {
  await withEngine(ALL_OFF, {}, async (engine, pools) => {
    const session = (await engine.createSession(principal)).id;
    addLatencyRow(language, 'cold (no pool)', await timeRuns(engine, pools, language, session, Math.min(SAMPLES, 10)));
  });
  await withEngine(DEFAULT_POOLS, {}, async (engine, pools) => {
    const session = (await engine.createSession(principal)).id;
    await engine.execute({ principal, sessionId: session, language, code: TRIVIAL[language] });
    const small = await timeRuns(engine, pools, language, session, SAMPLES);
    const smallRunner = runnerTimings(session);
    addLatencyRow(
      language,
      'warm, small state',
      small,
      `sequential calls on an idle server; ${warmShare(session)}` +
        (smallRunner ? `; runner restore+save ${smallRunner.both.toFixed(1)} ms` : ''),
    );
    const bigState = TEN_MB_STATE[language];
    if (!bigState) return;
    const bigSession = (await engine.createSession(principal)).id;
    const setup = await engine.execute({ principal, sessionId: bigSession, language, code: bigState });
    if (setup.status !== 'ok') throw new Error(`state setup failed: ${setup.error?.message ?? setup.stderr.text}`);
    const big = await timeRuns(engine, pools, language, bigSession, SAMPLES);
    const bigRunner = runnerTimings(bigSession);
    const difference = `p50 − small p50 = ${(percentile(big, 50) - percentile(small, 50)).toFixed(0)} ms`;
    addLatencyRow(
      language,
      'warm, 10 MB state',
      big,
      bigRunner
        ? `restore+save of 10 MB in the runner ${bigRunner.both.toFixed(1)} ms (restore ${bigRunner.restore.toFixed(1)}, ` +
            `save ${bigRunner.save.toFixed(1)}); ${difference}; ${warmShare(bigSession)}`
        : `restore+save of 10 MB ≈ ${difference}; ${warmShare(bigSession)}`,
    );
  });
}

async function sustained(language: Language, label: string, pool: PoolKey, setupCode: string): Promise<void> {
  const pools = { ...ALL_OFF, [pool]: Number(SUSTAINED_POOL) };
  const overrides = { CODECELL_CONCURRENCY: SUSTAINED_CONCURRENCY, CODECELL_QUEUE_LIMIT: '64' };
  await withEngine(pools, overrides, async (engine) => {
    const sessions = await Promise.all(Array.from({ length: CALLERS }, () => engine.createSession(principal)));
    for (const session of sessions) {
      const setup = await engine.execute({ principal, sessionId: session.id, language, code: setupCode });
      if (setup.status !== 'ok') throw new Error(`setup failed: ${setup.error?.message ?? setup.stderr.text}`);
    }
    await settle(engine, pools);
    const backgroundBefore = await backgroundCpuRate();
    const first = phaseRecords.length;
    const ownBefore = process.cpuUsage();
    const cpuBefore = cpuSeconds();
    const began = performance.now();
    const deadline = began + SECONDS * 1000;
    let done = 0;
    let failed = 0;
    const latencies: number[] = [];
    await Promise.all(
      sessions.map(async (session) => {
        while (performance.now() < deadline) {
          const called = performance.now();
          const result = await engine.execute({ principal, sessionId: session.id, language, code: TRIVIAL[language] });
          latencies.push(performance.now() - called);
          if (result.status === 'ok') done += 1;
          else failed += 1;
        }
      }),
    );
    const elapsed = (performance.now() - began) / 1000;
    // The last runs' containers are still being removed and their replacements started: the CPU
    // of both belongs to the runs (the pool is as full at the end as it was at the start).
    await settle(engine, pools);
    const total = (performance.now() - began) / 1000;
    const machine = cpuSeconds() - cpuBefore;
    const own = process.cpuUsage(ownBefore);
    const backgroundAfter = await backgroundCpuRate();
    const background = (backgroundBefore + backgroundAfter) / 2;
    const executions = Math.max(1, done + failed);
    const cpu = machine - background * total;
    const runs = phaseRecords.slice(first);
    const warm = runs.filter((record) => record.warm).length;
    const inContainers = runs.map((record) => record.containerCpuMs).filter((ms): ms is number => ms !== null);
    const containerMs = inContainers.length > 0 ? inContainers.reduce((sum, ms) => sum + ms, 0) / inContainers.length : NaN;
    const ownMs = ((own.user + own.system) / 1000) / executions;
    const noisy = Math.max(backgroundBefore, backgroundAfter) > 0.1 ? ' (NOISY: another tenant was busy)' : '';
    const cpuNote =
      executor === 'docker'
        ? `in the container ${containerMs.toFixed(0)} ms, this process ${ownMs.toFixed(0)} ms, the rest is Docker (dockerd, containerd, shim, runc)`
        : `this process ${ownMs.toFixed(0)} ms, the rest is the sandboxed runners and their launchers`;
    rows.push({
      executor,
      language,
      measure: label,
      p50: `${(done / elapsed).toFixed(2)} exec/s`,
      p99: `${(cpu / executions).toFixed(3)} CPU-s/exec`,
      note:
        `${done} ok, ${failed} failed in ${elapsed.toFixed(1)} s on ${os.cpus().length} cores; ` +
        `latency p50 ${percentile(latencies, 50).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms; ` +
        `${warm}/${runs.length} warm; CPU per exec: ${cpuNote}; background ` +
        `${backgroundBefore.toFixed(2)}/${backgroundAfter.toFixed(2)} CPU before/after, subtracted${noisy}; ` +
        `concurrency ${SUSTAINED_CONCURRENCY}, pool ${pool}=${SUSTAINED_POOL}`,
    });
  });
}

async function mcpLatency(url: string): Promise<void> {
  const { Client } = await import('@modelcontextprotocol/sdk/client/index.js');
  const { StreamableHTTPClientTransport } = await import('@modelcontextprotocol/sdk/client/streamableHttp.js');
  const headers: Record<string, string> = {};
  if (process.env.BENCH_MCP_KEY) headers.Authorization = `Bearer ${process.env.BENCH_MCP_KEY}`;
  const client = new Client({ name: 'codecell-bench', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(url), { requestInit: { headers } }));
  const call = async (): Promise<number> => {
    const began = performance.now();
    const result = await client.callTool({ name: 'execute_python_code', arguments: { code: TRIVIAL.python } });
    const elapsed = performance.now() - began;
    if (result.isError) throw new Error(`MCP call failed: ${JSON.stringify(result.content).slice(0, 500)}`);
    return elapsed;
  };
  await call(); // the server's first call in a session may pay for an empty pool
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i += 1) {
    // Time for the server's pool to refill and the last container to go, as between a chat's calls.
    await sleep(1000);
    times.push(await call());
  }
  await client.close();
  executor = 'via /mcp';
  howRun.set(executor, 'against the running server at BENCH_MCP_URL, whichever executor it uses');
  addLatencyRow('python', 'warm, through /mcp', times, `${url}, Streamable HTTP, official MCP client, 1 s between calls`);
}

/** True where the process executor's runners are (inside the Space image). */
function processRunsHere(): boolean {
  return existsSync(process.env.CODECELL_SANDBOX_DIR || '/opt/codecell');
}

const ALL_CASES = ['engine', 'mcp-chat', 'mcp-b2b', 'mcp-state', 'mcp-js', 'mcp-users', 'idle', 'lifecycle'] as const;
const { values: flags } = parseArgs({
  options: {
    cases: { type: 'string' },
    runs: { type: 'string', default: '10' },
    'pause-ms': { type: 'string', default: '1000' },
    big: { type: 'boolean', default: false },
    'state-sizes': { type: 'string' },
    users: { type: 'string', default: '8,32' },
    'users-seconds': { type: 'string', default: '10' },
    'idle-sessions': { type: 'string', default: '1000' },
  },
});
const numbers = (text: string): number[] => text.split(',').map((part) => Number(part.trim()));
function positive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} wants a number ≥ 0, not ${text}`);
  return value;
}
// Inside the Space container (JSON output) only the engine rows are asked for.
const cases = new Set<string>(JSON_OUTPUT ? ['engine'] : (flags.cases?.split(',').map((name) => name.trim()) ?? ALL_CASES));
for (const name of cases) if (!(ALL_CASES as readonly string[]).includes(name)) throw new Error(`unknown case ${name}; cases: ${ALL_CASES.join(', ')}`);
const stateSizesMb = flags['state-sizes'] !== undefined ? numbers(flags['state-sizes']) : [0, 10, 100, ...(flags.big ? [500] : [])];

/** Where one container lifecycle's CPU goes (scripts/bench-lifecycle.ts). */
async function lifecycleSection(): Promise<string> {
  return lifecycleSplitReport();
}

if (cases.has('engine')) {
  for (const name of EXECUTORS) {
    executor = name;
    if (executor === 'process' && !processRunsHere()) {
      const inSpace = await benchInSpace(executor);
      rows.push(...inSpace.rows);
      howRun.set(executor, inSpace.howRun);
      continue;
    }
    howRun.set(executor, `on this host (${os.cpus().length} cores), the engine in this process`);
    for (const language of LANGUAGES) {
      await latency(language);
      await sustained(language, `sustained, ${CALLERS} callers`, TRIVIAL_POOL[language], TRIVIAL[language]);
      if (language === 'python' && NUMPY_SESSIONS) {
        await sustained(language, `sustained, ${CALLERS} numpy sessions`, 'python', NUMPY_STATE);
      }
    }
  }
}
if (process.env.BENCH_MCP_URL) await mcpLatency(process.env.BENCH_MCP_URL);
if (JSON_OUTPUT) {
  console.log(JSON.stringify(rows));
} else {
  if (rows.length > 0) {
    console.log('## Engine level\n');
    printBenchTable(rows, howRun);
  }
  const mcp = await benchThroughMcp({
    cases,
    runs: positive('runs', flags.runs),
    pauseMs: positive('pause-ms', flags['pause-ms']),
    stateSizesMb,
    usersSeconds: positive('users-seconds', flags['users-seconds']),
    userCounts: numbers(flags.users),
    idleSessions: positive('idle-sessions', flags['idle-sessions']),
    executor: EXECUTORS[0] ?? 'docker',
  });
  if (mcp.figures.length > 0) {
    const { met, notMet } = countVerdicts(mcp.figures);
    console.log(`\n## Through /mcp (Streamable HTTP, official MCP client, a real server on 127.0.0.1, executor ${EXECUTORS[0] ?? 'docker'})\n`);
    for (const line of targetTableLines(mcp.figures)) console.log(line);
    console.log(`\nissue-13 targets: ${met} met, ${notMet} not met (${os.cpus().length} cores, load average ${os.loadavg()[0]?.toFixed(1)}: timings on a busy machine are high)`);
  }
  for (const section of mcp.sections) console.log(`\n${section}`);
  if (cases.has('lifecycle')) console.log(`\n${await lifecycleSection()}`);
}
