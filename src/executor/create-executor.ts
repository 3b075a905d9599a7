/**
 * The one place that picks the Executor implementation (executor.ts) for the settings:
 * CODECELL_EXECUTOR=docker (containers), process (sandboxed processes, process/process-executor.ts),
 * or auto: Docker when an engine answers, else process.
 */
import type { Settings } from '../config/settings.js';
import type { DiskBudget } from '../files/disk-budget.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import type { DockerEndpoint } from '../config/docker-endpoint.js';
import { dockerClient } from './docker/docker-client.js';
import { DockerExecutor } from './docker/docker-executor.js';
import { ProcessExecutor } from './process/process-executor.js';
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
  const { settings, logger, metrics, diskBudget } = deps;
  let kind = settings.executor;
  if (kind === 'auto') {
    const docker = await dockerAnswers(settings.docker.endpoint);
    kind = docker === true ? 'docker' : 'process';
    logger.info({ executor: kind, ...(docker === true ? {} : { docker: docker }) }, `CODECELL_EXECUTOR=auto chose ${kind}`);
  }
  if (kind === 'process') return ProcessExecutor.create(settings, logger, metrics, diskBudget);
  return new DockerExecutor(settings, logger, metrics, diskBudget);
}

const DOCKER_PING_TIMEOUT_MS = 3000;

/** True when a Docker engine answers at the endpoint, else why not. */
async function dockerAnswers(endpoint: DockerEndpoint): Promise<true | string> {
  try {
    await dockerClient(endpoint, { timeoutMs: DOCKER_PING_TIMEOUT_MS }).ping();
    return true;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}
