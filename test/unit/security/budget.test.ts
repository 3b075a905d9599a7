/** Budgets of the attack suite: scaled to the measured speed, bounded, and larger on a retry. */
import { describe, expect, it } from 'vitest';
import { budgetSeconds, CALIBRATION_REFERENCE_SECONDS, MAX_RUN_SECONDS, probeLimits, slowdownOf } from '../../security/helpers/budget.js';

describe('slowdownOf', () => {
  it('never scales budgets down on a machine faster than the reference', () => {
    expect(slowdownOf(CALIBRATION_REFERENCE_SECONDS / 10)).toBe(1);
    expect(slowdownOf(0)).toBe(1);
    expect(slowdownOf(Number.NaN)).toBe(1);
  });

  it('scales by how much slower the calibration ran, up to a bound', () => {
    expect(slowdownOf(CALIBRATION_REFERENCE_SECONDS * 4)).toBeCloseTo(4);
    expect(slowdownOf(CALIBRATION_REFERENCE_SECONDS * 1000)).toBe(30);
  });
});

describe('budgetSeconds', () => {
  it('scales, rounds up and stays within the server’s ceiling', () => {
    expect(budgetSeconds(8, 1)).toBe(8);
    expect(budgetSeconds(8, 4.8)).toBe(39);
    expect(budgetSeconds(8, 30)).toBe(240);
    expect(budgetSeconds(100, 30)).toBe(MAX_RUN_SECONDS);
  });
});

describe('probeLimits', () => {
  it('gives a cut probe a second, larger limit', () => {
    expect(probeLimits(8, 1)).toEqual([8, 24]);
    expect(probeLimits(8, 4.8)).toEqual([39, 116]);
  });

  it('does not try the ceiling twice', () => {
    expect(probeLimits(300, 30)).toEqual([MAX_RUN_SECONDS]);
  });
});
