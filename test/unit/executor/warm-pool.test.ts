/**
 * The warm pool's bookkeeping, with a fake container starter and a clock stepped by hand (no Docker,
 * no timers): a container handed to a waiting job is replaced, a hit's replacement waits for the
 * job's answer (or a short delay), a pool ends at its target, and failed starts stop refilling; a
 * pool grows with demand within its maximum and memory budget, and shrinks back once idle.
 */
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';
import type { PoolKey } from '../../../src/executor/pool-key.js';
import { WarmPool, type PoolClock, type PooledContainer } from '../../../src/executor/warm-pool.js';
import { createLogger } from '../../../src/logger.js';
import { Metrics } from '../../../src/metrics/metrics.js';

const POOL: PoolKey = 'python-lean';

class FakeContainer implements PooledContainer {
  alive = true;
  disposed = false;
  constructor(readonly id: number) {}
  async dispose(): Promise<void> {
    this.disposed = true;
  }
}

/** Container starts the pool asked for; each one finishes (or fails) when the test says so. */
class FakeStarter {
  readonly pending: Array<{ pool: PoolKey; resolve: (container: FakeContainer) => void; reject: (error: Error) => void }> = [];
  calls = 0;
  private nextId = 1;

  readonly start = (pool: PoolKey): Promise<FakeContainer> => {
    this.calls += 1;
    return new Promise((resolve, reject) => this.pending.push({ pool, resolve, reject }));
  };

  /** Finishes every start asked for so far and those they cause, until none is left. */
  async finishAll(): Promise<void> {
    for (let round = 0; round < 10; round += 1) {
      for (const start of this.pending.splice(0)) start.resolve(new FakeContainer(this.nextId++));
      await settle();
    }
  }

  /** Finishes the oldest pending starts with these containers, in order. */
  async finishWith(...containers: FakeContainer[]): Promise<void> {
    for (const container of containers) {
      const start = this.pending.shift();
      if (start === undefined) throw new Error('no start is pending');
      start.resolve(container);
    }
    await settle();
  }

  async failAll(): Promise<void> {
    for (const start of this.pending.splice(0)) start.reject(new Error('engine said no'));
    await settle();
  }
}

/** A clock that moves only when the test advances it, firing what falls due. */
class ManualClock implements PoolClock {
  private at = 0;
  private readonly tasks = new Set<{ due: number; task: () => void }>();

  now(): number {
    return this.at;
  }

  schedule(task: () => void, ms: number): () => void {
    const entry = { due: this.at + ms, task };
    this.tasks.add(entry);
    return () => this.tasks.delete(entry);
  }

  get scheduled(): number {
    return this.tasks.size;
  }

  advance(ms: number): void {
    this.at += ms;
    for (const entry of [...this.tasks].sort((a, b) => a.due - b.due)) {
      if (entry.due > this.at) continue;
      this.tasks.delete(entry);
      entry.task();
    }
  }
}

/** Lets the pool's promise continuations (start finished → pool or waiter) run. */
async function settle(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
}

/** A pool whose python-lean minimum is `target`; by default it may not grow above it. */
function makePool(target: number, env: Record<string, string> = {}) {
  const settings = loadSettings(
    {},
    {
      CODECELL_DATA_DIR: '/tmp/codecell-warm-pool-test',
      CODECELL_POOL_PYTHON: '0',
      CODECELL_POOL_PYTHON_LEAN: String(target),
      CODECELL_POOL_NODE: '0',
      CODECELL_POOL_BASH: '0',
      CODECELL_POOL_MAX: String(target),
      CODECELL_POOL_REFILL_CPUS: '2',
      CODECELL_POOL_IDLE_SECONDS: '60',
      ...env,
    },
  );
  const starter = new FakeStarter();
  const clock = new ManualClock();
  const pool = new WarmPool<FakeContainer>({
    settings,
    logger: createLogger('silent'),
    metrics: new Metrics({ collectProcessMetrics: false }),
    startContainer: starter.start,
    clock,
  });
  return { pool, starter, clock };
}

describe('warm pool', () => {
  it('fills to its target and hands out warm containers', async () => {
    const { pool, starter } = makePool(2);
    pool.fill();
    expect(starter.pending).toHaveLength(2);
    await starter.finishAll();
    expect(pool.readyCount(POOL)).toBe(2);
    expect(pool.sizes()).toEqual({ python: 0, 'python-lean': 2, node: 0, bash: 0, gcc: 0, go: 0, java: 0, rust: 0, php: 0, r: 0 });
    const taken = await pool.take(POOL);
    expect(taken.warm).toBe(true);
    expect(pool.readyCount(POOL)).toBe(1);
    await pool.drain();
  });

  it('replaces a starting container that a waiting job took, so the pool does not stay empty', async () => {
    const { pool, starter } = makePool(1);
    pool.fill(); // one start in flight
    expect(starter.pending).toHaveLength(1);
    const taking = pool.take(POOL); // nothing ready: waits for the one starting
    await settle();
    // The waiting job's container and a replacement for the pool.
    expect(starter.pending).toHaveLength(2);
    await starter.finishAll();
    const taken = await taking;
    expect(taken.warm).toBe(false);
    expect(pool.readyCount(POOL)).toBe(1);
    const next = await pool.take(POOL);
    expect(next.warm).toBe(true);
    await pool.drain();
  });

  it('starts the replacement of a warm container once the job is answered, not beside it', async () => {
    const { pool, starter } = makePool(1);
    pool.fill();
    await starter.finishAll();
    await pool.take(POOL);
    expect(starter.pending).toHaveLength(0); // deferred while the job runs
    pool.refillNow(POOL); // the executor: the job has its answer
    expect(starter.pending).toHaveLength(1);
    await starter.finishAll();
    expect(pool.readyCount(POOL)).toBe(1);
    await pool.drain();
  });

  it('starts the replacement after a short delay when the job runs long', async () => {
    const { pool, starter, clock } = makePool(1);
    pool.fill();
    await starter.finishAll();
    await pool.take(POOL);
    expect(starter.pending).toHaveLength(0);
    clock.advance(50);
    expect(starter.pending).toHaveLength(0);
    clock.advance(100);
    expect(starter.pending).toHaveLength(1);
    await starter.finishAll();
    expect(pool.readyCount(POOL)).toBe(1);
    await pool.drain();
  });

  it('serves a burst with one start per job that found it empty, and ends at its target, not above', async () => {
    const target = 2;
    const { pool, starter } = makePool(target);
    pool.fill();
    await starter.finishAll();
    const startsForFill = starter.calls;
    expect(startsForFill).toBe(target);

    const jobs = 4;
    const takes = Array.from({ length: jobs }, () => pool.take(POOL));
    await starter.finishAll();
    const taken = await Promise.all(takes);
    const cold = taken.filter((t) => !t.warm).length;
    expect(jobs - cold).toBe(target); // the warm ones
    // Every job got its own container, and the pool was refilled to its target beside them.
    expect(new Set(taken.map((t) => t.runner.id)).size).toBe(jobs);
    expect(starter.calls - startsForFill).toBe(cold + target);
    expect(pool.readyCount(POOL)).toBe(target);

    // The executor's refill after the answers finds the pool full: nothing more starts.
    pool.refillNow(POOL);
    await starter.finishAll();
    expect(starter.calls - startsForFill).toBe(cold + target);
    expect(pool.readyCount(POOL)).toBe(target);
    await pool.drain();
  });

  it('skips a warm container that died in the pool, and throws it away', async () => {
    const { pool, starter } = makePool(2);
    pool.fill();
    const dead = new FakeContainer(100);
    const alive = new FakeContainer(101);
    await starter.finishWith(dead, alive);
    expect(pool.readyCount(POOL)).toBe(2);
    dead.alive = false; // exited while idle
    const taken = await pool.take(POOL);
    expect(taken).toEqual({ runner: alive, warm: true });
    expect(dead.disposed).toBe(true);
    await pool.drain();
  });

  it('stops refilling after three failed starts in a row, and a job still gets a container of its own', async () => {
    const { pool, starter } = makePool(1);
    pool.fill();
    await starter.failAll();
    pool.refillNow(POOL);
    await starter.failAll();
    pool.refillNow(POOL);
    await starter.failAll();
    expect(starter.calls).toBe(3);
    pool.refillNow(POOL);
    expect(starter.pending).toHaveLength(0); // given up until a start succeeds
    const taking = pool.take(POOL);
    await settle();
    expect(starter.pending).toHaveLength(1); // the job's own start
    await starter.finishAll();
    expect((await taking).warm).toBe(false);
    await pool.drain();
  });

  it('drains: idle containers are disposed, deferred refills cancelled, nothing starts afterwards', async () => {
    const { pool, starter, clock } = makePool(2);
    pool.fill();
    const [a, b] = [new FakeContainer(1), new FakeContainer(2)];
    await starter.finishWith(a, b);
    const taken = await pool.take(POOL);
    expect(clock.scheduled).toBe(2); // the hit's deferred refill, and the look at the pool once idle
    await pool.drain();
    expect(pool.readyCount(POOL)).toBe(0);
    expect(clock.scheduled).toBe(0);
    expect([a, b].filter((c) => c.disposed)).toEqual([taken.runner === a ? b : a]); // the taken one is the job's
    pool.fill();
    clock.advance(1000);
    expect(starter.pending).toHaveLength(0);
  });

  it('grows with a burst of takes up to its maximum, then shrinks back to its minimum once idle', async () => {
    const { pool, starter, clock } = makePool(1, { CODECELL_POOL_MAX: '4' });
    pool.fill();
    await starter.finishAll();
    expect(pool.targets()['python-lean']).toBe(1);
    const takes = Array.from({ length: 5 }, () => pool.take(POOL)); // five jobs at once
    await starter.finishAll();
    await Promise.all(takes);
    pool.refillNow(POOL);
    await starter.finishAll();
    expect(pool.targets()['python-lean']).toBe(4); // five takes within one start-up: as deep as allowed
    expect(pool.readyCount(POOL)).toBe(4);

    const changes: number[] = [];
    pool.onChange(() => changes.push(pool.readyCount(POOL)));
    clock.advance(60_001); // the idle window passes without a take
    expect(pool.readyCount(POOL)).toBe(1);
    expect(changes.at(-1)).toBe(1);
    expect(pool.targets()['python-lean']).toBe(1);
    await pool.drain();
  });

  it('covers an agent loop: takes faster than a start-up keep more than one ready', async () => {
    const { pool, starter, clock } = makePool(1, { CODECELL_POOL_MAX: '8' });
    pool.fill();
    clock.advance(1000); // one start-up takes a second here
    await starter.finishAll();
    // A job every 250 ms, each answered at once, while no start finishes: five fall within one start-up.
    const takes: Array<Promise<unknown>> = [];
    for (let call = 0; call < 6; call += 1) {
      takes.push(pool.take(POOL));
      await settle();
      pool.refillNow(POOL);
      clock.advance(250);
    }
    expect(pool.targets()['python-lean']).toBe(5);
    await starter.finishAll();
    await Promise.all(takes);
    expect(pool.readyCount(POOL)).toBe(5);
    await pool.drain();
  });

  it('keeps one ready of a kind just taken, even when its minimum is 0, until the window passes', async () => {
    const { pool, starter, clock } = makePool(0, { CODECELL_POOL_MAX: '4' });
    pool.fill();
    expect(starter.pending).toHaveLength(0);
    const taking = pool.take(POOL); // nothing ready: started for the job
    await starter.finishAll();
    expect((await taking).warm).toBe(false);
    pool.refillNow(POOL);
    await starter.finishAll();
    expect(pool.readyCount(POOL)).toBe(1);
    clock.advance(60_001);
    expect(pool.readyCount(POOL)).toBe(0);
    await pool.drain();
  });

  it('grows no further than the memory budget allows above the minimum', async () => {
    // 16 MiB per ready lean runner: a 40 MiB budget pays for two above the minimum.
    const { pool, starter } = makePool(1, { CODECELL_POOL_MAX: '8', CODECELL_POOL_MEMORY_MB: '40' });
    pool.fill();
    await starter.finishAll();
    const takes = Array.from({ length: 6 }, () => pool.take(POOL));
    await starter.finishAll();
    await Promise.all(takes);
    pool.refillNow(POOL);
    await starter.finishAll();
    expect(pool.targets()['python-lean']).toBe(3);
    expect(pool.readyCount(POOL)).toBe(3);
    await pool.drain();
  });

  it('keeps the ready runners of all pools within the memory budget when demand moves to another pool', async () => {
    // 16 MiB per lean runner, 48 MiB per node runner: 128 MiB pays for eight lean, or fewer of both.
    const { pool, starter } = makePool(0, { CODECELL_POOL_MAX: '8', CODECELL_POOL_MEMORY_MB: '128' });
    const burst = async (key: PoolKey): Promise<void> => {
      const takes = Array.from({ length: 8 }, () => pool.take(key));
      await starter.finishAll();
      await Promise.all(takes);
      pool.refillNow(key);
      await starter.finishAll();
    };
    await burst(POOL);
    expect(pool.readyCount(POOL)).toBe(8);
    await burst('node');
    const readyBytes = pool.readyCount(POOL) * 16 + pool.readyCount('node') * 48;
    expect(pool.readyCount('node')).toBeGreaterThan(0);
    expect(readyBytes).toBeLessThanOrEqual(128);
    await pool.drain();
  });

  it('starts no more at once than the refill CPU budget', async () => {
    const { pool, starter } = makePool(5, { CODECELL_POOL_REFILL_CPUS: '2' });
    pool.fill();
    await settle();
    expect(starter.pending).toHaveLength(2);
    await starter.finishWith(new FakeContainer(1));
    expect(starter.pending).toHaveLength(2); // the next one started as one finished
    await starter.finishAll();
    expect(pool.readyCount(POOL)).toBe(5);
    await pool.drain();
  });

  it('with a maximum of 0 stays at its minimum after a take (a one-shot CLI run starts nothing more)', async () => {
    const { pool, starter } = makePool(0, { CODECELL_POOL_MAX: '0' });
    const taking = pool.take(POOL);
    await starter.finishAll();
    expect((await taking).warm).toBe(false);
    pool.refillNow(POOL);
    await settle();
    expect(starter.calls).toBe(1); // the job's own start only
    expect(pool.targets()['python-lean']).toBe(0);
    await pool.drain();
  });
});

describe('warm pool warmth (for /readyz)', () => {
  it('is warming until the first runner, then ready, and stays ready when a take empties it', async () => {
    const { pool, starter } = makePool(1);
    expect(pool.warmth()[POOL]).toEqual({ state: 'warming' });
    // Pools with no target have nothing to wait for.
    expect(pool.warmth().node).toEqual({ state: 'ready' });
    pool.fill();
    await starter.finishWith(new FakeContainer(1));
    expect(pool.warmth()[POOL]).toEqual({ state: 'ready' });
    await pool.take(POOL);
    expect(pool.readyCount(POOL)).toBe(0);
    expect(pool.warmth()[POOL]).toEqual({ state: 'ready' });
    await pool.drain();
  });

  it('is failed, with the error, when starts fail before the first runner, and ready once one starts', async () => {
    const { pool, starter } = makePool(1);
    pool.fill();
    await starter.failAll();
    expect(pool.warmth()[POOL]).toEqual({ state: 'failed', error: 'engine said no' });
    pool.refillNow(POOL);
    await starter.finishAll();
    expect(pool.warmth()[POOL]).toEqual({ state: 'ready' });
    await pool.drain();
  });
});
