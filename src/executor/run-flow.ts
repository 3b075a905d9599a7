/**
 * One run around a started runner, the same for every executor: take a runner → move the session's
 * files and snapshot into its slot → watch the quota within the disk budget → send the job → stream
 * output → result frame, exit, timeout or abort → adopt the new snapshot only if the runner reported
 * it saved, memory did not run out and the session stays within its limits → status and notices → the engine inspects the
 * files in the slot while no process of the runner can write (frozen or dead) → move files back →
 * dispose of the runner (killing it) in the background.
 *
 * What differs per executor (how a runner is started, run, killed, and how its death is read) comes
 * in through RunnerPort.
 */
import type { Settings } from '../config/settings.js';
import type { DiskBudget } from '../files/disk-budget.js';
import type { Logger } from '../logger.js';
import { joinNotices } from '../notices.js';
import type { CodecellError } from '../errors.js';
import type { ExecutorJob, ExecutorResult, FinishedRun, InspectFiles } from './executor.js';
import { inspectThenPutBack } from './files-scope.js';
import { networkNotice } from './network-notice.js';
import { processPoolNotice } from './process-pool-notice.js';
import { PhaseTimer } from './phase-timer.js';
import type { PoolKey } from './pool-key.js';
import { QuotaWatchdog, type QuotaBreach } from './quota-watchdog.js';
import { measureBytes } from '../files/usage.js';
import type { JobLine } from './runner-protocol.js';
import { newNonce, type RunEnd, type RunHooks } from './runner-streams.js';
import { budgetPassedNotice, judgeRun, snapshotRefusedNotice, type EndFacts } from './run-verdict.js';
import type { Slot } from './slot.js';
import { StreamText } from './stream-text.js';
import { devicesOf, measureHeldFiles, type RunnerProcesses } from './held-files.js';

/** What a runner may write into its own counted dirs beside the cell's code (bash: its variable and function lists, its error log). */
const RUNNER_SCRATCH_BYTES = 1024 * 1024;

/** What the run flow needs of a started runner. */
export interface SlotRunner {
  readonly slot: Slot;
  /** How long each step of start-up took (ms), for the debug log. */
  readonly startPhases: Record<string, number>;
  /**
   * Resolves once no process of the runner can write any more: frozen, or killed and dead. Idempotent;
   * `dispose` ends a frozen runner for good, and no process of it runs user code again.
   */
  halt(): Promise<void>;
  /**
   * Every process of the runner now (host pids), where the server can list them (else null): what
   * they hold in files deleted while open counts against the session's quota during the run.
   */
  processes(): RunnerProcesses | null;
  /** Throws the runner away; with `keepSlot` its slot stays on disk for recovery. */
  dispose(options?: { keepSlot?: boolean }): Promise<void>;
}

export interface RunnerOutcome {
  readonly end: RunEnd;
  readonly exitCode: number | null;
}

/** What differs per executor. */
export interface RunnerPort<R extends SlotRunner, O extends RunnerOutcome> {
  take(pool: PoolKey): Promise<{ readonly runner: R; readonly warm: boolean }>;
  /** The pool may start a replacement now (the run has its answer). */
  refillNow(pool: PoolKey): void;
  /** Logs why no runner could start and returns the error for the caller. */
  startFailed(pool: PoolKey, error: unknown): CodecellError;
  /** Dirs of the runner that count against the session's quota besides the slot's own. */
  extraQuotaDirs(runner: R): readonly string[];
  run(runner: R, job: JobLine, hooks: RunHooks): Promise<O>;
  /** Between the end of the run and the last look at the session's usage. */
  afterRun(runner: R): Promise<void>;
  /** Out of memory, and why a runner without a result died. */
  endFacts(runner: R, outcome: O): Promise<EndFacts>;
  /** Executor-specific fields of the debug log of phases. */
  phaseDetails(outcome: O): Record<string, unknown>;
}

export class RunFlow<R extends SlotRunner, O extends RunnerOutcome> {
  private readonly disposals = new Set<Promise<void>>();
  private readonly running = new Set<AbortController>();

  constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
    /** The server's disk budget, shared with uploads (files/file-service.ts). */
    private readonly diskBudget: DiskBudget,
    private readonly port: RunnerPort<R, O>,
  ) {}

  /** Executor.run: the files are in the runner's slot while `inspect` reads them. */
  async run<T>(job: ExecutorJob, inspect: InspectFiles<T>): Promise<FinishedRun<T>> {
    const began = performance.now();
    const timer = new PhaseTimer();
    const abort = new AbortController();
    // Aborted by the quota watchdog when the session's files pass the quota during the run.
    const quotaStop = new AbortController();
    const signal = AbortSignal.any([...(job.signal ? [job.signal] : []), abort.signal, quotaStop.signal]);
    this.running.add(abort);
    let taken: { readonly runner: R; readonly warm: boolean };
    try {
      taken = await this.port.take(job.pool);
    } catch (error) {
      this.running.delete(abort);
      throw this.port.startFailed(job.pool, error);
    }
    const { runner, warm } = taken;
    timer.mark('take');
    let details: Record<string, unknown> = {};
    // Puts the files back once no process can write to them any more and the caller has read them
    // (`filesRead`), then throws the runner away.
    const cleanUp = async (filesRead: Promise<void>): Promise<void> => {
      let filesBack = false;
      try {
        await runner.halt();
        timer.mark('halt');
        await filesRead;
        await runner.slot.detach(job);
        filesBack = true;
        timer.mark('detach');
      } catch (error) {
        this.logger.error(
          { err: error, session: job.sessionId, slot: runner.slot.root },
          'could not move the session files back; the slot is kept for recovery at the next start',
        );
        throw error;
      } finally {
        this.running.delete(abort);
        this.track(
          runner.dispose({ keepSlot: !filesBack }).then(() => {
            timer.mark('dispose');
            this.logger.debug(
              { session: job.sessionId, pool: job.pool, warm, start: runner.startPhases, run: timer.phases, ...details },
              'execution phases (ms)',
            );
          }),
        );
      }
    };
    let result: ExecutorResult;
    try {
      const { limits } = this.settings;
      // null: a run without a snapshot (a one-shot language).
      const stateFile = job.stateFile;
      const restore = await runner.slot.attach(job.sessionId, job, stateFile);
      timer.mark('attach');
      const stdout = new StreamText('stdout', limits.maxOutputChars, job.onOutput);
      const stderr = new StreamText('stderr', limits.maxOutputChars, job.onOutput);
      // One file cannot outgrow the quota (RLIMIT_FSIZE is the quota); many files are watched here:
      // the session's files, what lands in out/ and its snapshots, within the disk budget's room.
      // The runner's own dirs (the process executor's /tmp) hold what it wrote before the session's
      // files came in (warm-up caches): not the session's. Where they count, a session over its quota
      // may still grow by the runner's own working files (the cell, its bookkeeping).
      const runnerDirs = this.port.extraQuotaDirs(runner);
      const runnerOwnBytes = runnerDirs.length === 0 ? 0 : await measureBytes(runnerDirs);
      const grant = await this.diskBudget.reserve(limits.sessionQuotaBytes);
      const watchedDirs = [...runner.slot.quotaDirs(job.stateDir), ...runnerDirs];
      const watchdog = new QuotaWatchdog({
        dirs: watchedDirs,
        // The snapshot and the runner's temporary copy of it (renamed to it once complete; the slot goes after the run).
        uncountedFiles: [runner.slot.newStateFile, `${runner.slot.newStateFile}.tmp`],
        limitBytes: limits.sessionQuotaBytes + runnerOwnBytes,
        limitEntries: limits.sessionMaxFiles,
        ...(Number.isFinite(grant.bytes) ? { growthCapBytes: grant.bytes } : {}),
        ...(runnerDirs.length === 0 ? {} : { overQuotaRoomBytes: Buffer.byteLength(job.code) + RUNNER_SCRATCH_BYTES }),
        heldBytes: heldFilesOf(runner, devicesOf(watchedDirs), limits.sessionQuotaBytes),
        onExceeded: () => quotaStop.abort(),
      });
      let outcome: O;
      let adoption: Awaited<ReturnType<Slot['adoptState']>> = 'none';
      let snapshotBreach: QuotaBreach | null = null;
      let lateBreach: QuotaBreach | null = null;
      let grownBytes = 0;
      let facts: EndFacts;
      try {
        const startBytes = await watchdog.start();
        timer.mark('quotaStart');
        grownBytes = grant.bytes; // until measured: all it was granted
        try {
          outcome = await this.port.run(
            runner,
            { v: 1, nonce: newNonce(), code: job.code, restore, maxImages: job.maxImages, sourceLanguage: job.sourceLanguage, args: [...job.args], ...(job.sourceMap ? { sourceMap: job.sourceMap } : {}) },
            { onStdout: (bytes) => stdout.push(bytes), onStderr: (bytes) => stderr.push(bytes), timeoutMs: job.timeoutMs, signal },
          );
        } finally {
          await watchdog.stop();
        }
        timer.mark('runner');
        await this.port.afterRun(runner);
        timer.mark('killBeforeLook');
        // One more look: a short run can end between two polls.
        const ended = await watchdog.usageNow();
        timer.mark('lastLook');
        if (watchdog.breach === null) lateBreach = watchdog.judge(ended);
        facts = await this.port.endFacts(runner, outcome);
        let snapshotGrowth = 0;
        // A run that ran out of memory keeps the last good state, on every executor (Docker's OOM kill
        // leaves none; the process executor's MemoryError still lets the runner save one).
        if (outcome.end.kind === 'result' && outcome.end.frame.stateSaved && stateFile !== null && facts.oom === null) {
          // A new snapshot is adopted only if the session stays within its limits with it.
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
      timer.mark('adoptState');
      this.port.refillNow(job.pool);
      const frame = outcome.end.kind === 'result' ? outcome.end.frame : null;
      details = this.port.phaseDetails(outcome);
      const stateSaved = adoption === 'adopted';
      timer.mark('adopt');
      const verdict = judgeRun({ end: outcome.end, facts, job, stateSaved, signal, breach: watchdog.breach, heldBytes: watchdog.heldBytesAtBreach, limits });
      let notice = verdict.notice;
      if (lateBreach === 'budget') notice = joinNotices(notice, budgetPassedNotice(limits));
      if (adoption === 'over-quota') notice = joinNotices(notice, snapshotRefusedNotice(limits, snapshotBreach));
      const stdoutText = stdout.finish();
      const stderrText = stderr.finish();
      notice = joinNotices(notice, networkNotice({ error: frame?.error ?? null, stderr: stderrText.text }));
      notice = joinNotices(notice, processPoolNotice({ error: frame?.error ?? null, stderr: stderrText.text }));
      result = {
        status: verdict.status,
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

  /** Stops every running job (their sessions keep the last good state). */
  abortAll(): void {
    for (const abort of this.running) abort.abort();
  }

  /** Resolves once no job runs and every runner is disposed of. */
  async settled(): Promise<void> {
    while (this.running.size > 0 || this.disposals.size > 0) {
      await Promise.allSettled([...this.disposals]);
      if (this.running.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private track(disposal: Promise<void>): void {
    this.disposals.add(disposal);
    void disposal.finally(() => this.disposals.delete(disposal));
  }
}

/**
 * What the runner's processes hold in deleted files on `devices` (those of the watched dirs), for the
 * watchdog; 0 where the runner cannot list its processes. Listed at each poll, never on the run's
 * own path (the process runner's list reads all of /proc). One file is at most the quota
 * (RLIMIT_FSIZE): what a file that cannot be measured counts.
 */
function heldFilesOf(runner: SlotRunner, devices: ReadonlySet<bigint>, largestFileBytes: number): () => Promise<number> {
  return async () => {
    const processes = runner.processes();
    return processes === null ? 0 : measureHeldFiles({ ...processes, largestFileBytes }, devices);
  };
}
