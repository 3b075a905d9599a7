/**
 * Warm runners (containers, or processes) come in four kinds. Python has two: one that has already imported the heavy
 * scientific stack (fast for sessions that use it) and a lean one (cheap to start: most of the CPU
 * of a Python container goes into importing pandas and matplotlib, so only pay it when needed).
 */
import type { RuntimeName, Settings } from '../config/settings.js';

export const POOL_KEYS = ['python', 'python-lean', 'node', 'bash'] as const;
export type PoolKey = (typeof POOL_KEYS)[number];

export const SCIENTIFIC_PRELOAD = ['numpy', 'pandas', 'matplotlib.pyplot'] as const;

export function runtimeOf(pool: PoolKey): RuntimeName {
  return pool === 'python-lean' ? 'python' : pool;
}

export function preloadFor(pool: PoolKey): readonly string[] {
  return pool === 'python' ? SCIENTIFIC_PRELOAD : [];
}

export function poolTarget(settings: Settings, pool: PoolKey): number {
  switch (pool) {
    case 'python':
      return settings.pool.python;
    case 'python-lean':
      return settings.pool.pythonLean;
    case 'node':
      return settings.pool.node;
    case 'bash':
      return settings.pool.bash;
  }
}

const HEAVY_PYTHON = /\b(numpy|pandas|matplotlib|seaborn|scipy|sklearn|np|pd|plt|sns)\b/;

/**
 * Which warm Python container fits a run: the scientific one when the session's state already holds
 * heavy modules or the code mentions them. A wrong guess only costs time, never correctness.
 */
export function pythonPoolFor(code: string, sessionModules: readonly string[]): PoolKey {
  return sessionModules.length > 0 || HEAVY_PYTHON.test(code) ? 'python' : 'python-lean';
}
