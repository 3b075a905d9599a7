/**
 * A/B of what a session's Python state costs a trivial run: the same engine code, two runner images
 * (BENCH_STATE_BEFORE and BENCH_STATE_AFTER, image prefixes), run side by side, call for call, so
 * that both see the same load. For each state size: a session makes a DataFrame of that size, then
 * trivial calls (`x += 1`), chat-paced, are timed end to end through the engine; also the bytes the
 * session's snapshots grew or were rewritten by (the snapshot file plus any blob file that is new).
 *
 *   node dist/scripts/bench-state.js      (after `npm run build`; env BENCH_STATE_SIZES_MB=3,32,100, BENCH_STATE_CALLS=10)
 */
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../src/config/settings.js';
import { createEngine } from '../src/engine/create-engine.js';
import { Metrics } from '../src/metrics/metrics.js';
import { principalFor } from '../src/sessions/principal.js';

const SIZES_MB = (process.env.BENCH_STATE_SIZES_MB ?? '3,32,100').split(',').map(Number);
const CALLS = Number(process.env.BENCH_STATE_CALLS ?? 10);
const PAUSE_MS = Number(process.env.BENCH_STATE_PAUSE_MS ?? 1000);
const VARIANTS = { before: process.env.BENCH_STATE_BEFORE ?? 'codecell', after: process.env.BENCH_STATE_AFTER ?? 'cc-snappy' };
const principal = principalFor('bench-key', 'bench-user');

/** The runner's own timings of each run, by session (the executor logs them at debug level). */
const runnerTimings = new Map<string, { restoreMs?: number; saveMs?: number }[]>();
/** Whether each run of a session found a warm container (a cold start dwarfs what state costs). */
const warmRuns = new Map<string, boolean[]>();
const logSink = new Writable({
  write(chunk: Buffer, _encoding, done) {
    for (const line of chunk.toString('utf8').split('\n')) {
      if (!line) continue;
      try {
        const record = JSON.parse(line) as { msg?: string; session?: string; warm?: boolean; runner?: { restoreMs?: number; saveMs?: number } };
        if (record.msg === 'execution phases (ms)' && record.session && record.runner) {
          runnerTimings.set(record.session, [...(runnerTimings.get(record.session) ?? []), record.runner]);
          warmRuns.set(record.session, [...(warmRuns.get(record.session) ?? []), record.warm === true]);
        }
      } catch {
        // not a record of ours
      }
    }
    done();
  },
});
const logger = pino({ level: 'debug' }, logSink);

async function startEngine(prefix: string) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-bench-state-'));
  const settings = loadSettings({}, {
    LOG_LEVEL: 'silent',
    CODECELL_IMAGE_PREFIX: prefix,
    CODECELL_DATA_DIR: dataDir,
    CODECELL_MEMORY_MB: '3072',
    CODECELL_SESSION_QUOTA_MB: '4096',
    EXECUTION_TIMEOUT: '120',
    CODECELL_POOL_PYTHON: '1',
    CODECELL_POOL_PYTHON_LEAN: '0',
    CODECELL_POOL_NODE: '0',
    CODECELL_POOL_BASH: '0',
  });
  const { engine } = await createEngine({ settings, logger: logger, metrics: new Metrics({ collectProcessMetrics: false }) });
  return { engine, dataDir, close: async () => { await engine.shutdown(); rmSync(dataDir, { recursive: true, force: true }); } };
}

type Bench = Awaited<ReturnType<typeof startEngine>>;

/** Snapshot files of a session: path → inode, size. */
function snapshotFiles(bench: Bench, sessionId: string): Map<string, { ino: number; size: number }> {
  const files = new Map<string, { ino: number; size: number }>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else {
        const stat = statSync(full);
        files.set(full, { ino: stat.ino, size: stat.size });
      }
    }
  };
  walk(path.join(bench.dataDir, 'sessions', sessionId, 'state'));
  return files;
}

/** Bytes of snapshot files that are new or rewritten since `before`. */
function written(before: Map<string, { ino: number; size: number }>, after: Map<string, { ino: number; size: number }>): number {
  let bytes = 0;
  for (const [file, now] of after) if (before.get(file)?.ino !== now.ino) bytes += now.size;
  return bytes;
}

const p50 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function main(): Promise<void> {
  const benches = { before: await startEngine(VARIANTS.before), after: await startEngine(VARIANTS.after) };
  const rows: string[] = [];
  try {
    for (const sizeMb of SIZES_MB) {
      const rowsOfFrame = Math.round((sizeMb * 1024 * 1024) / (10 * 8));
      const timings = { before: [] as number[], after: [] as number[] };
      const bytes = { before: [] as number[], after: [] as number[] };
      const sessions: Record<string, string> = {};
      for (const key of ['before', 'after'] as const) {
        const bench = benches[key];
        const session = (await bench.engine.createSession(principal)).id;
        sessions[key] = session;
        const made = await bench.engine.execute({
          principal, sessionId: session, language: 'python',
          code: `import numpy as np, pandas as pd\ndf = pd.DataFrame(np.random.rand(${rowsOfFrame}, 10))\nx = 0`,
        });
        if (made.status !== 'ok' || !made.stateSaved) throw new Error(`${key}: could not make the frame: ${JSON.stringify(made.error ?? made.notice)}`);
      }
      for (let call = 0; call < CALLS; call++) {
        for (const key of call % 2 === 0 ? (['before', 'after'] as const) : (['after', 'before'] as const)) {
          const bench = benches[key];
          const session = sessions[key] ?? '';
          const files = snapshotFiles(bench, session);
          await sleep(PAUSE_MS);
          const began = performance.now();
          const result = await bench.engine.execute({ principal, sessionId: session, language: 'python', code: 'x += 1' });
          timings[key].push(performance.now() - began);
          if (result.status !== 'ok' || !result.stateSaved) throw new Error(`${key}: trivial call failed: ${JSON.stringify(result.error ?? result.notice)}`);
          bytes[key].push(written(files, snapshotFiles(bench, session)));
        }
      }
      const ms = (key: 'before' | 'after') => p50(timings[key]).toFixed(0);
      const kb = (key: 'before' | 'after') => (p50(bytes[key]) / 1024).toFixed(0);
      // Restore + save as the runner timed them, for the trivial calls only (the first run made the frame).
      const stateMs = (key: 'before' | 'after') =>
        p50((runnerTimings.get(sessions[key] ?? '') ?? []).slice(1).map((timing) => (timing.restoreMs ?? NaN) + (timing.saveMs ?? NaN)));
      const cold = (key: 'before' | 'after') => (warmRuns.get(sessions[key] ?? '') ?? []).slice(1).filter((warm) => !warm).length;
      rows.push(
        `| ${sizeMb} MB | ${ms('before')} ms (${cold('before')} cold) | ${ms('after')} ms (${cold('after')} cold) | ${stateMs('before').toFixed(1)} ms | ${stateMs('after').toFixed(1)} ms | ${(stateMs('before') / stateMs('after')).toFixed(0)}× | ${kb('before')} KB | ${kb('after')} KB |`,
      );
      console.error(rows.at(-1));
    }
  } finally {
    await benches.before.close();
    await benches.after.close();
  }
  console.log(`\nTrivial Python call (\`x += 1\`) in a session holding a DataFrame, end to end through the engine, p50 of ${CALLS}, chat-paced (${PAUSE_MS} ms), ${VARIANTS.before} vs ${VARIANTS.after} images side by side:\n`);
  console.log('| state | end to end, before | after | restore + save (runner), before | after | ratio | snapshot bytes written, before | after |');
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
}

await main();
