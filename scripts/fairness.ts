/**
 * Fairness: how long a trivial run in session B takes while session A attacks the machine, next to
 * the same with nobody else around. Prints a table; asserts nothing (timings are reported, never
 * tested).
 *
 *   idle        B alone
 *   cpu hog     A runs 8 processes that spin, over and over (each run until its timeout)
 *   fork bomb   A runs a bash fork bomb, over and over
 *   memory bomb A fills its memory limit, over and over
 *
 * B's run is `print(1)` in Python, in its own session, through the real engine (warm pool, slot,
 * container, result). A and B are different sessions; the server runs them side by side
 * (CODECELL_CONCURRENCY, default 2), each container under its CPU quota (CODECELL_CPUS, default 1).
 *
 *   node dist/scripts/fairness.js            (after `npx tsc -p .`)
 *   CODECELL_RUNTIME=runsc node dist/scripts/fairness.js
 * Knobs: FAIRNESS_SAMPLES (default 30), and any Codecell setting in the environment.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings } from '../src/config/settings.js';
import { createEngine } from '../src/engine/create-engine.js';
import type { Engine } from '../src/engine/engine.js';
import type { Language } from '../src/domain/types.js';
import { createLogger } from '../src/logger.js';
import { Metrics } from '../src/metrics/metrics.js';
import { principalFor } from '../src/sessions/principal.js';

const SAMPLES = Number(process.env.FAIRNESS_SAMPLES ?? 30);
const ATTACK_TIMEOUT_MS = 10_000;

const ATTACKS: Record<string, { language: Language; code: string } | null> = {
  idle: null,
  'cpu hog': {
    language: 'python',
    code: 'import multiprocessing\ndef burn():\n    while True: pass\nfor _ in range(8):\n    multiprocessing.Process(target=burn).start()\nburn()',
  },
  'fork bomb': { language: 'bash', code: 'bomb() { bomb | bomb & }; bomb; sleep 60' },
  'memory bomb': { language: 'python', code: 'x = []\nwhile True:\n    x.append(bytearray(16 << 20))' },
};

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

async function measure(engine: Engine, attack: (typeof ATTACKS)[string]): Promise<{ latencies: number[]; attackRuns: number; statuses: Set<string> }> {
  const attacker = principalFor(null, 'fairness-attacker');
  const victim = principalFor(null, 'fairness-victim');
  const victimSession = (await engine.createSession(victim)).id;
  // Warm the victim's session (first run pays for a new state file).
  await engine.execute({ principal: victim, sessionId: victimSession, language: 'python', code: 'print(0)' });

  let stop = false;
  let attackRuns = 0;
  const statuses = new Set<string>();
  const attacking = (async () => {
    if (attack === null) return;
    const session = (await engine.createSession(attacker)).id;
    while (!stop) {
      const result = await engine.execute({ principal: attacker, sessionId: session, language: attack.language, code: attack.code, timeoutMs: ATTACK_TIMEOUT_MS });
      attackRuns += 1;
      statuses.add(result.status);
    }
  })();
  if (attack !== null) await new Promise((resolve) => setTimeout(resolve, 2000)); // let the attack get going

  const latencies: number[] = [];
  for (let sample = 0; sample < SAMPLES; sample += 1) {
    const began = performance.now();
    const result = await engine.execute({ principal: victim, sessionId: victimSession, language: 'python', code: 'print(1)' });
    latencies.push(performance.now() - began);
    if (result.status !== 'ok') throw new Error(`the victim's run failed: ${result.status} ${result.notice ?? ''}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  stop = true;
  await attacking;
  return { latencies: latencies.sort((a, b) => a - b), attackRuns, statuses };
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-fairness-'));
  const settings = loadSettings(process.env, { CODECELL_DATA_DIR: dataDir, LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' });
  const { engine } = await createEngine({ settings, logger: createLogger(settings.logLevel), metrics: new Metrics({ collectProcessMetrics: false }) });
  const rows: string[][] = [];
  try {
    await new Promise((resolve) => setTimeout(resolve, 3000)); // pools fill
    for (const [name, attack] of Object.entries(ATTACKS)) {
      const { latencies, attackRuns, statuses } = await measure(engine, attack);
      rows.push([
        name,
        percentile(latencies, 50).toFixed(0),
        percentile(latencies, 95).toFixed(0),
        (latencies.at(-1) ?? Number.NaN).toFixed(0),
        attack === null ? '' : `${attackRuns} attack run(s): ${[...statuses].join(', ')}`,
      ]);
      console.error(`[fairness] ${name} done`);
    }
  } finally {
    await engine.shutdown();
    rmSync(dataDir, { recursive: true, force: true });
  }
  const { limits, queue, docker } = settings;
  console.log(
    `Trivial Python run in session B (ms), ${SAMPLES} samples each; runtime ${docker.runtime}, ` +
      `${os.cpus().length} CPUs, ${limits.nanoCpus / 1e9} CPU(s) and ${limits.memoryBytes / 1024 / 1024} MiB per container, ` +
      `pids ${limits.pidsLimit}, concurrency ${queue.concurrency}`,
  );
  const header = ['while session A runs', 'p50', 'p95', 'max', 'attack'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  for (const row of [header, widths.map((width) => '-'.repeat(width)), ...rows]) {
    console.log(row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  '));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
