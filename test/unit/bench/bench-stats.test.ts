import { describe, expect, it } from 'vitest';
import { percentile, phaseMedians, summarize, writtenBytes } from '../../../scripts/bench-stats.js';

describe('bench statistics', () => {
  it('takes the nearest-rank percentile of unsorted samples', () => {
    const samples = [40, 10, 30, 20];
    expect(percentile(samples, 50)).toBe(20);
    expect(percentile(samples, 99)).toBe(40);
    expect(percentile(samples, 0)).toBe(10);
    expect(percentile([7], 50)).toBe(7);
  });

  it('gives NaN, not zero, for no samples', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(summarize([])).toEqual({ count: 0, p50: Number.NaN, p99: Number.NaN });
  });

  it('leaves the caller’s samples unsorted', () => {
    const samples = [3, 1, 2];
    percentile(samples, 50);
    expect(samples).toEqual([3, 1, 2]);
  });

  it('takes each phase’s median over records that may lack a phase', () => {
    expect(phaseMedians([{ take: 1, run: 10 }, { take: 3, run: 30 }, { take: 2 }])).toEqual({ take: 2, run: 10 });
  });
});

describe('bytes a save wrote', () => {
  it('counts new and rewritten files, not untouched ones', () => {
    const before = new Map([
      ['/s/a', { ino: 1, mtimeMs: 10, size: 100 }],
      ['/s/b', { ino: 2, mtimeMs: 10, size: 200 }],
      ['/s/c', { ino: 3, mtimeMs: 10, size: 300 }],
    ]);
    const after = new Map([
      ['/s/a', { ino: 1, mtimeMs: 10, size: 100 }], // untouched
      ['/s/b', { ino: 9, mtimeMs: 10, size: 250 }], // replaced by a rename
      ['/s/c', { ino: 3, mtimeMs: 11, size: 300 }], // rewritten in place
      ['/s/d', { ino: 4, mtimeMs: 11, size: 7 }], // new
    ]);
    expect(writtenBytes(before, after)).toBe(557);
  });
});
