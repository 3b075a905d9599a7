import { describe, expect, it } from 'vitest';
import { cpuCountFor, limitsEnv } from '../../../src/executor/docker/limits-env.js';

function asRecord(env: string[]): Record<string, string> {
  return Object.fromEntries(env.map((entry) => [entry.slice(0, entry.indexOf('=')), entry.slice(entry.indexOf('=') + 1)]));
}

describe('limitsEnv', () => {
  it('states the caps and sizes every thread pool to the CPU quota', () => {
    const env = asRecord(limitsEnv({ nanoCpus: 2e9, memoryBytes: 768 * 1024 * 1024 }));
    expect(env.CODECELL_CPUS).toBe('2');
    expect(env.CODECELL_CPU_COUNT).toBe('2');
    expect(env.CODECELL_MEMORY_LIMIT_MB).toBe('768');
    for (const name of ['OMP_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'MKL_NUM_THREADS', 'NUMEXPR_MAX_THREADS', 'NUMEXPR_NUM_THREADS']) {
      expect(env[name]).toBe('2');
    }
  });

  it('keeps a fractional quota as it is and rounds thread pools up to whole CPUs', () => {
    const env = asRecord(limitsEnv({ nanoCpus: 1.5e9, memoryBytes: 512 * 1024 * 1024 }));
    expect(env.CODECELL_CPUS).toBe('1.5');
    expect(env.OMP_NUM_THREADS).toBe('2');
  });

  it('never sizes a pool below one thread', () => {
    expect(cpuCountFor(0.25e9)).toBe(1);
    expect(cpuCountFor(1e9)).toBe(1);
    expect(cpuCountFor(1.01e9)).toBe(2);
  });
});
