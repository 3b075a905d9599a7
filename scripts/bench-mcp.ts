/**
 * The bench through the public interface: a real Codecell server on 127.0.0.1, MCP over Streamable
 * HTTP with the official SDK client, each figure next to its issue-13 target.
 *
 *   mcp-chat    trivial Python call, a pause (default 1 s) between calls, as in a chat
 *   mcp-b2b     the same back to back from one session, as in an agent loop
 *   mcp-state   trivial calls (chat pace) in sessions holding a pandas DataFrame of 0/10/100 MB
 *               (500 MB with --big), and the bytes a save writes after a run that changed one small value;
 *               the same two figures for 1 M rows with a unique-id string column (no target)
 *   mcp-js      JS holding a 10 MB Float64Array: the runner's restore+save (its own timings)
 *   mcp-users   8 and 32 users (one X-User-Id each) calling back to back: lean Python and pandas sessions
 *   idle        1,000 idle sessions in a server process of its own: its RSS growth, list_execution_sessions p50
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema } from '@modelcontextprotocol/sdk/types.js';
import { loadSettings } from '../src/config/settings.js';
import { Metrics } from '../src/metrics/metrics.js';
import { startHttpServer, type RunningServer } from '../src/server.js';
import { benchLogger, recordsOf, type PhaseRecord } from './bench-log.js';
import { percentile, phaseMedians, writtenBytes, type FileStamp } from './bench-stats.js';
import type { Figure } from './bench-targets.js';

const KEY = 'bench-key-0123456789abcdef0123';
const TRIVIAL_PYTHON = 'x = 1\nprint(x + 1)';
const TRIVIAL_JS = 'let x = 1;\nconsole.log(x + 1);';
const MB_FLOATS = 131072; // float64 values in one MiB
const STRING_ROWS = 1_000_000; // the string-column state case
const SERVER_JS = fileURLToPath(new URL('../src/cli.js', import.meta.url));

export interface McpBenchOptions {
  readonly cases: ReadonlySet<string>;
  readonly runs: number;
  readonly pauseMs: number;
  readonly stateSizesMb: readonly number[];
  readonly usersSeconds: number;
  readonly userCounts: readonly number[];
  readonly idleSessions: number;
  readonly executor: string;
}

export interface McpBenchOutput {
  readonly figures: Figure[];
  /** Extra sections (phase splits), printed after the table. */
  readonly sections: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function connect(baseUrl: string, userId: string): Promise<Client> {
  const client = new Client({ name: 'codecell-bench', version: '1.0.0' });
  const headers = { Authorization: `Bearer ${KEY}`, 'X-User-Id': userId };
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', baseUrl), { requestInit: { headers } }));
  return client;
}

interface Called {
  readonly ms: number;
  readonly structured: Record<string, unknown>;
}

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<Called> {
  const began = performance.now();
  const result = await client.callTool({ name, arguments: args }, CallToolResultSchema, { timeout: 600_000 });
  const ms = performance.now() - began;
  const structured = (result.structuredContent ?? {}) as Record<string, unknown>;
  if (result.isError || (typeof structured.status === 'string' && structured.status !== 'ok')) {
    throw new Error(`${name} failed: ${JSON.stringify(result.content).slice(0, 600)}`);
  }
  return { ms, structured };
}

async function withServer<T>(overrides: Record<string, string>, task: (server: RunningServer, dataDir: string) => Promise<T>, executor: string): Promise<T> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-bench-mcp-'));
  const settings = loadSettings(process.env, {
    ...overrides,
    HOST: '127.0.0.1',
    PORT: '0',
    CODECELL_API_KEYS: KEY,
    CODECELL_EXECUTOR: executor,
    LOG_LEVEL: 'debug',
    CODECELL_DATA_DIR: dataDir,
  });
  const server = await startHttpServer({ settings, logger: benchLogger, metrics: new Metrics({ collectProcessMetrics: false }) });
  try {
    return await task(server, dataDir);
  } finally {
    await server.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/** Waits until no job runs or waits and every pool holds its ready runners again (a pause between chat turns does this in real life). */
async function settle(server: RunningServer): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    const { queue } = await server.engine.health();
    if (queue.running === 0 && queue.waiting === 0) return;
    await sleep(20);
  }
}

async function timedCalls(client: Client, name: string, args: Record<string, unknown>, runs: number, pauseMs: number): Promise<Called[]> {
  const calls: Called[] = [];
  for (let i = 0; i < runs; i += 1) {
    if (pauseMs > 0) await sleep(pauseMs);
    calls.push(await call(client, name, args));
  }
  return calls;
}

const ms = (values: readonly number[]): number => percentile(values, 50);

/** Progress on stderr, so a long run shows where it is. */
function progress(what: string): void {
  process.stderr.write(`[bench] ${what}\n`);
}

function runnerBoth(records: readonly PhaseRecord[]): number | null {
  const timed = records.filter((record) => record.runner?.restoreMs !== undefined && record.runner?.saveMs !== undefined);
  if (timed.length === 0) return null;
  return percentile(timed.map((record) => (record.runner?.restoreMs ?? 0) + (record.runner?.saveMs ?? 0)), 50);
}

/** Where a chat-paced call's milliseconds go: the run flow's phases (p50) and what lies around them. */
function phaseSplit(title: string, calls: readonly Called[], records: readonly PhaseRecord[]): string {
  const endToEnd = ms(calls.map((c) => c.ms));
  const executor = ms(calls.map((c) => Number(c.structured.duration_ms ?? Number.NaN)));
  const phases = phaseMedians(records.map((record) => record.run));
  const runner = phaseMedians(records.flatMap((record) => (record.runner ? [record.runner as Record<string, number>] : [])));
  const lines = [
    `### Phase split: ${title} (p50 over ${calls.length} calls, ms)`,
    `- end to end (MCP client → server → MCP client): ${endToEnd.toFixed(1)}`,
    `- inside the executor's run (duration_ms): ${executor.toFixed(1)}; MCP transport, auth, session lock, queue, rendering: ${(endToEnd - executor).toFixed(1)}`,
    `- run flow phases: ${Object.entries(phases).map(([name, value]) => `${name} ${value.toFixed(1)}`).join(', ') || 'none logged'}`,
    `- the runner's own: ${Object.entries(runner).map(([name, value]) => `${name} ${value.toFixed(1)}`).join(', ') || 'not reported'}`,
    `- warm: ${records.filter((record) => record.warm).length}/${records.length}`,
  ];
  return lines.join('\n');
}

/** Sizes of the files under `dir` by path, with their identity (inode, mtime), to tell rewritten files from untouched ones. */
async function fileStamps(dir: string): Promise<Map<string, FileStamp>> {
  const stamps = new Map<string, FileStamp>();
  const walk = async (at: string): Promise<void> => {
    for (const entry of await fs.readdir(at, { withFileTypes: true }).catch(() => [])) {
      const full = path.join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) {
        const stat = await fs.stat(full);
        stamps.set(full, { ino: stat.ino, mtimeMs: stat.mtimeMs, size: stat.size });
      }
    }
  };
  await walk(dir);
  return stamps;
}

async function latencyCases(options: McpBenchOptions, figures: Figure[], sections: string[]): Promise<void> {
  const { cases, runs, pauseMs } = options;
  const wanted = ['mcp-chat', 'mcp-b2b', 'mcp-state', 'mcp-js'].some((name) => cases.has(name));
  if (!wanted) return;
  const biggest = Math.max(0, ...(cases.has('mcp-state') ? options.stateSizesMb : [0]));
  // Room for the biggest DataFrame and its pickling copy in the container, and its snapshot in the quota.
  const overrides: Record<string, string> = biggest > 50 ? { CODECELL_MEMORY_MB: String(Math.max(512, biggest * 5)), CODECELL_SESSION_QUOTA_MB: String(Math.max(500, biggest * 3)) } : {};
  const pace = `${pauseMs} ms between calls`;
  await withServer(overrides, async (server, dataDir) => {
    const chat = await connect(server.url, 'bench-chat');
    const first = await call(chat, 'execute_python_code', { code: TRIVIAL_PYTHON });
    const sessionId = String(first.structured.session_id);
    if (cases.has('mcp-chat')) {
      progress('mcp-chat');
      await settle(server);
      const before = recordsOf(sessionId).length;
      const calls = await timedCalls(chat, 'execute_python_code', { code: TRIVIAL_PYTHON }, runs, pauseMs);
      await settle(server);
      figures.push({ label: 'trivial Python via /mcp, chat-paced, p50', value: ms(calls.map((c) => c.ms)), unit: 'ms', target: { comparison: 'at-most', limit: 25 }, note: `${runs} calls, ${pace}; p99 ${percentile(calls.map((c) => c.ms), 99).toFixed(0)} ms` });
      sections.push(phaseSplit('trivial Python via /mcp, chat-paced', calls, recordsOf(sessionId).slice(before)));
    }
    if (cases.has('mcp-b2b')) {
      progress('mcp-b2b');
      await settle(server);
      const before = recordsOf(sessionId).length;
      const calls = await timedCalls(chat, 'execute_python_code', { code: TRIVIAL_PYTHON }, runs, 0);
      await settle(server);
      figures.push({ label: 'trivial Python via /mcp, back to back, p50', value: ms(calls.map((c) => c.ms)), unit: 'ms', target: { comparison: 'at-most', limit: 150 }, note: `${runs} calls from one session; p99 ${percentile(calls.map((c) => c.ms), 99).toFixed(0)} ms` });
      sections.push(phaseSplit('trivial Python via /mcp, back to back', calls, recordsOf(sessionId).slice(before)));
    }
    if (cases.has('mcp-state')) {
      for (const size of options.stateSizesMb) {
        progress(`mcp-state ${size} MB`);
        const created = await call(chat, 'create_execution_session', {});
        const id = String(created.structured.session_id);
        const rows = size * Math.round(MB_FLOATS / 10);
        await call(chat, 'execute_python_code', { session_id: id, code: `import numpy as np, pandas as pd\ndf = pd.DataFrame(np.random.rand(${rows}, 10))\nprint(df.memory_usage().sum())` });
        await settle(server);
        const before = recordsOf(id).length;
        const calls = await timedCalls(chat, 'execute_python_code', { session_id: id, code: TRIVIAL_PYTHON }, runs, pauseMs);
        await settle(server);
        const both = runnerBoth(recordsOf(id).slice(before));
        const target = size === 100 ? 60 : size === 500 ? 100 : undefined;
        figures.push({
          label: `trivial Python via /mcp holding a ${size} MB DataFrame, p50`,
          value: ms(calls.map((c) => c.ms)),
          unit: 'ms',
          ...(target === undefined ? {} : { target: { comparison: 'at-most' as const, limit: target } }),
          note: `${runs} calls, ${pace}; runner restore+save p50 ${both === null ? 'not reported' : `${both.toFixed(1)} ms`}`,
        });
        // A run that changes one small value: what its save writes into the session's state dir.
        const stateDir = path.join(dataDir, 'sessions', id, 'state');
        const stampsBefore = await fileStamps(stateDir);
        await call(chat, 'execute_python_code', { session_id: id, code: 'small = 2' });
        await settle(server);
        const written = writtenBytes(stampsBefore, await fileStamps(stateDir));
        figures.push({
          label: `bytes a save writes after changing one small value (${size} MB held)`,
          value: written / 1024 / 1024,
          unit: 'MB',
          ...(size >= 100 ? { target: { comparison: 'at-most' as const, limit: 1 } } : {}),
          note: 'new or rewritten files in the session\'s state dir after `small = 2`',
        });
      }
    }
    if (cases.has('mcp-state')) {
      // Beside the numeric frames: a string column pickles per value, not as one raw buffer. No target (a figure to report).
      progress(`mcp-state strings ${STRING_ROWS} rows`);
      const created = await call(chat, 'create_execution_session', {});
      const id = String(created.structured.session_id);
      const held = await call(chat, 'execute_python_code', {
        session_id: id,
        code: `import numpy as np, pandas as pd\ndf = pd.DataFrame({'id': [f'id-{i:08d}' for i in range(${STRING_ROWS})], 'value': np.random.rand(${STRING_ROWS})})\nprint(df.memory_usage(deep=True).sum())`,
      });
      const heldMb = Number(held.structured.stdout ?? NaN) / 1024 / 1024;
      await settle(server);
      const before = recordsOf(id).length;
      const calls = await timedCalls(chat, 'execute_python_code', { session_id: id, code: TRIVIAL_PYTHON }, runs, pauseMs);
      await settle(server);
      const both = runnerBoth(recordsOf(id).slice(before));
      const label = `${STRING_ROWS / 1e6} M rows with a unique-id string column`;
      figures.push({
        label: `trivial Python via /mcp holding ${label}, p50`,
        value: ms(calls.map((c) => c.ms)),
        unit: 'ms',
        note: `${runs} calls, ${pace}; frame ${Number.isFinite(heldMb) ? `${heldMb.toFixed(0)} MB deep` : 'size not reported'}; runner restore+save p50 ${both === null ? 'not reported' : `${both.toFixed(1)} ms`}`,
      });
      const stateDir = path.join(dataDir, 'sessions', id, 'state');
      const stampsBefore = await fileStamps(stateDir);
      await call(chat, 'execute_python_code', { session_id: id, code: 'small = 2' });
      await settle(server);
      figures.push({
        label: `bytes a save writes after changing one small value (${label} held)`,
        value: writtenBytes(stampsBefore, await fileStamps(stateDir)) / 1024 / 1024,
        unit: 'MB',
        note: 'new or rewritten files in the session\'s state dir after `small = 2`',
      });
    }
    if (cases.has('mcp-js')) {
      progress('mcp-js');
      const timedSession = async (setup: string): Promise<{ calls: Called[]; records: PhaseRecord[] }> => {
        const id = String((await call(chat, 'create_execution_session', {})).structured.session_id);
        await call(chat, 'execute_javascript_code', { session_id: id, code: setup });
        await settle(server);
        const before = recordsOf(id).length;
        const calls = await timedCalls(chat, 'execute_javascript_code', { session_id: id, code: TRIVIAL_JS }, runs, pauseMs);
        await settle(server);
        return { calls, records: recordsOf(id).slice(before) };
      };
      const big = await timedSession(`const big = new Float64Array(${10 * MB_FLOATS}).map(() => Math.random());\nconsole.log(big.byteLength);`);
      const both = runnerBoth(big.records);
      const bigP50 = ms(big.calls.map((c) => c.ms));
      if (both !== null) {
        figures.push({
          label: 'JS holding a 10 MB Float64Array: restore+save, p50',
          value: both,
          unit: 'ms',
          target: { comparison: 'at-most', limit: 40 },
          note: `the runner's own restore+save times; end to end via /mcp p50 ${bigP50.toFixed(0)} ms`,
        });
      } else {
        // The runner reports no timings: the end-to-end difference to a session with small state, same server, same pace.
        const small = await timedSession(TRIVIAL_JS);
        const smallP50 = ms(small.calls.map((c) => c.ms));
        figures.push({
          label: 'JS holding a 10 MB Float64Array: restore+save, p50',
          value: bigP50 - smallP50,
          unit: 'ms',
          target: { comparison: 'at-most', limit: 40 },
          note: `the runner reports no timings: end-to-end p50 ${bigP50.toFixed(0)} ms minus ${smallP50.toFixed(0)} ms for small state (noisy on a loaded machine)`,
        });
      }
    }
    await chat.close();
  }, options.executor);
}

async function usersCase(options: McpBenchOptions, figures: Figure[]): Promise<void> {
  if (!options.cases.has('mcp-users')) return;
  for (const users of options.userCounts) {
    for (const kind of ['lean', 'pandas'] as const) {
      progress(`mcp-users ${users} ${kind}`);
      // A fresh server with the shipped settings for each phase: every phase starts from full pools.
      await withServer({ CODECELL_QUEUE_LIMIT: String(Math.max(32, users * 2)) }, async (server) => {
        const clients = await Promise.all(Array.from({ length: users }, (_, index) => connect(server.url, `bench-${kind}-${index}`)));
        await Promise.all(clients.map((client) => call(client, 'execute_python_code', { code: kind === 'pandas' ? 'import numpy as np, pandas as pd\ndf = pd.DataFrame({"a": [1, 2, 3]})' : TRIVIAL_PYTHON })));
        await settle(server);
        let ok = 0;
        let failed = 0;
        const latencies: number[] = [];
        const began = performance.now();
        const deadline = began + options.usersSeconds * 1000;
        await Promise.all(
          clients.map(async (client) => {
            while (performance.now() < deadline) {
              try {
                latencies.push((await call(client, 'execute_python_code', { code: TRIVIAL_PYTHON })).ms);
                ok += 1;
              } catch {
                failed += 1;
              }
            }
          }),
        );
        const rate = ok / ((performance.now() - began) / 1000);
        const target = users === 8 ? (kind === 'lean' ? 8 : 5) : undefined;
        figures.push({
          label: `${users} users, ${kind === 'lean' ? 'lean Python' : 'sessions holding pandas objects'}, via /mcp`,
          value: rate,
          unit: 'runs/s',
          ...(target === undefined ? {} : { target: { comparison: 'at-least' as const, limit: target } }),
          note: `${ok} ok, ${failed} failed in ${options.usersSeconds} s; latency p50 ${ms(latencies).toFixed(0)} ms, p99 ${percentile(latencies, 99).toFixed(0)} ms; shipped pools and concurrency`,
        });
        await Promise.all(clients.map((client) => client.close()));
        await settle(server);
      }, options.executor);
    }
  }
}

function rssBytes(pid: number): number {
  const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(match?.[1] ?? Number.NaN) * 1024;
}

/** The server in a process of its own (its RSS is its own), with empty pools: no code runs in this case. */
async function idleCase(options: McpBenchOptions, figures: Figure[]): Promise<void> {
  if (!options.cases.has('idle')) return;
  progress(`idle ${options.idleSessions} sessions`);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-bench-idle-'));
  const perUser = 100;
  const users = Math.ceil(options.idleSessions / perUser);
  const child = spawn(process.execPath, [SERVER_JS, 'serve'], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: '0',
      CODECELL_API_KEYS: KEY,
      CODECELL_DATA_DIR: dataDir,
      CODECELL_EXECUTOR: options.executor,
      LOG_LEVEL: 'info',
      MAX_SESSIONS: String(options.idleSessions + 10),
      MAX_SESSIONS_PER_USER: String(perUser),
      CODECELL_POOL_PYTHON: '0',
      CODECELL_POOL_PYTHON_LEAN: '0',
      CODECELL_POOL_NODE: '0',
      CODECELL_POOL_BASH: '0',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  try {
    const url = await new Promise<string>((resolve, reject) => {
      const lines = createInterface({ input: child.stderr });
      lines.on('line', (line) => {
        try {
          const record = JSON.parse(line) as { msg?: string; url?: string };
          if (record.msg === 'codecell listening' && record.url) resolve(record.url);
        } catch {
          // not a log line
        }
      });
      child.once('exit', (code) => reject(new Error(`the idle-case server exited early (${code})`)));
    });
    const clients = await Promise.all(Array.from({ length: users }, (_, index) => connect(url, `bench-idle-${index}`)));
    for (const client of clients) await call(client, 'list_execution_sessions', {});
    await sleep(500);
    const rssBefore = rssBytes(child.pid ?? 0);
    let made = 0;
    for (const client of clients) {
      for (let i = 0; i < perUser && made < options.idleSessions; i += 1, made += 1) await call(client, 'create_execution_session', {});
    }
    const lists: number[] = [];
    const lister = clients[0];
    if (!lister) throw new Error('no client');
    for (let i = 0; i < Math.max(10, options.runs); i += 1) lists.push((await call(lister, 'list_execution_sessions', {})).ms);
    await sleep(500);
    const growth = (rssBytes(child.pid ?? 0) - rssBefore) / 1024 / 1024;
    figures.push({ label: `${made} idle sessions: server RSS growth`, value: growth, unit: 'MB', target: { comparison: 'at-most', limit: 50 }, note: `server in its own process; ${users} users × ${perUser} sessions (the shipped per-user cap); RSS read without forcing a GC` });
    figures.push({ label: `${made} idle sessions: list_execution_sessions p50`, value: ms(lists), unit: 'ms', target: { comparison: 'at-most', limit: 50 }, note: `${lists.length} calls by a user holding ${Math.min(perUser, made)} sessions; p99 ${percentile(lists, 99).toFixed(0)} ms` });
    await Promise.all(clients.map((client) => client.close()));
  } finally {
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

export async function benchThroughMcp(options: McpBenchOptions): Promise<McpBenchOutput> {
  const figures: Figure[] = [];
  const sections: string[] = [];
  await latencyCases(options, figures, sections);
  await usersCase(options, figures);
  await idleCase(options, figures);
  return { figures, sections };
}
