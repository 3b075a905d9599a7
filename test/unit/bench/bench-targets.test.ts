import { describe, expect, it } from 'vitest';
import { countVerdicts, targetTableLines, verdictFor, type Figure } from '../../../scripts/bench-targets.js';

const latency = (value: number | null): Figure => ({ label: 'chat', value, unit: 'ms', target: { comparison: 'at-most', limit: 25 } });
const rate = (value: number): Figure => ({ label: 'users', value, unit: 'runs/s', target: { comparison: 'at-least', limit: 8 } });

describe('issue-13 target verdicts', () => {
  it('judges an upper limit inclusively', () => {
    expect(verdictFor(latency(25))).toBe('met');
    expect(verdictFor(latency(25.1))).toBe('not met');
  });

  it('judges a lower limit inclusively', () => {
    expect(verdictFor(rate(8))).toBe('met');
    expect(verdictFor(rate(7.9))).toBe('not met');
  });

  it('never calls a missing figure met', () => {
    expect(verdictFor(latency(null))).toBe('not measured');
    expect(verdictFor(latency(Number.NaN))).toBe('not measured');
    expect(verdictFor({ label: 'x', value: 3, unit: 'ms' })).toBe('no target');
  });

  it('prints each figure beside its target and verdict, then the notes', () => {
    const lines = targetTableLines([latency(41), { ...rate(9.5), note: 'loaded machine' }]);
    expect(lines[0]).toMatch(/^case\s+figure\s+issue-13 target\s+verdict$/);
    expect(lines[2]).toMatch(/^chat\s+41 ms\s+≤ 25 ms\s+not met$/);
    expect(lines[3]).toMatch(/^users\s+9\.50 runs\/s\s+≥ 8 runs\/s\s+met$/);
    expect(lines.at(-1)).toBe('  users: loaded machine');
    expect(countVerdicts([latency(41), rate(9.5), latency(null)])).toEqual({ met: 1, notMet: 1 });
  });
});
