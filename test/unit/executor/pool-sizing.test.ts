/** The warm pools' sizing from demand, without a pool: peaks of takes, depths within max and budget. */
import { describe, expect, it } from 'vitest';
import { maxReadyRunners, planDepths, READY_FOOTPRINT_BYTES, TakeHistory, wantedDepth, type PoolDemand } from '../../../src/executor/pool-sizing.js';

const MIB = 1024 * 1024;

function history(...times: number[]): TakeHistory {
  const takes = new TakeHistory();
  for (const at of times) takes.record(at);
  return takes;
}

function demand(key: PoolDemand['key'], min: number, peakTakes: number, recentlyTaken = peakTakes > 0): PoolDemand {
  return { key, min, peakTakes, recentlyTaken };
}

describe('take history', () => {
  it('finds the most takes within any span', () => {
    const takes = history(0, 100, 150, 900, 1000, 1050, 1100);
    expect(takes.peakWithin(200)).toBe(4); // 900..1100
    expect(takes.peakWithin(100)).toBe(3); // 1000, 1050, 1100 (ends included)
    expect(takes.peakWithin(50)).toBe(2);
    expect(takes.peakWithin(49)).toBe(1);
    expect(takes.peakWithin(10_000)).toBe(7);
    expect(new TakeHistory().peakWithin(1000)).toBe(0);
  });

  it('forgets takes older than the window', () => {
    const takes = history(0, 10, 500, 2000);
    takes.prune(2100, 1000);
    expect(takes.first).toBe(2000);
    expect(takes.last).toBe(2000);
    expect(takes.peakWithin(10_000)).toBe(1);
    takes.prune(5000, 1000);
    expect(takes.last).toBeNull();
  });
});

describe('pool depths', () => {
  it('wants its minimum, one after a recent take, and its peak, within the maximum', () => {
    expect(wantedDepth(demand('bash', 0, 0, false), 8)).toBe(0);
    expect(wantedDepth(demand('bash', 0, 0, true), 8)).toBe(1);
    expect(wantedDepth(demand('bash', 2, 0, true), 8)).toBe(2);
    expect(wantedDepth(demand('bash', 1, 5), 8)).toBe(5);
    expect(wantedDepth(demand('bash', 1, 12), 8)).toBe(8);
    expect(wantedDepth(demand('bash', 10, 12), 8)).toBe(10); // a minimum above the maximum wins
  });

  it('gives every pool its minimum even past the budget, and growth only within it', () => {
    const depths = planDepths([demand('python', 2, 6), demand('python-lean', 1, 6), demand('node', 1, 0, false)], {
      max: 8,
      memoryBudgetBytes: 0,
      footprintBytes: READY_FOOTPRINT_BYTES,
    });
    expect(Object.fromEntries(depths)).toEqual({ python: 2, 'python-lean': 1, node: 1 });
  });

  it('shares the budget one runner at a time, the pool short of the most first', () => {
    const footprintBytes = { ...READY_FOOTPRINT_BYTES, python: 100 * MIB, 'python-lean': 10 * MIB };
    const depths = planDepths([demand('python', 1, 3), demand('python-lean', 1, 5)], {
      max: 8,
      memoryBudgetBytes: 150 * MIB,
      footprintBytes,
    });
    // lean is short by 4, python by 2: lean grows to 3 (short 2 = python's), then they alternate:
    // python +1 (100), lean +1 (10), lean +1 (10) = 150 MiB used with lean at 5 and python at 2.
    expect(Object.fromEntries(depths)).toEqual({ python: 2, 'python-lean': 5 });
  });

  it('bounds the ready runners the pools can hold at once', () => {
    const pools = [
      { min: 2, grows: true },
      { min: 1, grows: true },
      { min: 1, grows: false },
    ];
    expect(maxReadyRunners(pools, { max: 4, memoryBudgetBytes: 1024 * MIB })).toBe(4 + 2 + 3);
    const smallest = Math.min(...Object.values(READY_FOOTPRINT_BYTES));
    expect(maxReadyRunners(pools, { max: 4, memoryBudgetBytes: 2 * smallest })).toBe(4 + 2);
  });
});
