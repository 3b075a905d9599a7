/**
 * Runners (containers, or sandboxed processes) started ahead of time, per pool key, so a run does not
 * pay start-up (and, for the scientific Python pool, the heavy imports) on its critical path. A runner
 * leaves the pool for exactly one job and is then thrown away; the pool refills in the background.
 *
 * Each pool's depth follows its demand (pool-sizing.ts): from its minimum (the CODECELL_POOL_*
 * settings) up to CODECELL_POOL_MAX while takes come faster than runners start, within the memory
 * budget, and back to its minimum once the idle window has passed without a take. Starts run in
 * parallel up to the refill CPU budget. Used by both executors.
 */
import PQueue from 'p-queue';
import type { Settings } from '../config/settings.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { POOL_KEYS, poolTarget, type PoolKey } from './pool-key.js';
import { planDepths, READY_FOOTPRINT_BYTES, TakeHistory, type PoolDemand } from './pool-sizing.js';

/** After this many failed starts in a row a pool stops refilling until a take() succeeds. */
const MAX_CONSECUTIVE_FAILURES = 3;
/**
 * A warm container's replacement is started once the job that took it has its answer, or after
 * this long: on a small machine, starting a container (runc, the shim, the runner's warm-up) beside
 * a short run makes that run measurably slower for nothing.
 */
const REFILL_DEFER_MS = 100;
/** Start-up time assumed until one has been measured (a container on a small, busy machine). */
const ASSUMED_START_MS = 1000;
/** Weight of the newest start-up time in the running estimate. */
const START_TIME_WEIGHT = 0.3;

/** What the pool needs of a runner: whether it still runs, and how to throw it away. */
export interface PooledContainer {
  readonly alive: boolean;
  dispose(): Promise<void>;
}

/** Starts one ready runner for `pool`. */
export type ContainerStarter<C extends PooledContainer> = (pool: PoolKey) => Promise<C>;

/** Time and timers for the pool; tests pass a clock they step by hand. */
export interface PoolClock {
  /** Milliseconds from an arbitrary origin, never going back. */
  now(): number;
  /** Runs `task` after `ms` without keeping the process alive; the returned function cancels it. */
  schedule(task: () => void, ms: number): () => void;
}

export const SYSTEM_POOL_CLOCK: PoolClock = {
  now: () => performance.now(),
  schedule(task, ms) {
    const timer = setTimeout(task, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

/** Whether a pool has had its first ready runner (for /readyz); a pool with no target is ready at once. */
export type PoolWarmth = { readonly state: 'ready' | 'warming' } | { readonly state: 'failed'; readonly error: string };

export interface TakenContainer<C extends PooledContainer> {
  readonly runner: C;
  /** True when it came warm from the pool, false when it was started for this job. */
  readonly warm: boolean;
}

export interface WarmPoolDeps<C extends PooledContainer> {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly startContainer: ContainerStarter<C>;
  /** Default: the system clock. */
  readonly clock?: PoolClock;
}

export class WarmPool<C extends PooledContainer> {
  private readonly idle = new Map<PoolKey, C[]>();
  private readonly starting = new Map<PoolKey, number>();
  private readonly failures = new Map<PoolKey, number>();
  /** Jobs waiting for a container that is already starting (sooner than starting another). */
  private readonly waiters = new Map<PoolKey, Array<(runner: C | null) => void>>();
  private readonly takes = new Map<PoolKey, TakeHistory>();
  /** Running estimate of one start-up's duration per pool (ms). */
  private readonly startMs = new Map<PoolKey, number>();
  private readonly starts: PQueue;
  /** Cancels of the deferred refills, per pool. */
  private readonly deferredRefills = new Map<PoolKey, () => void>();
  /** Cancels the next look at idle pools (they shrink once their window has passed). */
  private cancelReview: (() => void) | null = null;
  private readonly listeners = new Set<() => void>();
  /** Removals of runners thrown away while idle (dead, or above the pool's depth); drain() waits for them. */
  private readonly disposals = new Set<Promise<void>>();
  private readonly clock: PoolClock;
  private stopped = false;
  /** Pools that have had a runner start: they stay warm for /readyz even while emptied by takes. */
  private readonly warmed = new Set<PoolKey>();
  /** The last start failure of a pool not yet warmed. */
  private readonly coldFailures = new Map<PoolKey, string>();

  constructor(private readonly deps: WarmPoolDeps<C>) {
    this.clock = deps.clock ?? SYSTEM_POOL_CLOCK;
    this.starts = new PQueue({ concurrency: deps.settings.pool.refillConcurrency });
    for (const key of POOL_KEYS) {
      this.idle.set(key, []);
      this.starting.set(key, 0);
      this.failures.set(key, 0);
      this.waiters.set(key, []);
      this.takes.set(key, new TakeHistory());
    }
  }

  /** Starts filling every pool to its target. */
  fill(): void {
    for (const key of POOL_KEYS) this.refill(key);
  }

  readyCount(key: PoolKey): number {
    return this.idle.get(key)?.length ?? 0;
  }

  sizes(): Record<PoolKey, number> {
    return Object.fromEntries(POOL_KEYS.map((key) => [key, this.readyCount(key)])) as Record<PoolKey, number>;
  }

  /** Per pool: ready once a first runner started, failed when starts fail before that, else warming. */
  warmth(): Record<PoolKey, PoolWarmth> {
    const of = (key: PoolKey): PoolWarmth => {
      if (this.warmed.has(key) || poolTarget(this.deps.settings, key) === 0) return { state: 'ready' };
      const error = this.coldFailures.get(key);
      return error === undefined ? { state: 'warming' } : { state: 'failed', error };
    };
    return Object.fromEntries(POOL_KEYS.map((key) => [key, of(key)])) as Record<PoolKey, PoolWarmth>;
  }

  /** The depth each pool aims at now, from its demand within the budget. */
  targets(): Record<PoolKey, number> {
    const depths = this.plan();
    return Object.fromEntries(POOL_KEYS.map((key) => [key, depths.get(key) ?? 0])) as Record<PoolKey, number>;
  }

  /** Calls `listener` whenever a pool's ready count changes; returns the unsubscribe. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A ready container for `key`: warm from the pool when one is there, else started now. */
  async take(key: PoolKey): Promise<TakenContainer<C>> {
    this.takes.get(key)?.record(this.clock.now());
    this.scheduleReview();
    const idle = this.idle.get(key) ?? [];
    let runner = idle.shift();
    while (runner && !runner.alive) {
      this.disposeIdle(runner);
      runner = idle.shift();
    }
    this.changed(key);
    if (runner) {
      this.deps.metrics.poolHits.inc({ pool: key, result: 'hit' });
      this.refillSoon(key);
      return { runner, warm: true };
    }
    this.refillNow(key);
    const waiters = this.waiters.get(key) ?? [];
    if ((this.starting.get(key) ?? 0) > waiters.length) {
      const promised = new Promise<C | null>((resolve) => waiters.push(resolve));
      // The container this job waits for was meant for the pool: start its replacement now.
      this.refill(key);
      const handed = await promised;
      if (handed) {
        this.deps.metrics.poolHits.inc({ pool: key, result: 'waited' });
        return { runner: handed, warm: false };
      }
    }
    this.deps.metrics.poolHits.inc({ pool: key, result: 'miss' });
    const started = await this.startOne(key);
    this.failures.set(key, 0);
    this.warmed.add(key);
    return { runner: started, warm: false };
  }

  /** Starts the replacements a take() deferred; the executor calls it once a job's answer is known. */
  refillNow(key: PoolKey): void {
    const cancel = this.deferredRefills.get(key);
    if (cancel) {
      cancel();
      this.deferredRefills.delete(key);
    }
    this.refill(key);
  }

  /** Stops refilling and removes every idle container. */
  async drain(): Promise<void> {
    this.stopped = true;
    for (const cancel of this.deferredRefills.values()) cancel();
    this.deferredRefills.clear();
    this.cancelReview?.();
    this.cancelReview = null;
    this.starts.clear();
    for (const waiters of this.waiters.values()) for (const waiter of waiters.splice(0)) waiter(null);
    await this.starts.onIdle();
    const idle = [...this.idle.values()].flat();
    for (const key of POOL_KEYS) this.idle.set(key, []);
    await Promise.all([...idle.map((runner) => runner.dispose()), ...this.disposals]);
    for (const key of POOL_KEYS) this.changed(key);
  }

  private refillSoon(key: PoolKey): void {
    if (this.stopped || this.deferredRefills.has(key)) return;
    this.deferredRefills.set(key, this.clock.schedule(() => this.refillNow(key), REFILL_DEFER_MS));
  }

  /** Every pool's depth from its demand now (takes older than the idle window are forgotten). */
  private plan(): Map<PoolKey, number> {
    const { pool } = this.deps.settings;
    const now = this.clock.now();
    const demands: PoolDemand[] = POOL_KEYS.map((key) => {
      const history = this.takes.get(key) ?? new TakeHistory();
      history.prune(now, pool.idleMs);
      return {
        key,
        min: poolTarget(this.deps.settings, key),
        // A replacement is ready one start-up (plus the refill's deferral) after the take it replaces.
        peakTakes: history.peakWithin((this.startMs.get(key) ?? ASSUMED_START_MS) + REFILL_DEFER_MS),
        recentlyTaken: history.last !== null,
      };
    });
    return planDepths(demands, { max: pool.max, memoryBudgetBytes: pool.memoryBudgetBytes, footprintBytes: READY_FOOTPRINT_BYTES });
  }

  /** Brings `key` to its depth: starts what is missing, or throws away ready runners above it. */
  private refill(key: PoolKey): void {
    if (this.stopped) return;
    const depths = this.plan();
    // The memory budget is shared: this pool's growth may have lowered another's depth, whose
    // surplus goes first (else the pools together would hold more than the budget until a review).
    for (const other of POOL_KEYS) {
      const surplus = this.supply(other) - (depths.get(other) ?? 0);
      if (other !== key && surplus > 0) this.shrink(other, surplus);
    }
    const target = depths.get(key) ?? 0;
    const have = this.supply(key);
    if (have > target) {
      this.shrink(key, have - target);
      return;
    }
    if ((this.failures.get(key) ?? 0) >= MAX_CONSECUTIVE_FAILURES) return;
    for (let missing = target - have; missing > 0; missing -= 1) {
      this.starting.set(key, (this.starting.get(key) ?? 0) + 1);
      void this.starts.add(async () => {
        try {
          if (this.stopped) return;
          const runner = await this.startOne(key);
          if (this.stopped) {
            await runner.dispose();
            return;
          }
          const waiter = this.waiters.get(key)?.shift();
          if (waiter) waiter(runner);
          else this.idle.get(key)?.push(runner);
          this.failures.set(key, 0);
          this.warmed.add(key);
          this.changed(key);
        } catch (error) {
          const failures = (this.failures.get(key) ?? 0) + 1;
          this.failures.set(key, failures);
          if (!this.warmed.has(key)) this.coldFailures.set(key, error instanceof Error ? error.message : String(error));
          this.deps.logger.error({ err: error, pool: key, failures }, 'warm container failed to start');
          this.waiters.get(key)?.shift()?.(null);
        } finally {
          this.starting.set(key, (this.starting.get(key) ?? 1) - 1);
        }
      });
    }
  }

  /** Ready and starting runners of `key`; those already promised to waiting jobs do not count (they never reach the pool). */
  private supply(key: PoolKey): number {
    return this.readyCount(key) + (this.starting.get(key) ?? 0) - (this.waiters.get(key)?.length ?? 0);
  }

  /** Throws away up to `count` ready runners of `key`, the oldest first. */
  private shrink(key: PoolKey, count: number): void {
    const idle = this.idle.get(key) ?? [];
    const surplus = idle.splice(0, Math.min(count, idle.length));
    if (surplus.length === 0) return;
    for (const runner of surplus) this.disposeIdle(runner);
    this.changed(key);
  }

  private disposeIdle(runner: C): void {
    const disposal = runner.dispose().catch(() => undefined);
    this.disposals.add(disposal);
    void disposal.finally(() => this.disposals.delete(disposal));
  }

  /** Looks again once the oldest recent take leaves the window: pools then shrink towards their minimum. */
  private scheduleReview(): void {
    if (this.stopped || this.cancelReview !== null) return;
    const firsts = [...this.takes.values()].map((history) => history.first).filter((at): at is number => at !== null);
    if (firsts.length === 0) return;
    const due = Math.min(...firsts) + this.deps.settings.pool.idleMs + 1 - this.clock.now();
    this.cancelReview = this.clock.schedule(() => {
      this.cancelReview = null;
      if (this.stopped) return;
      for (const key of POOL_KEYS) this.refill(key);
      this.scheduleReview();
    }, Math.max(1, due));
  }

  private async startOne(key: PoolKey): Promise<C> {
    const began = this.clock.now();
    const runner = await this.deps.startContainer(key);
    const took = this.clock.now() - began;
    const estimate = this.startMs.get(key);
    this.startMs.set(key, estimate === undefined ? took : estimate + START_TIME_WEIGHT * (took - estimate));
    this.deps.metrics.containerStart.observe({ pool: key }, took / 1000);
    return runner;
  }

  private changed(key: PoolKey): void {
    this.deps.metrics.poolSize.set({ pool: key }, this.readyCount(key));
    for (const listener of this.listeners) listener();
  }
}
