/**
 * How many ready runners each warm pool should hold, from its recent demand (pure: no timers, no
 * Docker). A pool must cover the takes that arrive while a replacement starts: the most takes seen
 * within one start-up time, over the idle window, covers both a steady rate (an agent loop calling
 * back to back) and a burst (eight users at once). A kind taken recently keeps at least one ready
 * (the session that just ran is likely to run again). Growth above the configured minimums shares a
 * memory budget; each pool stays within [its minimum, the maximum].
 */
import type { PoolKey } from './pool-key.js';

const MIB = 1024 * 1024;

/**
 * What one idle ready runner of a kind holds in memory, about (RSS of the runner and its init,
 * measured here with `docker stats` on warm containers): the scientific Python pool has numpy,
 * pandas and matplotlib imported; the others are a bare interpreter.
 */
export const READY_FOOTPRINT_BYTES: Readonly<Record<PoolKey, number>> = {
  python: 110 * MIB,
  'python-lean': 16 * MIB,
  node: 48 * MIB,
  bash: 8 * MIB,
  gcc: 8 * MIB,
  go: 8 * MIB,
  java: 8 * MIB,
  rust: 8 * MIB,
  php: 8 * MIB,
  r: 8 * MIB,
};

/** The recent take times of one pool, oldest first (ms on the pool's clock). */
export class TakeHistory {
  private readonly times: number[] = [];

  record(at: number): void {
    this.times.push(at);
  }

  /** Forgets takes older than `windowMs` before `now`. */
  prune(now: number, windowMs: number): void {
    const cutoff = now - windowMs;
    let drop = 0;
    while (drop < this.times.length && (this.times[drop] ?? Infinity) < cutoff) drop += 1;
    this.times.splice(0, drop);
  }

  get first(): number | null {
    return this.times[0] ?? null;
  }

  get last(): number | null {
    return this.times.at(-1) ?? null;
  }

  /** The most takes that fell within any span of `spanMs` (takes kept by the last prune). */
  peakWithin(spanMs: number): number {
    let peak = 0;
    let first = 0;
    for (let index = 0; index < this.times.length; index += 1) {
      const at = this.times[index] ?? 0;
      while ((this.times[first] ?? at) < at - spanMs) first += 1;
      peak = Math.max(peak, index - first + 1);
    }
    return peak;
  }
}

export interface PoolDemand {
  readonly key: PoolKey;
  /** The configured minimum (CODECELL_POOL_*). */
  readonly min: number;
  /** Most takes within one start-up time over the window. */
  readonly peakTakes: number;
  /** Whether the pool was taken from within the window. */
  readonly recentlyTaken: boolean;
}

export interface SizingLimits {
  /** Upper bound of any pool's depth (a minimum above it wins). */
  readonly max: number;
  /** Bytes the ready runners above their minimums may hold together. */
  readonly memoryBudgetBytes: number;
  readonly footprintBytes: Readonly<Record<PoolKey, number>>;
}

/** What each pool asks for on its own: its minimum, one when taken recently, its peak of takes; within the max. */
export function wantedDepth(demand: PoolDemand, max: number): number {
  const byDemand = Math.max(demand.recentlyTaken ? 1 : 0, demand.peakTakes);
  return Math.max(demand.min, Math.min(max, byDemand));
}

/**
 * The depth of every pool: its minimum always, then the growth demand asks for, one runner at a time
 * round the pools (the one short of the most first), while the memory budget lasts.
 */
export function planDepths(demands: readonly PoolDemand[], limits: SizingLimits): Map<PoolKey, number> {
  const depths = new Map<PoolKey, number>(demands.map((demand) => [demand.key, demand.min]));
  const wanted = new Map<PoolKey, number>(demands.map((demand) => [demand.key, wantedDepth(demand, limits.max)]));
  let budget = limits.memoryBudgetBytes;
  for (;;) {
    let pick: PoolKey | null = null;
    let shortBy = 0;
    for (const demand of demands) {
      const missing = (wanted.get(demand.key) ?? 0) - (depths.get(demand.key) ?? 0);
      if (missing > shortBy && limits.footprintBytes[demand.key] <= budget) {
        pick = demand.key;
        shortBy = missing;
      }
    }
    if (pick === null) return depths;
    budget -= limits.footprintBytes[pick];
    depths.set(pick, (depths.get(pick) ?? 0) + 1);
  }
}

/**
 * The most ready runners the pools can hold at once: their minimums, plus the growth the maximum
 * and the memory budget allow to the pools that can grow (each grown runner costs at least the
 * smallest footprint).
 */
export function maxReadyRunners(
  pools: ReadonlyArray<{ readonly min: number; readonly grows: boolean }>,
  limits: { readonly max: number; readonly memoryBudgetBytes: number },
): number {
  const base = pools.reduce((sum, pool) => sum + pool.min, 0);
  const growthByMax = pools.reduce((sum, pool) => sum + (pool.grows ? Math.max(0, limits.max - pool.min) : 0), 0);
  const smallest = Math.min(...Object.values(READY_FOOTPRINT_BYTES));
  return base + Math.min(growthByMax, Math.floor(limits.memoryBudgetBytes / smallest));
}
