/**
 * The warm pool with real containers: a burst of takes deepens the pool (up to its maximum) with
 * ready containers that answer, and once the idle window has passed without a take it shrinks back
 * to its minimum, the surplus containers removed. Observed through the pool's change signal.
 */
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { RunnerContainer } from '../../src/executor/docker/runner-container.js';
import { WarmPool } from '../../src/executor/warm-pool.js';
import { createLogger } from '../../src/logger.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { TEST_IMAGES } from '../helpers/engine.js';

const POOL = 'python-lean';
const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-pool-demand-'));
const slotsRoot = path.join(dataDir, 'slots');
mkdirSync(slotsRoot);
const settings = loadSettings(
  {},
  {
    LOG_LEVEL: 'silent',
    ...TEST_IMAGES,
    CODECELL_DATA_DIR: dataDir,
    CODECELL_POOL_PYTHON: '0',
    CODECELL_POOL_PYTHON_LEAN: '1',
    CODECELL_POOL_NODE: '0',
    CODECELL_POOL_BASH: '0',
    CODECELL_POOL_MAX: '3',
    // Long enough that the burst is still within it once its containers have started on a busy machine.
    CODECELL_POOL_IDLE_SECONDS: '30',
  },
);
const docker = new Docker({ socketPath: settings.docker.socketPath });
const logger = createLogger('silent');
const metrics = new Metrics({ collectProcessMetrics: false });
const pool = new WarmPool<RunnerContainer>({
  settings,
  logger,
  metrics,
  startContainer: (key) => RunnerContainer.start({ docker, settings, instanceId: 'pool-demand-test', slotsRoot, pool: key, logger }),
});

/** Resolves once `test` holds, checked at every change of the pool. */
function poolReaches(test: () => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (test()) return resolve();
    const stop = pool.onChange(() => {
      if (!test()) return;
      stop();
      resolve();
    });
  });
}

async function gauge(): Promise<number | undefined> {
  const metric = await metrics.poolSize.get();
  return metric.values.find((value) => value.labels.pool === POOL)?.value;
}

afterAll(async () => {
  await pool.drain();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('warm pool depth with real containers', () => {
  it('grows after a burst, its containers run code, and it shrinks back to its minimum when idle', { timeout: 180_000 }, async () => {
    pool.fill();
    await poolReaches(() => pool.readyCount(POOL) === 1);
    expect(pool.sizes().python).toBe(0);

    const burst = await Promise.all([pool.take(POOL), pool.take(POOL), pool.take(POOL), pool.take(POOL)]);
    expect(burst.filter((taken) => taken.warm)).toHaveLength(1);
    await Promise.all(burst.map(async ({ runner }) => runner.kill().then(() => runner.dispose())));
    pool.refillNow(POOL);
    expect(pool.targets()[POOL]).toBe(3);
    await poolReaches(() => pool.readyCount(POOL) === 3);
    expect(await gauge()).toBe(3);

    // A grown pool's container is as good as any: it runs a job.
    const { runner } = await pool.take(POOL);
    const out: Buffer[] = [];
    const outcome = await runner.run(
      { v: 1, nonce: 'a'.repeat(32), code: 'print(6 * 7)', restore: false, maxImages: 0, sourceLanguage: 'python', args: [] },
      { onStdout: (bytes) => out.push(bytes), onStderr: () => undefined, timeoutMs: 60_000, signal: new AbortController().signal },
    );
    expect(outcome.end.kind).toBe('result');
    expect(Buffer.concat(out).toString()).toBe('42\n');
    await runner.kill();
    await runner.dispose();
    pool.refillNow(POOL);

    // No take for the idle window: back to the minimum, the surplus removed.
    await poolReaches(() => pool.readyCount(POOL) === 1 && pool.targets()[POOL] === 1);
    expect(await gauge()).toBe(1);
  });
});
