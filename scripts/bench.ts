/**
 * `npm run bench`: prints a table of what an execution costs, per language, on this machine.
 *
 *   cold        a run with no warm pool (container start on the critical path)
 *   warm        a trivial run in a session with small state, taken from the warm pool
 *   warm+10MB   the same with 10 MB of state (a DataFrame in Python, a Float64Array in JS)
 *   cpu/exec    machine-wide CPU-seconds per execution (dockerd, containerd, runc, the runner, us)
 *   exec/s      sustained executions per second with 8 concurrent callers
 *
 * Optional: BENCH_MCP_URL=http://127.0.0.1:7860/mcp also measures a trivial Python call end to end
 * through Streamable HTTP with the official MCP client (the server must be running).
 * Knobs: BENCH_SAMPLES (default 40), BENCH_SECONDS (default 15), BENCH_LANGUAGES (python,javascript,bash).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../src/config/settings.js';
import { createEngine } from '../src/engine/create-engine.js';
import type { Engine } from '../src/engine/engine.js';
import type { Language } from '../src/engine/types.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics/metrics.js';
import { principalFor } from '../src/sessions/principal.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 40);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 15);
const CALLERS = 8;
const LANGUAGES = (process.env.BENCH_LANGUAGES ?? 'python,javascript,bash').split(',') as Language[];
const principal = principalFor(null, 'bench');

const TRIVIAL: Record<Language, string> = {
  python: 'x = 1\nprint(x + 1)',
  javascript: 'let x = 1;\nconsole.log(x + 1);',
  typescript: 'let x: number = 1;\nconsole.log(x + 1);',
  bash: 'x=1; echo $((x + 1))',
};

const TEN_MB_STATE: Partial<Record<Language, string>> = {
  python: 'import numpy as np, pandas as pd\ndf = pd.DataFrame(np.random.rand(131072, 10))\nprint(df.memory_usage().sum())',
  javascript: 'const big = new Float64Array(1310720).map(() => Math.random());\nconsole.log(big.byteLength);',
};

interface Row {
  language: string;
  measure: string;
  p50: string;
  p99: string;
  note: string;
}
const rows: Row[] = [];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** Busy CPU time of the whole machine so far (every process: dockerd, containerd, runc, runners, us). */
function cpuSeconds(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0] = fields;
  return (user + nice + system + irq + softirq) / CLOCK_TICKS_PER_SECOND;
}

async function withEngine<T>(overrides: Record<string, string>, task: (engine: Engine) => Promise<T>): Promise<T> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-bench-'));
  const settings = loadSettings(process.env, { LOG_LEVEL: 'warn', ...overrides, CODECELL_DATA_DIR: dataDir, MAX_SESSIONS: '10000' });
  const { engine } = await createEngine({ settings, logger: createLogger(settings.logLevel), metrics: new Metrics({ collectProcessMetrics: false }) });
  try {
    return await task(engine);
  } finally {
    await engine.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function settle(engine: Engine, expectReady: number): Promise<void> {
  for (let i = 0; i < 200; i += 1) {
    const health = await engine.health();
    const ready = Object.values(health.pool).reduce((sum, n) => sum + n, 0);
    if (ready >= expectReady) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await new Promise((resolve) => setTimeout(resolve, 300));
}

async function timeRuns(engine: Engine, language: Language, sessionId: string, samples: number, expectPool: number): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < samples; i += 1) {
    await settle(engine, expectPool);
    const began = performance.now();
    const result = await engine.execute({ principal, sessionId, language, code: TRIVIAL[language] });
    times.push(performance.now() - began);
    if (result.status !== 'ok') throw new Error(`${language} run failed: ${result.status} ${result.error?.message ?? ''} ${result.stderr.text}`);
  }
  return times;
}

function addLatencyRow(language: string, measure: string, times: number[], note = ''): void {
  rows.push({ language, measure, p50: `${percentile(times, 50).toFixed(0)} ms`, p99: `${percentile(times, 99).toFixed(0)} ms`, note });
}

const POOLS_OFF = { CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0', CODECELL_POOL_BASH: '0' };
const POOLS_ON = { CODECELL_POOL_PYTHON: '2', CODECELL_POOL_PYTHON_LEAN: '2', CODECELL_POOL_NODE: '2', CODECELL_POOL_BASH: '2' };

async function latency(language: Language): Promise<void> {
  await withEngine(POOLS_OFF, async (engine) => {
    const session = (await engine.createSession(principal)).id;
    addLatencyRow(language, 'cold (no pool)', await timeRuns(engine, language, session, Math.min(SAMPLES, 15), 0));
  });
  await withEngine(POOLS_ON, async (engine) => {
    const session = (await engine.createSession(principal)).id;
    await engine.execute({ principal, sessionId: session, language, code: TRIVIAL[language] });
    const small = await timeRuns(engine, language, session, SAMPLES, 2);
    addLatencyRow(language, 'warm, small state', small, 'sequential calls, pool refilled between them');
    const bigState = TEN_MB_STATE[language];
    if (!bigState) return;
    const bigSession = (await engine.createSession(principal)).id;
    const setup = await engine.execute({ principal, sessionId: bigSession, language, code: bigState });
    if (setup.status !== 'ok') throw new Error(`state setup failed: ${setup.error?.message ?? setup.stderr.text}`);
    const big = await timeRuns(engine, language, bigSession, SAMPLES, 2);
    addLatencyRow(
      language,
      'warm, 10 MB state',
      big,
      `restore+save of 10 MB ≈ ${(percentile(big, 50) - percentile(small, 50)).toFixed(0)} ms (p50 difference)`,
    );
  });
}

async function throughput(language: Language): Promise<void> {
  await withEngine({ ...POOLS_ON, CODECELL_CONCURRENCY: '2', CODECELL_QUEUE_LIMIT: '64' }, async (engine) => {
    const sessions = await Promise.all(Array.from({ length: CALLERS }, () => engine.createSession(principal)));
    for (const session of sessions) await engine.execute({ principal, sessionId: session.id, language, code: TRIVIAL[language] });
    await settle(engine, 4);
    const cpuBefore = cpuSeconds();
    const began = performance.now();
    const deadline = began + SECONDS * 1000;
    let done = 0;
    let failed = 0;
    await Promise.all(
      sessions.map(async (session) => {
        while (performance.now() < deadline) {
          const result = await engine.execute({ principal, sessionId: session.id, language, code: TRIVIAL[language] });
          if (result.status === 'ok') done += 1;
          else failed += 1;
        }
      }),
    );
    const elapsed = (performance.now() - began) / 1000;
    const cpu = cpuSeconds() - cpuBefore;
    rows.push({
      language,
      measure: `sustained, ${CALLERS} callers`,
      p50: `${(done / elapsed).toFixed(2)} exec/s`,
      p99: `${(cpu / Math.max(1, done + failed)).toFixed(3)} CPU-s/exec`,
      note: `${done} ok, ${failed} failed in ${elapsed.toFixed(1)} s on ${os.cpus().length} cores`,
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
  const times: number[] = [];
  for (let i = 0; i < SAMPLES; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, 400));
    const began = performance.now();
    await client.callTool({ name: 'execute_python_code', arguments: { code: TRIVIAL.python } });
    times.push(performance.now() - began);
  }
  await client.close();
  addLatencyRow('python', 'through /mcp (end to end)', times, url);
}

function printTable(): void {
  const header: Row = { language: 'language', measure: 'measure', p50: 'p50 / rate', p99: 'p99 / cost', note: 'note' };
  const all = [header, ...rows];
  const width = (key: keyof Row) => Math.max(...all.map((row) => row[key].length));
  const keys: Array<keyof Row> = ['language', 'measure', 'p50', 'p99', 'note'];
  for (const [index, row] of all.entries()) {
    console.log(keys.map((key) => row[key].padEnd(width(key))).join('  '));
    if (index === 0) console.log(keys.map((key) => '-'.repeat(width(key))).join('  '));
  }
}

for (const language of LANGUAGES) {
  await latency(language);
  await throughput(language);
}
if (process.env.BENCH_MCP_URL) await mcpLatency(process.env.BENCH_MCP_URL);
printTable();
