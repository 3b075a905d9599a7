/**
 * Prometheus metrics. One registry per server instance (tests run several side by side).
 * Labels are bounded: language, status, runtime, route — never session or job ids.
 *
 * Every language × status and pool × result series exists from the start at 0: a counter that
 * first appears at 1 is read by increase() as no change, so a first timeout would stay invisible.
 * Sessions and executor reachability are read when Prometheus scrapes, so they are never stale.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { EXECUTION_STATUSES, LANGUAGES } from '../domain/types.js';
import { POOL_KEYS } from '../executor/pool-key.js';

/** Every status an execution is counted under: the results, and a refusal before it ran. */
export const COUNTED_STATUSES = [...EXECUTION_STATUSES, 'rejected'] as const;
export const POOL_TAKE_RESULTS = ['hit', 'waited', 'miss'] as const;
export const EXECUTOR_KINDS = ['docker', 'process'] as const;

/** How long a scrape waits for the executor's health before calling it down. */
export const EXECUTOR_HEALTH_TIMEOUT_MS = 5_000;

/** What the executor-up gauge asks at scrape time. */
export interface ExecutorProbe {
  readonly kind: (typeof EXECUTOR_KINDS)[number];
  reachable(): Promise<boolean>;
}

export class Metrics {
  readonly registry = new Registry();

  readonly executions = new Counter({
    name: 'codecell_executions_total',
    help: 'Executions by language and final status (ok, error, timeout, oom, killed, rejected).',
    labelNames: ['language', 'status'] as const,
    registers: [this.registry],
  });

  readonly executionDuration = new Histogram({
    name: 'codecell_execution_duration_seconds',
    help: 'Wall time of an execution from leaving the queue to its result, by language.',
    labelNames: ['language'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    registers: [this.registry],
  });

  readonly queueWait = new Histogram({
    name: 'codecell_queue_wait_seconds',
    help: 'Time an execution waited in the job queue.',
    buckets: [0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: 'codecell_queue_depth',
    help: 'Executions waiting in the job queue.',
    registers: [this.registry],
  });

  readonly running = new Gauge({
    name: 'codecell_executions_running',
    help: 'Executions running in containers right now.',
    registers: [this.registry],
  });

  readonly poolSize = new Gauge({
    name: 'codecell_pool_ready_containers',
    help: 'Warm containers ready to take a job, by pool.',
    labelNames: ['pool'] as const,
    registers: [this.registry],
  });

  readonly containerStart = new Histogram({
    name: 'codecell_container_start_seconds',
    help: 'Time from create to the runner saying ready, by pool.',
    labelNames: ['pool'] as const,
    buckets: [0.1, 0.25, 0.5, 1, 2, 5, 10, 30],
    registers: [this.registry],
  });

  readonly poolHits = new Counter({
    name: 'codecell_pool_takes_total',
    help: 'Containers taken for a job: warm from the pool (hit), one already starting (waited), or started for the job (miss).',
    labelNames: ['pool', 'result'] as const,
    registers: [this.registry],
  });

  private sessionCount: () => number = () => 0;

  readonly activeSessions = new Gauge({
    name: 'codecell_sessions',
    help: 'Sessions that exist and have not expired, counted when scraped.',
    registers: [this.registry],
    collect: () => {
      this.activeSessions.set(this.sessionCount());
    },
  });

  private executorProbe: ExecutorProbe | undefined;
  /** The probe under way: concurrent scrapes share it, so a flood or a hung engine holds one request, not one each. */
  private probeInFlight: Promise<boolean> | undefined;

  readonly executorUp = new Gauge({
    name: 'codecell_executor_up',
    help: 'Whether the executor can start a run now (docker: the engine answers a ping), checked when scraped.',
    labelNames: ['executor'] as const,
    registers: [this.registry],
    collect: async () => {
      const probe = this.executorProbe;
      if (probe === undefined) return;
      this.executorUp.set({ executor: probe.kind }, (await this.reachableNow(probe)) ? 1 : 0);
    },
  });

  /** The probe's answer, or false after EXECUTOR_HEALTH_TIMEOUT_MS; a timed-out probe is let go so the next scrape asks anew. */
  private async reachableNow(probe: ExecutorProbe): Promise<boolean> {
    let shared = this.probeInFlight;
    if (shared === undefined) {
      const started = probe.reachable().catch(() => false);
      shared = started;
      this.probeInFlight = started;
      void started.finally(() => {
        if (this.probeInFlight === started) this.probeInFlight = undefined;
      });
    }
    const answer = await withinTimeout(shared, EXECUTOR_HEALTH_TIMEOUT_MS);
    if (answer === undefined && this.probeInFlight === shared) this.probeInFlight = undefined;
    return answer ?? false;
  }

  readonly httpRequests = new Counter({
    name: 'codecell_http_requests_total',
    help: 'HTTP requests by route and status code.',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });

  constructor(options: { collectProcessMetrics?: boolean } = {}) {
    if (options.collectProcessMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'codecell_' });
    for (const language of LANGUAGES) for (const status of COUNTED_STATUSES) this.executions.inc({ language, status }, 0);
    for (const pool of POOL_KEYS) for (const result of POOL_TAKE_RESULTS) this.poolHits.inc({ pool, result }, 0);
  }

  /** Where codecell_sessions reads its value at each scrape. */
  countSessionsWith(count: () => number): void {
    this.sessionCount = count;
  }

  /** The executor codecell_executor_up asks at each scrape. */
  watchExecutor(probe: ExecutorProbe): void {
    this.executorProbe = probe;
  }
}

/** `answer`, or undefined when it takes longer than `timeoutMs`. */
async function withinTimeout(answer: Promise<boolean>, timeoutMs: number): Promise<boolean | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), timeoutMs);
  });
  try {
    return await Promise.race([answer, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}
