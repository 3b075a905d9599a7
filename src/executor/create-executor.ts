/**
 * The one place that picks the Executor implementation (executor.ts) for the settings. Today there
 * is one: DockerExecutor.
 */
import type { Settings } from '../config/settings.js';
import type { DiskBudget } from '../files/disk-budget.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { DockerExecutor } from './docker/docker-executor.js';
import type { Executor } from './executor.js';

export interface ExecutorDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** The server's disk budget, shared with uploads (files/file-service.ts). */
  readonly diskBudget: DiskBudget;
}

/** Async, so that a choice may first probe what the machine offers. */
export async function createExecutor(deps: ExecutorDeps): Promise<Executor> {
  return new DockerExecutor(deps.settings, deps.logger, deps.metrics, deps.diskBudget);
}
