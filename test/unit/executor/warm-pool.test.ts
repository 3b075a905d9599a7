/**
 * The warm pool's bookkeeping, with fake containers (no Docker): a container handed to a waiting
 * job is replaced, a hit's replacement waits for the job's answer (or a short delay), and a pool
 * is never filled past its target.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';
import { createLogger } from '../../../src/logger.js';
import { Metrics } from '../../../src/metrics/metrics.js';

interface FakeRunner {
  readonly id: number;
  alive: boolean;
  disposed: boolean;
  dispose(): Promise<void>;
}

/** Container starts that have been asked for; each resolves when the test says so. */
const starts: Array<{ pool: string; resolve: (runner: FakeRunner) => void; reject: (error: Error) => void }> = [];
let nextId = 1;
let startCalls = 0;

vi.mock('../../../src/executor/docker/runner-container.js', () => ({
  RunnerContainer: {
    start: (options: { pool: string }) => {
      startCalls += 1;
      return new Promise<FakeRunner>((resolve, reject) => starts.push({ pool: options.pool, resolve, reject }));
    },
  },
}));

const { WarmPool } = await import('../../../src/executor/docker/warm-pool.js');

function fakeRunner(): FakeRunner {
  const runner: FakeRunner = {
    id: nextId++,
    alive: true,
    disposed: false,
    async dispose() {
      runner.disposed = true;
    },
  };
  return runner;
}

/** Lets every pending start finish (and the microtasks after it run). */
async function finishStarts(pool?: string): Promise<number> {
  let finished = 0;
  for (let round = 0; round < 10; round += 1) {
    const ready = starts.filter((start) => pool === undefined || start.pool === pool);
    for (const start of ready) {
      starts.splice(starts.indexOf(start), 1);
      start.resolve(fakeRunner());
      finished += 1;
    }
    await flush();
  }
  return finished;
}

async function flush(): Promise<void> {
  for (let i = 0; i < 20; i += 1) await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
}

function makePool(lean: number) {
  const settings = loadSettings(
    {},
    {
      CODECELL_DATA_DIR: '/tmp/codecell-warm-pool-test',
      CODECELL_POOL_PYTHON: '0',
      CODECELL_POOL_PYTHON_LEAN: String(lean),
      CODECELL_POOL_NODE: '0',
      CODECELL_POOL_BASH: '0',
    },
  );
  return new WarmPool({
    docker: {} as never,
    settings,
    instanceId: 'test',
    slotsRoot: '/tmp/codecell-warm-pool-test/slots',
    logger: createLogger('silent'),
    metrics: new Metrics({ collectProcessMetrics: false }),
  });
}

beforeEach(() => {
  starts.length = 0;
  startCalls = 0;
});

afterEach(() => {
  vi.useRealTimers();
});

describe('warm pool', () => {
  it('fills to its target and hands out warm containers', async () => {
    const pool = makePool(2);
    pool.fill();
    expect(starts).toHaveLength(2);
    await finishStarts();
    expect(pool.readyCount('python-lean')).toBe(2);
    const taken = await pool.take('python-lean');
    expect(taken.warm).toBe(true);
    await pool.drain();
  });

  it('replaces a starting container that a waiting job took, so the pool does not stay empty', async () => {
    const pool = makePool(1);
    pool.fill(); // one start in flight
    expect(starts).toHaveLength(1);
    const taking = pool.take('python-lean'); // nothing ready: waits for the one starting
    await flush();
    // The waiting job's container and a replacement for the pool.
    expect(starts).toHaveLength(2);
    await finishStarts();
    const taken = await taking;
    expect(taken.warm).toBe(false);
    expect(pool.readyCount('python-lean')).toBe(1);
    const next = await pool.take('python-lean');
    expect(next.warm).toBe(true);
    await pool.drain();
  });

  it('starts the replacement of a warm container once the job is answered, not beside it', async () => {
    const pool = makePool(1);
    pool.fill();
    await finishStarts();
    await pool.take('python-lean');
    expect(starts).toHaveLength(0); // deferred while the job runs
    pool.refillNow('python-lean'); // the executor: the job has its answer
    expect(starts).toHaveLength(1);
    await finishStarts();
    expect(pool.readyCount('python-lean')).toBe(1);
    await pool.drain();
  });

  it('starts the replacement after a short delay when the job runs long', async () => {
    vi.useFakeTimers();
    const pool = makePool(1);
    pool.fill();
    starts.shift()?.resolve(fakeRunner());
    await vi.advanceTimersByTimeAsync(0);
    await pool.take('python-lean');
    expect(starts).toHaveLength(0);
    await vi.advanceTimersByTimeAsync(150);
    expect(starts).toHaveLength(1);
    vi.useRealTimers();
    await finishStarts();
    await pool.drain();
  });

  it('never starts more than its target, however many jobs take at once', async () => {
    const pool = makePool(2);
    pool.fill();
    await finishStarts();
    startCalls = 0;
    const takes = [pool.take('python-lean'), pool.take('python-lean'), pool.take('python-lean'), pool.take('python-lean')];
    await finishStarts();
    const taken = await Promise.all(takes);
    // Two were warm; two jobs waited for starts of their own, and the pool was refilled to 2 beside them.
    expect(taken.filter((t) => t.warm)).toHaveLength(2);
    expect(startCalls).toBe(4);
    pool.refillNow('python-lean');
    await finishStarts();
    expect(startCalls).toBe(4);
    expect(pool.readyCount('python-lean')).toBe(2);
    await pool.drain();
  });

  it('skips a warm container that died in the pool', async () => {
    const pool = makePool(2);
    pool.fill();
    await finishStarts();
    const sizes = pool.sizes();
    expect(sizes['python-lean']).toBe(2);
    // A container that exited while idle is thrown away, never handed out.
    const idle = (pool as unknown as { idle: Map<string, FakeRunner[]> }).idle.get('python-lean')!;
    idle[0]!.alive = false;
    const dead = idle[0]!;
    const taken = await pool.take('python-lean');
    expect(taken.warm).toBe(true);
    expect((taken.runner as unknown as FakeRunner).id).not.toBe(dead.id);
    expect(dead.disposed).toBe(true);
    await pool.drain();
  });
});
