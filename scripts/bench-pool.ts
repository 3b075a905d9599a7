/**
 * The warm pool's effect where users feel it, A/B in one run on the same machine: each variant is a
 * fresh engine on a fresh data dir, with the shipped settings except the one under test.
 *
 *   back to back   one session calls a trivial lean Python cell again as soon as answered (an agent
 *                  loop): latency p50/p90
 *   8 sessions     eight sessions doing the same at once, for BENCH_SECONDS: runs per second
 *
 * Variants: "fixed" (CODECELL_POOL_MAX=0: every pool stays at its minimum, as before demand sizing)
 * and "demand" (the shipped default). BENCH_POOL_VARIANTS=demand runs one only.
 * Run: `node dist/scripts/bench-pool.js` (after `npm run build`). Knobs: BENCH_SAMPLES (default 30), BENCH_SECONDS (default 20).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../src/config/settings.js';
import { createEngine } from '../src/engine/create-engine.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics/metrics.js';
import { principalFor } from '../src/sessions/principal.js';

const SAMPLES = Number(process.env.BENCH_SAMPLES ?? 30);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const USERS = 8;
const CODE = 'x = 1\nprint(x + 1)';
const VARIANTS: Record<string, Record<string, string>> = {
  fixed: { CODECELL_POOL_MAX: '0' },
  demand: {},
};

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function measure(variant: string, env: Record<string, string>): Promise<string> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-bench-pool-'));
  const settings = loadSettings({}, { ...process.env, LOG_LEVEL: 'silent', ...env, CODECELL_DATA_DIR: dataDir });
  const metrics = new Metrics({ collectProcessMetrics: false });
  const { engine } = await createEngine({ settings, logger: createLogger('silent'), metrics });
  const takes = async (): Promise<string> => {
    const counted = (await metrics.poolHits.get()).values.filter((value) => value.labels.pool === 'python-lean');
    return ['hit', 'waited', 'miss'].map((result) => `${result} ${counted.find((value) => value.labels.result === result)?.value ?? 0}`).join(', ');
  };
  const principal = principalFor(null, 'bench-pool');
  try {
    const call = async (sessionId: string): Promise<number> => {
      const began = performance.now();
      const result = await engine.execute({ principal, sessionId, language: 'python', code: CODE });
      if (result.stdout.text !== '2\n') throw new Error(`unexpected output: ${JSON.stringify(result.stdout.text)}`);
      return performance.now() - began;
    };
    const loop = (await engine.createSession(principal)).id;
    await call(loop); // the session exists and has state
    const latencies: number[] = [];
    for (let sample = 0; sample < SAMPLES; sample += 1) latencies.push(await call(loop));
    const loopTakes = await takes();

    const sessions = await Promise.all(Array.from({ length: USERS }, async () => (await engine.createSession(principal)).id));
    const until = performance.now() + SECONDS * 1000;
    let runs = 0;
    const began = performance.now();
    await Promise.all(
      sessions.map(async (session) => {
        while (performance.now() < until) {
          await call(session);
          runs += 1;
        }
      }),
    );
    const rate = runs / ((performance.now() - began) / 1000);
    return `| ${variant} | ${percentile(latencies, 50).toFixed(0)} | ${percentile(latencies, 90).toFixed(0)} | ${loopTakes} | ${rate.toFixed(2)} | ${await takes()} |`;
  } finally {
    await engine.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

const chosen = (process.env.BENCH_POOL_VARIANTS ?? 'fixed,demand').split(',');
const rows: string[] = [];
for (const variant of chosen) {
  const env = VARIANTS[variant];
  if (env === undefined) throw new Error(`unknown variant ${variant}`);
  rows.push(await measure(variant, env));
}
console.log(`lean Python, engine level, ${os.cpus().length} cores, load average ${os.loadavg()[0]?.toFixed(1)}\n`);
console.log('| pool sizing | back to back p50 ms | p90 ms | its takes | 8 sessions runs/s | all takes |\n| --- | --- | --- | --- | --- | --- |');
console.log(rows.join('\n'));
