/**
 * The Executor (executor.ts) that runs each job in one throwaway Docker container. The run itself
 * (slot, quota, job, output, snapshot, notices, put-back) is run-flow.ts; here is what only Docker
 * does: warm containers, killing them (right after the run, before the last quota look and the file
 * listing: a forged result frame or a leftover process must not write on unseen) and removing them,
 * and learning of an OOM kill from the engine.
 */
import path from 'node:path';
import { createHash } from 'node:crypto';
import Docker from 'dockerode';
import type { Settings } from '../../config/settings.js';
import type { DiskBudget } from '../../files/disk-budget.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { OneShotLanguageInfo, RuntimeInfo } from '../../domain/types.js';
import { CodecellError } from '../../errors.js';
import { SANDBOX_UID } from '../../sandbox-user.js';
import type { Executor, ExecutorHealth, ExecutorInfo, ExecutorJob, FinishedRun, InspectFiles, IsolationReport, PoolWarmth } from '../executor.js';
import { RunFlow, type RunnerPort } from '../run-flow.js';
import type { EndFacts } from '../run-verdict.js';
import type { SessionPlaces } from '../slot.js';
import { recoverSlots } from '../slot-recovery.js';
import { CONTAINER_LABEL, INSTANCE_LABEL } from './container-spec.js';
import { isNotFound } from './docker-errors.js';
import { dockerClient } from './docker-client.js';
import type { PoolKey } from '../pool-key.js';
import { RunnerContainer, type RunOutcome } from './runner-container.js';
import { RuntimeProbe } from './runtime-probe.js';
import { removeOwnContainers } from './own-containers.js';
import { WarmPool } from '../warm-pool.js';

/** How long a health ping waits for the engine: a hung engine reads as unreachable, not as a hung /healthz. */
export const HEALTH_PING_TIMEOUT_MS = 5_000;

export class DockerExecutor implements Executor {
  readonly kind = 'docker' as const;
  private readonly docker: Docker;
  private readonly instanceId: string;
  private readonly pool: WarmPool<RunnerContainer>;
  private readonly runtimes: RuntimeProbe;
  private readonly slotsRoot: string;
  private readonly flow: RunFlow<RunnerContainer, RunOutcome>;

  constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
    metrics: Metrics,
    /** The server's disk budget, shared with uploads (files/file-service.ts). */
    diskBudget: DiskBudget,
  ) {
    this.docker = dockerClient(settings.docker.endpoint);
    // Containers are labelled with the data dir they serve: a restart with the same data dir
    // recognises its own leftovers, and two servers with different data dirs never touch each other's.
    // Two live engines on one data dir would take each other's for leftovers: engine/data-dir-owner.ts prevents that.
    this.instanceId = createHash('sha256').update(settings.dataDir).digest('hex').slice(0, 16);
    this.slotsRoot = path.join(settings.dataDir, 'slots');
    this.pool = new WarmPool<RunnerContainer>({
      settings,
      logger,
      metrics,
      startContainer: (pool) =>
        RunnerContainer.start({ docker: this.docker, settings, instanceId: this.instanceId, slotsRoot: this.slotsRoot, pool, logger }),
    });
    this.runtimes = new RuntimeProbe(this.docker, settings, this.instanceId);
    this.flow = new RunFlow(settings, logger, diskBudget, this.runnerPort());
  }

  async start(placesOf: (sessionId: string) => SessionPlaces | null): Promise<void> {
    await this.recover(placesOf);
    this.pool.fill();
  }

  /**
   * Removes containers a crashed predecessor left behind and puts any session files still sitting in
   * its slots back where they belong. `placesOf` maps a session id to its files and home dirs (null: gone).
   * Only for the data dir's owner (engine/data-dir-owner.ts): to anyone else they are live work.
   */
  private async recover(placesOf: (sessionId: string) => SessionPlaces | null): Promise<void> {
    await this.removeOwnContainers();
    await recoverSlots(this.slotsRoot, placesOf, this.logger);
  }

  /** Executor.run: the files are in the container's slot while `inspect` reads them. */
  run<T>(job: ExecutorJob, inspect: InspectFiles<T>): Promise<FinishedRun<T>> {
    return this.flow.run(job, inspect);
  }

  /** What a run in a container does its own way: start, run and kill the container, read how it died. */
  private runnerPort(): RunnerPort<RunnerContainer, RunOutcome> {
    const memoryMb = Math.round(this.settings.limits.memoryBytes / 1024 / 1024);
    return {
      take: (pool) => this.pool.take(pool),
      refillNow: (pool) => this.pool.refillNow(pool),
      startFailed: (pool, error) => {
        this.logger.error({ err: error, pool }, 'could not start an execution container');
        return new CodecellError(
          'RUNTIME_UNAVAILABLE',
          `could not start a ${pool} container (${error instanceof Error ? error.message : String(error)}); ` +
            'check that Docker runs and the images are built (npm run images)',
        );
      },
      extraQuotaDirs: () => [],
      run: (runner, job, hooks) => runner.run(job, hooks),
      // A result frame can be forged (user code runs as the runner's user and can read its nonce) and
      // processes outlive it: every process of the container stands still (frozen through its cgroup
      // where the server can, else dead) before the last quota look and the file listing.
      afterRun: (runner) => runner.halt(),
      endFacts: async (runner, outcome): Promise<EndFacts> => {
        const exitCode = outcome.exitCode ?? 'unknown';
        // A container that died on its own is still there (it is removed later); one that is gone was removed from outside.
        const removedFromOutside =
          outcome.end.kind === 'exited' && !outcome.oomKilled && !outcome.engineLost && (await containerIsGone(runner.container));
        return {
          oom: outcome.oomKilled
            ? {
                atResult: `out of memory (limit ${memoryMb} MiB): a process of this run was killed.`,
                atExit: `out of memory (limit ${memoryMb} MiB): the run was killed.`,
              }
            : null,
          died: outcome.engineLost
            ? 'the connection to the container engine was lost during the run (the engine or its socket proxy restarted), so the run was stopped.'
            : removedFromOutside
            ? `the run's container was removed by something outside this run (exit code ${exitCode}), not by your code.`
            : `the interpreter died without finishing (exit code ${exitCode}).`,
        };
      },
      phaseDetails: (outcome) => ({
        runner: outcome.end.kind === 'result' ? (outcome.end.frame.timings ?? null) : null,
        containerCpuMs: outcome.cpuMs,
      }),
    };
  }

  /** Kills every running job (their sessions keep the last good state) and removes all containers. */
  async shutdown(): Promise<void> {
    this.flow.abortAll();
    await this.pool.drain();
    await this.flow.settled();
    await this.removeOwnContainers();
  }

  async health(): Promise<ExecutorHealth> {
    const isolation = this.isolation();
    try {
      // @types/dockerode omits ping's options; dockerode passes their abortSignal on to the request.
      const ping = this.docker.ping.bind(this.docker) as unknown as (options: { abortSignal: AbortSignal }) => Promise<unknown>;
      await ping({ abortSignal: AbortSignal.timeout(HEALTH_PING_TIMEOUT_MS) });
      return { kind: this.kind, reachable: true, isolation };
    } catch (error) {
      return { kind: this.kind, reachable: false, error: error instanceof Error ? error.message : String(error), isolation };
    }
  }

  poolWarmth(): Readonly<Record<string, PoolWarmth>> {
    return this.pool.warmth();
  }

  poolSizes(): Readonly<Record<string, number>> {
    return this.pool.sizes();
  }

  async systemInfo(): Promise<{ executor: ExecutorInfo; runtimes: RuntimeInfo[]; oneShotLanguages: OneShotLanguageInfo[] }> {
    const [version, runtimes, oneShotLanguages] = await Promise.all([
      this.docker.version(),
      this.runtimes.all(),
      this.runtimes.oneShotLanguages(),
    ]);
    return {
      executor: { kind: this.kind, engineVersion: version.Version, containerRuntime: this.isolation().layers.runtime ?? 'runc' },
      runtimes,
      oneShotLanguages,
    };
  }

  /** Docker: whether the pool's image is built on this engine. */
  available(pool: PoolKey): Promise<boolean> {
    return this.runtimes.installed(pool);
  }

  /** What container-spec.ts gives every execution container. */
  private isolation(): IsolationReport {
    const { settings } = this;
    return {
      mode: 'container',
      layers: {
        runtime: settings.docker.runtime === 'runsc' ? 'runsc (gVisor)' : 'runc',
        network: 'none',
        capabilities: 'all dropped',
        privileges: 'no-new-privileges',
        seccomp: 'allow-list',
        rootfs: 'read-only',
        user: `uid ${SANDBOX_UID} (not root)`,
        limits: 'memory, cpu, pids (cgroups)',
      },
    };
  }

  private async removeOwnContainers(): Promise<void> {
    await removeOwnContainers({
      docker: this.docker,
      labels: [`${CONTAINER_LABEL}=true`, `${INSTANCE_LABEL}=${this.instanceId}`],
      logger: this.logger,
    });
  }
}

/** True when Docker no longer knows the container (404). */
async function containerIsGone(container: Docker.Container): Promise<boolean> {
  try {
    await container.inspect();
    return false;
  } catch (error) {
    return isNotFound(error);
  }
}
