/**
 * Prometheus metrics. One registry per server instance (tests run several side by side).
 * Labels are bounded: language, status, runtime, route — never session or job ids.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

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

  readonly activeSessions = new Gauge({
    name: 'codecell_sessions',
    help: 'Sessions that exist (on disk) right now.',
    registers: [this.registry],
  });

  readonly httpRequests = new Counter({
    name: 'codecell_http_requests_total',
    help: 'HTTP requests by route and status code.',
    labelNames: ['route', 'code'] as const,
    registers: [this.registry],
  });

  constructor(options: { collectProcessMetrics?: boolean } = {}) {
    if (options.collectProcessMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'codecell_' });
  }
}
