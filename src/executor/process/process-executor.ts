/**
 * Runs one job in one throwaway sandboxed process, for machines without a Docker engine (a Hugging
 * Face Space): take a warm runner → move the session's files and snapshot into its slot → send the
 * job → stream output → result frame, exit, timeout or abort → kill its process group → move files
 * back → adopt the new snapshot only if the runner reported it saved → remove the slot.
 *
 * The runners, protocol, snapshots, slots, quota watchdog and output handling are the container
 * executor's; what confines the code is the layer sandbox-probe.ts found (docs/security.md).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Settings } from '../../config/settings.js';
import type { DiskBudget } from '../../files/disk-budget.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { joinNotices } from '../../notices.js';
import type { CapturedText, ExecutionStatus, OutputChunk, RuntimeInfo } from '../../domain/types.js';
import { CodecellError } from '../../errors.js';
import { formatBytes } from '../../files/byte-size.js';
import { measureBytes } from '../../files/usage.js';
import { networkNotice } from '../network-notice.js';
import { OutputCapture } from '../output-capture.js';
import { PhaseTimer } from '../phase-timer.js';
import { QuotaWatchdog, type QuotaBreach } from '../quota-watchdog.js';
import { Slot, type SessionPlaces } from '../slot.js';
import type { Executor, ExecutorHealth, ExecutorInfo, ExecutorJob, ExecutorResult, FinishedRun, InspectFiles, IsolationReport } from '../executor.js';
import { inspectThenPutBack } from '../files-scope.js';
import { POOL_KEYS, poolTarget, type PoolKey } from '../pool-key.js';
import { newNonce } from '../docker/runner-container.js';
import { WarmPool } from '../docker/warm-pool.js';
import { launcherPath, SYSTEM_READ_PATHS } from './launch-spec.js';
import { probeRuntimes } from './runtime-versions.js';
import { ranOutOfMemory } from './memory-verdict.js';
import { RunnerProcess, type ProcessRunOutcome } from './runner-process.js';
import { chooseLayer, probeSandbox, type SandboxReport } from './sandbox-probe.js';

/** The pools of the runtimes the process sandbox holds (images/sandbox: python, node, bash runners). */
const STATEFUL_POOLS: ReadonlySet<string> = new Set(['python', 'python-lean', 'node', 'bash']);

/** Tasks one sandbox may start (its share of RLIMIT_NPROC), beside the server's own threads. */
const SERVER_TASK_HEADROOM = 64;

/**
 * What a runner itself may write into the slot's /tmp (which counts against the quota here) beside
 * the cell's code: bash's lists of variables and functions, its error log. A session over its quota
 * may grow by this and the code's bytes, so a clean-up run is not stopped by its own runner.
 */
const RUNNER_SCRATCH_BYTES = 1024 * 1024;

export class ProcessExecutor implements Executor {
  readonly kind = 'process' as const;
  readonly pool: WarmPool<RunnerProcess>;
  private readonly slotsRoot: string;
  private readonly disposals = new Set<Promise<void>>();
  private readonly running = new Set<AbortController>();

  private constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
    metrics: Metrics,
    private readonly diskBudget: DiskBudget,
    /** What confines code here, probed at start. */
    readonly sandbox: SandboxReport,
  ) {
    this.slotsRoot = path.join(settings.dataDir, 'slots');
    const layer = sandbox.layer;
    const maxTasks = maxSandboxTasks(settings);
    this.pool = new WarmPool<RunnerProcess>({
      settings,
      logger,
      metrics,
      startContainer: (pool) => {
        if (layer === null) return Promise.reject(new Error(sandbox.summary));
        return RunnerProcess.start({ settings, layer, slotsRoot: this.slotsRoot, pool, maxTasks, logger });
      },
    });
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
    await fs.mkdir(this.slotsRoot, { recursive: true, mode: 0o711 });
    for (const name of await fs.readdir(this.slotsRoot)) {
      const slot = Slot.existing(path.join(this.slotsRoot, name));
      const owner = await slot.owner();
      const places = owner ? placesOf(owner) : null;
      if (places) {
        await slot.detach(places);
        this.logger.warn({ session: owner }, 'moved session files back from a slot left by a crash');
      }
      await slot.dispose();
    }
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
    const began = performance.now();
    const timer = new PhaseTimer();
    const abort = new AbortController();
    const quotaStop = new AbortController();
    const signal = AbortSignal.any([...(job.signal ? [job.signal] : []), abort.signal, quotaStop.signal]);
    this.running.add(abort);
    let taken: Awaited<ReturnType<WarmPool<RunnerProcess>['take']>>;
    try {
      taken = await this.pool.take(job.pool);
    } catch (error) {
      this.running.delete(abort);
      this.logger.error({ err: error, pool: job.pool }, 'could not start a sandboxed runner');
      throw new CodecellError(
        'RUNTIME_UNAVAILABLE',
        `could not start a ${job.pool} runner (${error instanceof Error ? error.message : String(error)}); ` +
          `check that the runners are under ${this.settings.process.sandboxDir} (CODECELL_SANDBOX_DIR)`,
      );
    }
    const { runner, warm } = taken;
    timer.mark('take');
    const cleanUp = async (filesReleased: Promise<void>): Promise<void> => {
      let filesBack = false;
      try {
        await runner.kill();
        timer.mark('kill');
        await filesReleased;
        await runner.slot.detach(job);
        filesBack = true;
        timer.mark('detach');
      } catch (error) {
        this.logger.error({ err: error, session: job.sessionId, slot: runner.slot.root }, 'could not move the session files back; the slot is kept for recovery at the next start');
        throw error;
      } finally {
        this.running.delete(abort);
        this.track(
          runner.dispose({ keepSlot: !filesBack }).then(() => {
            timer.mark('dispose');
            this.logger.debug({ session: job.sessionId, pool: job.pool, warm, start: runner.startPhases, run: timer.phases }, 'execution phases (ms)');
          }),
        );
      }
    };
    let result: ExecutorResult;
    try {
      // null: a run without a snapshot (this executor offers no one-shot languages, but the port allows it).
      const stateFile: string | null = job.stateFile;
      const restore = await runner.slot.attach(job.sessionId, job, stateFile);
      timer.mark('attach');
      const stdout = new StreamText('stdout', this.settings.limits.maxOutputChars, job.onOutput);
      const stderr = new StreamText('stderr', this.settings.limits.maxOutputChars, job.onOutput);
      // No tmpfs caps here: the slot's tmp and artifacts count against the session's quota too.
      const quotaDirs = [
        ...runner.slot.quotaDirs(job.stateDir),
        runner.dirs.tmpDir,
        runner.dirs.artifactsDir,
      ];
      // What the runner wrote there before the session's files came in (warm-up caches) is not the session's.
      const runnerOwnBytes = await measureBytes([runner.dirs.tmpDir, runner.dirs.artifactsDir]);
      const grant = await this.diskBudget.reserve(this.settings.limits.sessionQuotaBytes);
      const watchdog = new QuotaWatchdog({
        dirs: quotaDirs,
        // The snapshot and the runner's temporary copy of it (renamed to it once complete; the slot goes after the run).
        uncountedFiles: [runner.slot.newStateFile, `${runner.slot.newStateFile}.tmp`],
        limitBytes: this.settings.limits.sessionQuotaBytes + runnerOwnBytes,
        limitEntries: this.settings.limits.sessionMaxFiles,
        ...(Number.isFinite(grant.bytes) ? { growthCapBytes: grant.bytes } : {}),
        overQuotaRoomBytes: Buffer.byteLength(job.code) + RUNNER_SCRATCH_BYTES,
        onExceeded: () => quotaStop.abort(),
      });
      let outcome: ProcessRunOutcome;
      let adoption: Awaited<ReturnType<Slot['adoptState']>> = 'none';
      let snapshotBreach: QuotaBreach | null = null;
      let lateBreach: QuotaBreach | null = null;
      let grownBytes = 0;
      try {
        const startBytes = await watchdog.start();
        grownBytes = grant.bytes;
        try {
          outcome = await runner.run(
            { v: 1, nonce: newNonce(), code: job.code, restore, maxImages: job.maxImages, sourceLanguage: job.sourceLanguage, args: [...job.args], ...(job.sourceMap ? { sourceMap: job.sourceMap } : {}) },
            { onStdout: (bytes) => stdout.push(bytes), onStderr: (bytes) => stderr.push(bytes), timeoutMs: job.timeoutMs, signal },
          );
        } finally {
          await watchdog.stop();
        }
        // Nothing of the run may write on while the files are inspected and moved back.
        await runner.kill();
        const ended = await watchdog.usageNow();
        if (watchdog.breach === null) lateBreach = watchdog.judge(ended);
        let snapshotGrowth = 0;
        if (outcome.end.kind === 'result' && outcome.end.frame.stateSaved && stateFile !== null) {
          adoption = await runner.slot.adoptState(stateFile, async (newBytes, replacedBytes) => {
            snapshotGrowth = newBytes - replacedBytes;
            snapshotBreach = watchdog.judge({ bytes: ended.bytes + snapshotGrowth, entries: ended.entries });
            return snapshotBreach === null;
          });
        }
        grownBytes = ended.bytes + (adoption === 'adopted' ? snapshotGrowth : 0) - startBytes;
      } finally {
        grant.release(grownBytes);
      }
      timer.mark('run');
      this.pool.refillNow(job.pool);
      const frame = outcome.end.kind === 'result' ? outcome.end.frame : null;
      const stateSaved = adoption === 'adopted';
      const outOfMemory = ranOutOfMemory({ frame, stderrTail: outcome.stderrTail, exit: outcome.exit });
      const classified = this.classify(outcome, outOfMemory, job, stateSaved, signal, watchdog.breach);
      let notice = classified.notice;
      if (lateBreach === 'budget') notice = joinNotices(notice, this.budgetPassedNotice());
      if (adoption === 'over-quota') notice = joinNotices(notice, this.snapshotRefusedNotice(snapshotBreach));
      const stdoutText = stdout.finish();
      const stderrText = stderr.finish();
      notice = joinNotices(notice, networkNotice({ error: frame?.error ?? null, stderr: stderrText.text }));
      result = {
        status: classified.status,
        exitCode: outcome.exitCode,
        stdout: stdoutText,
        stderr: stderrText,
        frame,
        stateSaved,
        notice,
        warm,
        durationMs: Math.round(performance.now() - began),
      };
    } catch (error) {
      await cleanUp(Promise.resolve());
      throw error;
    }
    const { inspected, settled } = await inspectThenPutBack(() => inspect(result, runner.slot.dataDir), cleanUp);
    return { result, inspected, settled };
  }

  /** Kills every running job and every warm runner. */
  async shutdown(): Promise<void> {
    for (const abort of this.running) abort.abort();
    await this.pool.drain();
    while (this.running.size > 0 || this.disposals.size > 0) {
      await Promise.allSettled([...this.disposals]);
      if (this.running.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private classify(
    outcome: ProcessRunOutcome,
    outOfMemory: boolean,
    job: ExecutorJob,
    stateSaved: boolean,
    signal: AbortSignal,
    breach: QuotaBreach | null,
  ): { status: ExecutionStatus; notice: string | null } {
    const memoryMb = Math.round(this.settings.limits.memoryBytes / 1024 / 1024);
    const kept = 'The session keeps its variables from before this run; files written so far are kept.';
    const oomNotice = `out of memory (limit ${memoryMb} MiB per process): an allocation failed.`;
    const { end } = outcome;
    switch (end.kind) {
      case 'result':
        if (outOfMemory) return { status: 'oom', notice: `${oomNotice}${stateSaved ? '' : ` ${kept}`}` };
        return {
          status: end.frame.outcome,
          notice: joinNotices(end.frame.stateError ? `state not saved: ${end.frame.stateError}` : null, ...(end.frame.notices ?? [])),
        };
      case 'timeout':
        return { status: 'timeout', notice: `timed out after ${formatSeconds(job.timeoutMs)} (limit): the run was stopped. ${kept}` };
      case 'exited':
        if (outOfMemory) return { status: 'oom', notice: `${oomNotice} The run was killed. ${kept}` };
        return {
          status: 'killed',
          notice: `the interpreter died without finishing (${outcome.exit?.signal ?? `exit code ${outcome.exitCode ?? 'unknown'}`}). ${kept}`,
        };
      case 'aborted':
        if (breach === 'budget') {
          return {
            status: 'killed',
            notice:
              `the server's disk budget for all sessions (${formatBytes(this.settings.limits.diskBudgetBytes)}, CODECELL_DISK_BUDGET_MB) ` +
              `has no more room: the run was stopped; delete files you no longer need, or try again later. ${kept}`,
          };
        }
        if (breach !== null) {
          const quotaMb = Math.round(this.settings.limits.sessionQuotaBytes / 1024 / 1024);
          return {
            status: 'killed',
            notice:
              `the session's files passed their quota of ${quotaMb} MiB: the run was stopped; delete files to continue ` +
              `(a session holds at most ${quotaMb} MiB and ${this.settings.limits.sessionMaxFiles} files). ${kept}`,
          };
        }
        return {
          status: 'killed',
          notice: `${signal.aborted && job.signal?.aborted ? 'cancelled by the caller' : 'stopped because the server is shutting down'}. ${kept}`,
        };
      case 'flood':
        return { status: 'killed', notice: `stopped: ${end.what}. ${kept}` };
    }
  }

  private budgetPassedNotice(): string {
    return (
      `This run wrote past what the server's disk budget for all sessions had left ` +
      `(${formatBytes(this.settings.limits.diskBudgetBytes)}, CODECELL_DISK_BUDGET_MB): further writes will be stopped; ` +
      'delete files you no longer need.'
    );
  }

  private snapshotRefusedNotice(breach: QuotaBreach | null): string {
    const limit =
      breach === 'budget'
        ? `the server's disk budget for all sessions (${formatBytes(this.settings.limits.diskBudgetBytes)}) has no room for it`
        : `with it the session would pass its quota (${formatBytes(this.settings.limits.sessionQuotaBytes)} and ` +
          `${this.settings.limits.sessionMaxFiles} entries for files and saved variables together)`;
    return `Variables not saved: ${limit}. The session keeps its variables from before this run; delete files or large variables you no longer need.`;
  }

  private track(disposal: Promise<void>): void {
    this.disposals.add(disposal);
    void disposal.finally(() => this.disposals.delete(disposal));
  }
}

/**
 * RLIMIT_NPROC counts every task of the sandbox's uid (in a Space, the server's uid too), so it is
 * the pids limit for every runner that can be alive at once, plus the server's threads.
 */
export function maxSandboxTasks(settings: Settings): number {
  const warm = POOL_KEYS.reduce((sum, key) => sum + poolTarget(settings, key), 0);
  return settings.limits.pidsLimit * (settings.queue.concurrency + warm) + SERVER_TASK_HEADROOM;
}

/** Paths every run may read (launch-spec.ts): the data dir, with the signing key and every session, must be outside them. */
function readableByRuns(settings: Settings): string[] {
  return [...SYSTEM_READ_PATHS, settings.process.sandboxDir];
}

function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith('/') ? outer : `${outer}/`);
}

/** Decodes one output stream (UTF-8 split across chunks is fine), caps it, and streams it live. */
class StreamText {
  private readonly decoder = new TextDecoder('utf-8');
  private readonly capture: OutputCapture;

  constructor(
    private readonly stream: 'stdout' | 'stderr',
    limitChars: number,
    private readonly onOutput: ((chunk: OutputChunk) => void) | undefined,
  ) {
    this.capture = new OutputCapture(limitChars);
  }

  push(bytes: Buffer): void {
    this.add(this.decoder.decode(bytes, { stream: true }));
  }

  finish(): CapturedText {
    this.add(this.decoder.decode());
    return this.capture.result();
  }

  private add(text: string): void {
    if (text.length === 0) return;
    this.capture.append(text);
    this.onOutput?.({ stream: this.stream, text });
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
