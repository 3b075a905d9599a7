/**
 * Warm runners (containers, or processes) come in kinds, one pool per kind. Python has two: one
 * that has already imported the heavy scientific stack (fast for sessions that use it) and a lean
 * one (cheap to start: most of the CPU of a Python container goes into importing pandas and
 * matplotlib, so only pay it when needed). Node and bash have one each. The one-shot languages have
 * one per image (gcc serves C, C++, Fortran and D); by default those pools keep no runner warm
 * (settings' pool.oneShot).
 */
import type { RuntimeName, Settings } from '../config/settings.js';
import type { OneShotLanguage } from '../domain/types.js';

export const ONE_SHOT_POOL_KEYS = ['gcc', 'go', 'java', 'rust', 'php', 'r'] as const;
export type OneShotPoolKey = (typeof ONE_SHOT_POOL_KEYS)[number];

export const POOL_KEYS = ['python', 'python-lean', 'node', 'bash', ...ONE_SHOT_POOL_KEYS] as const;
export type PoolKey = (typeof POOL_KEYS)[number];

export const SCIENTIFIC_PRELOAD = ['numpy', 'pandas', 'matplotlib.pyplot'] as const;

/** The image (images/<name>/) each one-shot language runs in. */
const ONE_SHOT_POOLS: Readonly<Record<OneShotLanguage, OneShotPoolKey>> = {
  c: 'gcc',
  cpp: 'gcc',
  fortran: 'gcc',
  d: 'gcc',
  go: 'go',
  java: 'java',
  rust: 'rust',
  php: 'php',
  r: 'r',
};

export function oneShotPoolFor(language: OneShotLanguage): OneShotPoolKey {
  return ONE_SHOT_POOLS[language];
}

export function isOneShotPool(pool: PoolKey): pool is OneShotPoolKey {
  return (ONE_SHOT_POOL_KEYS as readonly string[]).includes(pool);
}

/** What a pool's runners are made from (images/<name>/): the runtime, or the one-shot image. */
export function runtimeOf(pool: PoolKey): RuntimeName | OneShotPoolKey {
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
    default:
      return settings.pool.oneShot;
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
