/**
 * Runs one job in one throwaway sandboxed process, for machines without a Docker engine (a Hugging
 * Face Space). The run itself (slot, quota, job, output, snapshot, notices, put-back) is
 * run-flow.ts, as for containers; here is what only a process does: start the confined runner, kill
 * its process group before the files are counted, and tell an out-of-memory death from its traces.
 * What confines the code is the layer sandbox-probe.ts found (docs/security.md).
 */
import path from 'node:path';
import type { Settings } from '../../config/settings.js';
import type { DiskBudget } from '../../files/disk-budget.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import type { RuntimeInfo } from '../../domain/types.js';
import { CodecellError } from '../../errors.js';
import type { SessionPlaces } from '../slot.js';
import { recoverSlots } from '../slot-recovery.js';
import type { Executor, ExecutorHealth, ExecutorInfo, ExecutorJob, FinishedRun, InspectFiles, IsolationReport, PoolWarmth } from '../executor.js';
import { POOL_KEYS, poolTarget, type PoolKey } from '../pool-key.js';
import { RunFlow, type RunnerPort } from '../run-flow.js';
import type { EndFacts } from '../run-verdict.js';
import { WarmPool } from '../warm-pool.js';
import { maxReadyRunners } from '../pool-sizing.js';
import { launcherPath, SYSTEM_READ_PATHS } from './launch-spec.js';
import { probeRuntimes } from './runtime-versions.js';
import { ranOutOfMemory } from './memory-verdict.js';
import { RunnerProcess, type ProcessRunOutcome } from './runner-process.js';
import { chooseLayer, probeSandbox, type SandboxReport } from './sandbox-probe.js';

/** The pools of the runtimes the process sandbox holds (images/sandbox: python, node, bash runners). */
const STATEFUL_POOLS: ReadonlySet<string> = new Set(['python', 'python-lean', 'node', 'bash']);

/** Tasks one sandbox may start (its share of RLIMIT_NPROC), beside the server's own threads. */
const SERVER_TASK_HEADROOM = 64;

export class ProcessExecutor implements Executor {
  readonly kind = 'process' as const;
  readonly pool: WarmPool<RunnerProcess>;
  private readonly slotsRoot: string;
  private readonly flow: RunFlow<RunnerProcess, ProcessRunOutcome>;

  private constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
    metrics: Metrics,
    diskBudget: DiskBudget,
    /** What confines code here, probed at start. */
    readonly sandbox: SandboxReport,
  ) {
    this.slotsRoot = path.join(settings.dataDir, 'slots');
    const layer = sandbox.layer;
    const maxTasks = maxSandboxTasks(settings);
    this.pool = new WarmPool<RunnerProcess>({
      settings: fixedPools(settings),
      logger,
      metrics,
      startContainer: (pool) => {
        if (layer === null) return Promise.reject(new Error(sandbox.summary));
        return RunnerProcess.start({ settings, layer, slotsRoot: this.slotsRoot, pool, maxTasks, logger });
      },
    });
    this.flow = new RunFlow(settings, logger, diskBudget, this.runnerPort());
  }

  /** Probes the isolation layers, logs the one chosen (loudly when weak or none) and makes the executor. */
  static async create(settings: Settings, logger: Logger, metrics: Metrics, diskBudget: DiskBudget): Promise<ProcessExecutor> {
    const exposed = readableByRuns(settings).find((readable) => isWithin(settings.dataDir, readable));
    if (exposed !== undefined) {
      throw new Error(`CODECELL_DATA_DIR ${settings.dataDir} is under ${exposed}, which sandboxed runs may read: choose a data dir elsewhere`);
    }
    const report = chooseLayer(await probeSandbox(launcherPath(settings)), settings.process.allowWeakSandbox);
    if (report.layer === 'bwrap' || report.layer === 'landlock') logger.info({ sandbox: report }, `process executor: ${report.summary}`);
    else logger.error({ sandbox: report }, `process executor: ${report.summary}`);
    return new ProcessExecutor(settings, logger, metrics, diskBudget, report);
  }

  async start(placesOf: (sessionId: string) => SessionPlaces | null): Promise<void> {
    await this.recover(placesOf);
    this.pool.fill();
  }

  /** Puts session files left in slots by a crash back where they belong (only for the data dir's owner). */
  private async recover(placesOf: (sessionId: string) => SessionPlaces | null): Promise<void> {
    await recoverSlots(this.slotsRoot, placesOf, this.logger);
  }

  poolWarmth(): Readonly<Record<string, PoolWarmth>> {
    return this.pool.warmth();
  }

  /** Ready warm runners per pool. */
  poolSizes(): Record<PoolKey, number> {
    return this.pool.sizes();
  }

  async health(): Promise<ExecutorHealth> {
    const isolation = this.isolation();
    if (this.sandbox.layer === null) return { kind: this.kind, reachable: false, error: this.sandbox.summary, isolation };
    return { kind: this.kind, reachable: true, isolation };
  }

  async systemInfo(): Promise<{ executor: ExecutorInfo; runtimes: RuntimeInfo[]; oneShotLanguages: never[] }> {
    this.runtimes ??= probeRuntimes(this.settings);
    return {
      executor: { kind: this.kind, sandbox: this.sandbox.layer ?? 'none', isolation: this.sandbox.summary },
      runtimes: await this.runtimes,
      // The sandbox holds the three stateful runtimes only: no compiled (one-shot) language is installed here.
      oneShotLanguages: [],
    };
  }

  /** Whether runs of `pool` can start here: the three runtimes whose runners the image holds, when a layer confines them. */
  async available(pool: PoolKey | string): Promise<boolean> {
    return this.sandbox.layer !== null && STATEFUL_POOLS.has(pool);
  }

  private runtimes: Promise<RuntimeInfo[]> | null = null;

  /** What confines a run here (sandbox-probe.ts found it at start). */
  private isolation(): IsolationReport {
    const { sandbox } = this;
    const confined = sandbox.layer === 'bwrap' || sandbox.layer === 'landlock';
    return {
      mode: `process (${sandbox.layer ?? 'refused'})`,
      layers: {
        namespaces: sandbox.layer === 'bwrap' ? 'user, mount, pid, net, ipc, uts (bubblewrap)' : 'none',
        landlock: sandbox.layer === 'landlock' ? `ABI ${sandbox.landlockAbi}: read-only ${SYSTEM_READ_PATHS.length} system paths, read-write the slot only` : 'not used',
        network: sandbox.layer === 'bwrap' ? 'none (own namespace)' : confined ? `seccomp: AF_UNIX only${sandbox.tcpRules ? '; Landlock: no TCP bind/connect' : ''}` : 'host network (unconfined)',
        signals: sandbox.layer === 'bwrap' ? 'own pid namespace' : sandbox.signalScoping ? 'Landlock scoped' : 'same uid can signal',
        seccomp: confined ? 'deny-list (ptrace, mount, namespaces, bpf, keyctl, io_uring, setsid, inet sockets, …)' : 'none',
        privileges: confined || sandbox.layer === 'weak' ? 'NO_NEW_PRIVS' : 'n/a',
        limits: 'rlimits per process: data, file size, open files, tasks, CPU; process-group kill at the timeout',
        user: process.getuid?.() === 0 ? 'uid 10001 (dropped from root)' : `the server's uid ${process.getuid?.() ?? '?'}`,
      },
    };
  }

  /** Executor.run: the files are in the runner's slot while `inspect` reads them. */
  async run<T>(job: ExecutorJob, inspect: InspectFiles<T>): Promise<FinishedRun<T>> {
    if (this.sandbox.layer === null) throw new CodecellError('RUNTIME_UNAVAILABLE', `code cannot run here: ${this.sandbox.summary}`);
    return this.flow.run(job, inspect);
  }

  /** What a run in a sandboxed process does its own way: start and kill the runner, read how it died. */
  private runnerPort(): RunnerPort<RunnerProcess, ProcessRunOutcome> {
    const memoryMb = Math.round(this.settings.limits.memoryBytes / 1024 / 1024);
    const oomNotice = `out of memory (limit ${memoryMb} MiB per process): an allocation failed.`;
    return {
      take: (pool) => this.pool.take(pool),
      refillNow: (pool) => this.pool.refillNow(pool),
      startFailed: (pool, error) => {
        this.logger.error({ err: error, pool }, 'could not start a sandboxed runner');
        return new CodecellError(
          'RUNTIME_UNAVAILABLE',
          `could not start a ${pool} runner (${error instanceof Error ? error.message : String(error)}); ` +
            `check that the runners are under ${this.settings.process.sandboxDir} (CODECELL_SANDBOX_DIR)`,
        );
      },
      // No tmpfs caps here: the slot's tmp and artifacts count against the session's quota too.
      extraQuotaDirs: (runner) => [runner.dirs.tmpDir, runner.dirs.artifactsDir],
      run: (runner, job, hooks) => runner.run(job, hooks),
      // Nothing of the run may write on while the files are counted, inspected and moved back.
      afterRun: (runner) => runner.kill(),
      endFacts: async (_runner, outcome): Promise<EndFacts> => {
        const frame = outcome.end.kind === 'result' ? outcome.end.frame : null;
        const outOfMemory = ranOutOfMemory({ frame, stderrTail: outcome.stderrTail, exit: outcome.exit });
        return {
          oom: outOfMemory ? { atResult: oomNotice, atExit: `${oomNotice} The run was killed.` } : null,
          died: `the interpreter died without finishing (${outcome.exit?.signal ?? `exit code ${outcome.exitCode ?? 'unknown'}`}).`,
        };
      },
      phaseDetails: () => ({}),
    };
  }

  /** Kills every running job and every warm runner. */
  async shutdown(): Promise<void> {
    this.flow.abortAll();
    await this.pool.drain();
    await this.flow.settled();
  }
}

/**
 * RLIMIT_NPROC counts every task of the sandbox's uid (in a Space, the server's uid too), so it is
 * the pids limit for every runner that can be alive at once, plus the server's threads.
 */
export function maxSandboxTasks(settings: Settings): number {
  const pools = POOL_KEYS.map((key) => ({ min: poolTarget(settings, key), grows: STATEFUL_POOLS.has(key) }));
  const warm = maxReadyRunners(pools, fixedPools(settings).pool);
  return settings.limits.pidsLimit * (settings.queue.concurrency + warm) + SERVER_TASK_HEADROOM;
}

/** Paths every run may read (launch-spec.ts): the data dir, with the signing key and every session, must be outside them. */
function readableByRuns(settings: Settings): string[] {
  return [...SYSTEM_READ_PATHS, settings.process.sandboxDir];
}

function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`);
}

/**
 * The process executor keeps its pools at their set sizes (no demand growth): RLIMIT_NPROC is one
 * bound for every task of the sandbox's uid, and room for grown pools would loosen what a fork bomb
 * may reach before it is stopped.
 */
function fixedPools(settings: Settings): Settings {
  return { ...settings, pool: { ...settings.pool, max: 0 } };
}
