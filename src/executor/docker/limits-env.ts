/**
 * The container's limits as environment variables, so that code inside the sandbox (and the
 * libraries it loads) sizes itself to the caps rather than to the host it cannot see past:
 *
 *   CODECELL_CPUS, CODECELL_CPU_COUNT, CODECELL_MEMORY_LIMIT_MB   the caps, for anyone who asks
 *   OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, MKL_NUM_THREADS, …     thread pools of BLAS, OpenMP,
 *                                                                 numexpr, Rayon/Polars, joblib
 *
 * GNU `nproc` honours OMP_NUM_THREADS, so it reports the cap too; the runners make os.cpu_count()
 * (Python) and os.availableParallelism() (Node) answer CODECELL_CPU_COUNT. The limits are server
 * settings, the same for every session, so they are set once, when a warm container is created.
 */
import type { Settings } from '../../config/settings.js';

const THREAD_POOL_VARIABLES = [
  'OMP_NUM_THREADS',
  'OPENBLAS_NUM_THREADS',
  'MKL_NUM_THREADS',
  'VECLIB_MAXIMUM_THREADS',
  'BLIS_NUM_THREADS',
  'NUMEXPR_NUM_THREADS',
  'NUMEXPR_MAX_THREADS',
  'RAYON_NUM_THREADS',
  'POLARS_MAX_THREADS',
  'LOKY_MAX_CPU_COUNT',
] as const;

/** Whole CPUs a thread pool should use under a quota of `nanoCpus` (at least one; 1.5 CPUs → 2, as joblib rounds). */
export function cpuCountFor(nanoCpus: number): number {
  return Math.max(1, Math.ceil(nanoCpus / 1e9));
}

export function limitsEnv(limits: Pick<Settings['limits'], 'nanoCpus' | 'memoryBytes'>): string[] {
  const cpuCount = String(cpuCountFor(limits.nanoCpus));
  return [
    `CODECELL_CPUS=${limits.nanoCpus / 1e9}`,
    `CODECELL_CPU_COUNT=${cpuCount}`,
    `CODECELL_MEMORY_LIMIT_MB=${Math.floor(limits.memoryBytes / (1024 * 1024))}`,
    ...THREAD_POOL_VARIABLES.map((name) => `${name}=${cpuCount}`),
  ];
}
