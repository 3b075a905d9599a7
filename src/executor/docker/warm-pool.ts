/**
 * Containers started ahead of time, per pool key, so a run does not pay container start-up (and, for
 * the scientific Python pool, the heavy imports) on its critical path. A container leaves the pool
 * for exactly one job and is then thrown away; the pool refills in the background.
 */
import type Docker from 'dockerode';
import PQueue from 'p-queue';
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { POOL_KEYS, poolTarget, type PoolKey } from '../pool-key.js';
import { RunnerContainer } from './runner-container.js';

/** After this many failed starts in a row a pool stops refilling until a take() succeeds. */
const MAX_CONSECUTIVE_FAILURES = 3;
/**
 * A warm container's replacement is started once the job that took it has its answer, or after
 * this long: on a small machine, starting a container (runc, the shim, the runner's warm-up) beside
 * a short run makes that run measurably slower for nothing.
 */
const REFILL_DEFER_MS = 100;

/** What the pool needs of a container: whether it still runs, and how to throw it away. */
export interface PooledContainer {
  readonly alive: boolean;
  dispose(): Promise<void>;
}

/** Starts one ready container for `pool`. */
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

export interface TakenContainer<C extends PooledContainer = RunnerContainer> {
  readonly runner: C;
  /** True when it came warm from the pool, false when it was started for this job. */
  readonly warm: boolean;
}

interface PoolCommonDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Default: the system clock. */
  readonly clock?: PoolClock;
}

/** The production pool: RunnerContainers started on this Docker engine. */
interface DockerStarterDeps {
  readonly docker: Docker;
  readonly instanceId: string;
  readonly slotsRoot: string;
}

export type WarmPoolDeps<C extends PooledContainer> = PoolCommonDeps &
  ({ readonly startContainer: ContainerStarter<C> } | (RunnerContainer extends C ? DockerStarterDeps : never));

function dockerStarter(deps: DockerStarterDeps & PoolCommonDeps): ContainerStarter<RunnerContainer> {
  return (pool) =>
    RunnerContainer.start({
      docker: deps.docker,
      settings: deps.settings,
      instanceId: deps.instanceId,
      slotsRoot: deps.slotsRoot,
      pool,
      logger: deps.logger,
    });
}

export class WarmPool<C extends PooledContainer = RunnerContainer> {
  private readonly idle = new Map<PoolKey, C[]>();
  private readonly starting = new Map<PoolKey, number>();
  private readonly failures = new Map<PoolKey, number>();
  /** Jobs waiting for a container that is already starting (sooner than starting another). */
  private readonly waiters = new Map<PoolKey, Array<(runner: C | null) => void>>();
  private readonly starts: PQueue;
  /** Cancels of the deferred refills, per pool. */
  private readonly deferredRefills = new Map<PoolKey, () => void>();
  private readonly startContainer: ContainerStarter<C>;
  private readonly clock: PoolClock;
  private stopped = false;
  /** Pools that have had a runner start: they stay warm for /readyz even while emptied by takes. */
  private readonly warmed = new Set<PoolKey>();
  /** The last start failure of a pool not yet warmed. */
  private readonly coldFailures = new Map<PoolKey, string>();

  constructor(private readonly deps: WarmPoolDeps<C>) {
    // Without a starter the deps type admits only C = RunnerContainer, so the docker starter fits.
    this.startContainer = 'startContainer' in deps ? deps.startContainer : (dockerStarter(deps) as unknown as ContainerStarter<C>);
    this.clock = deps.clock ?? SYSTEM_POOL_CLOCK;
    // Refills run two at a time: enough to keep up with a busy server, without starving running jobs.
    this.starts = new PQueue({ concurrency: 2 });
    for (const key of POOL_KEYS) {
      this.idle.set(key, []);
      this.starting.set(key, 0);
      this.failures.set(key, 0);
      this.waiters.set(key, []);
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

  /** A ready container for `key`: warm from the pool when one is there, else started now. */
  async take(key: PoolKey): Promise<TakenContainer<C>> {
    const idle = this.idle.get(key) ?? [];
    let runner = idle.shift();
    while (runner && !runner.alive) {
      void runner.dispose();
      runner = idle.shift();
    }
    this.updateGauge(key);
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
    this.starts.clear();
    for (const waiters of this.waiters.values()) for (const waiter of waiters.splice(0)) waiter(null);
    await this.starts.onIdle();
    const idle = [...this.idle.values()].flat();
    for (const key of POOL_KEYS) this.idle.set(key, []);
    await Promise.all(idle.map((runner) => runner.dispose()));
    for (const key of POOL_KEYS) this.updateGauge(key);
  }

  private refillSoon(key: PoolKey): void {
    if (this.stopped || this.deferredRefills.has(key)) return;
    this.deferredRefills.set(key, this.clock.schedule(() => this.refillNow(key), REFILL_DEFER_MS));
  }

  private refill(key: PoolKey): void {
    if (this.stopped) return;
    const target = poolTarget(this.deps.settings, key);
    // Containers already promised to waiting jobs do not count: they will never reach the pool.
    const have = this.readyCount(key) + (this.starting.get(key) ?? 0) - (this.waiters.get(key)?.length ?? 0);
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
          this.updateGauge(key);
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

  private async startOne(key: PoolKey): Promise<C> {
    const began = this.clock.now();
    const runner = await this.startContainer(key);
    this.deps.metrics.containerStart.observe({ pool: key }, (this.clock.now() - began) / 1000);
    return runner;
  }

  private updateGauge(key: PoolKey): void {
    this.deps.metrics.poolSize.set({ pool: key }, this.readyCount(key));
  }
}
