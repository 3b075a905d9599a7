/**
 * The Executor (executor.ts) that runs each job in one throwaway Docker container:
 *   take a warm container → move the session's files and snapshot into its slot → send the job →
 *   stream output → result frame, exit, timeout or abort → adopt the new snapshot only if the runner
 *   reported it saved → the engine inspects the files in the slot while the container is killed →
 *   move files back → remove the container (in the background).
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { createHash } from 'node:crypto';
import Docker from 'dockerode';
import type { Settings } from '../../config/settings.js';
import type { DiskBudget } from '../../files/disk-budget.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { joinNotices } from '../../notices.js';
import type { CapturedText, ExecutionStatus, OneShotLanguageInfo, OutputChunk, RuntimeInfo } from '../../domain/types.js';
import { CodecellError } from '../../errors.js';
import { formatBytes } from '../../files/byte-size.js';
import { SANDBOX_UID } from '../../sandbox-user.js';
import { networkNotice } from '../network-notice.js';
import { OutputCapture } from '../output-capture.js';
import { PhaseTimer } from '../phase-timer.js';
import { QuotaWatchdog, type QuotaBreach } from '../quota-watchdog.js';
import type { ResultFrame } from '../runner-protocol.js';
import type {
  Executor,
  ExecutorHealth,
  ExecutorInfo,
  ExecutorJob,
  ExecutorResult,
  FinishedRun,
  InspectFiles,
  IsolationReport,
} from '../executor.js';
import { inspectThenPutBack } from '../files-scope.js';
import { Slot, type SessionPlaces } from '../slot.js';
import { CONTAINER_LABEL, INSTANCE_LABEL } from './container-spec.js';
import type { PoolKey } from '../pool-key.js';
import type { RunOutcome } from './runner-container.js';
import { newNonce } from '../runner-streams.js';
import { RuntimeProbe } from './runtime-probe.js';
import { WarmPool } from './warm-pool.js';

export class DockerExecutor implements Executor {
  readonly kind = 'docker' as const;
  private readonly docker: Docker;
  private readonly instanceId: string;
  private readonly pool: WarmPool;
  private readonly runtimes: RuntimeProbe;
  private readonly slotsRoot: string;
  private readonly disposals = new Set<Promise<void>>();
  private readonly running = new Set<AbortController>();

  constructor(
    private readonly settings: Settings,
    private readonly logger: Logger,
    private readonly metrics: Metrics,
    /** The server's disk budget, shared with uploads (files/file-service.ts). */
    private readonly diskBudget: DiskBudget,
  ) {
    this.docker = new Docker({ socketPath: settings.docker.socketPath });
    // Containers are labelled with the data dir they serve: a restart with the same data dir
    // recognises its own leftovers, and two servers with different data dirs never touch each other's.
    // Two live engines on one data dir would take each other's for leftovers: engine/data-dir-owner.ts prevents that.
    this.instanceId = createHash('sha256').update(settings.dataDir).digest('hex').slice(0, 16);
    this.slotsRoot = path.join(settings.dataDir, 'slots');
    this.pool = new WarmPool({
      docker: this.docker,
      settings,
      instanceId: this.instanceId,
      slotsRoot: this.slotsRoot,
      logger,
      metrics,
    });
    this.runtimes = new RuntimeProbe(this.docker, settings, this.instanceId);
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

  /** Executor.run: the files are in the container's slot while `inspect` reads them. */
  async run<T>(job: ExecutorJob, inspect: InspectFiles<T>): Promise<FinishedRun<T>> {
    const began = performance.now();
    const timer = new PhaseTimer();
    const abort = new AbortController();
    // Aborted by the quota watchdog when the session's files pass the quota during the run.
    const quotaStop = new AbortController();
    const signal = AbortSignal.any([...(job.signal ? [job.signal] : []), abort.signal, quotaStop.signal]);
    this.running.add(abort);
    let taken: Awaited<ReturnType<WarmPool['take']>>;
    try {
      taken = await this.pool.take(job.pool);
    } catch (error) {
      this.running.delete(abort);
      this.logger.error({ err: error, pool: job.pool }, 'could not start an execution container');
      throw new CodecellError(
        'RUNTIME_UNAVAILABLE',
        `could not start a ${job.pool} container (${error instanceof Error ? error.message : String(error)}); ` +
          'check that Docker runs and the images are built (npm run images)',
      );
    }
    const { runner, warm } = taken;
    timer.mark('take');
    let frameTimings: ResultFrame['timings'] = null;
    let containerCpuMs: number | null = null;
    // Puts the files back once no process can write to them any more and the caller has read them
    // (`filesRead`), then throws the container away.
    const cleanUp = async (filesRead: Promise<void>): Promise<void> => {
      let filesBack = false;
      try {
        await runner.kill();
        timer.mark('kill');
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
              { session: job.sessionId, pool: job.pool, warm, start: runner.startPhases, run: timer.phases, runner: frameTimings, containerCpuMs },
              'execution phases (ms)',
            );
          }),
        );
      }
    };
    let result: ExecutorResult;
    try {
      const restore = await runner.slot.attach(job.sessionId, job, job.stateFile);
      timer.mark('attach');
      const stdout = new StreamText('stdout', this.settings.limits.maxOutputChars, job.onOutput);
      const stderr = new StreamText('stderr', this.settings.limits.maxOutputChars, job.onOutput);
      // One file cannot outgrow the quota (RLIMIT_FSIZE is the quota); many files are watched here:
      // the session's files, what lands in out/ and its snapshots, within the disk budget's room.
      const quotaDirs = runner.slot.quotaDirs(job.stateDir);
      const grant = await this.diskBudget.reserve(this.settings.limits.sessionQuotaBytes);
      const watchdog = new QuotaWatchdog({
        dirs: quotaDirs,
        uncountedFiles: [runner.slot.newStateFile],
        limitBytes: this.settings.limits.sessionQuotaBytes,
        limitEntries: this.settings.limits.sessionMaxFiles,
        ...(Number.isFinite(grant.bytes) ? { growthCapBytes: grant.bytes } : {}),
        onExceeded: () => quotaStop.abort(),
      });
      let outcome: RunOutcome;
      let adoption: Awaited<ReturnType<Slot['adoptState']>> = 'none';
      let snapshotBreach: QuotaBreach | null = null;
      let lateBreach: QuotaBreach | null = null;
      let grownBytes = 0;
      try {
        const startBytes = await watchdog.start();
        grownBytes = grant.bytes; // until measured: all it was granted
        try {
          outcome = await runner.run(
            { v: 1, nonce: newNonce(), code: job.code, restore, maxImages: job.maxImages, sourceLanguage: job.sourceLanguage, args: [...job.args], ...(job.sourceMap ? { sourceMap: job.sourceMap } : {}) },
            {
              onStdout: (bytes) => stdout.push(bytes),
              onStderr: (bytes) => stderr.push(bytes),
              timeoutMs: job.timeoutMs,
              signal,
            },
          );
        } finally {
          await watchdog.stop();
        }
        // One more look: a short run can end between two polls.
        const ended = await watchdog.usageNow();
        if (watchdog.breach === null) lateBreach = watchdog.judge(ended);
        let snapshotGrowth = 0;
        const stateFile = job.stateFile;
        if (outcome.end.kind === 'result' && outcome.end.frame.stateSaved && stateFile !== null) {
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
      timer.mark('run');
      this.pool.refillNow(job.pool);
      const frame = outcome.end.kind === 'result' ? outcome.end.frame : null;
      frameTimings = frame?.timings ?? null;
      containerCpuMs = outcome.cpuMs;
      const stateSaved = adoption === 'adopted';
      timer.mark('adopt');
      // A container that died on its own is still there (it is removed below); one that is gone was removed from outside.
      const removedFromOutside =
        outcome.end.kind === 'exited' && !outcome.oomKilled && (await containerIsGone(runner.container));
      const classified = this.classify(outcome, job, stateSaved, signal, watchdog.breach, removedFromOutside);
      const status = classified.status;
      let notice = classified.notice;
      if (lateBreach === 'budget') notice = joinNotices(notice, this.budgetPassedNotice());
      if (adoption === 'over-quota') notice = joinNotices(notice, this.snapshotRefusedNotice(snapshotBreach));
      const stdoutText = stdout.finish();
      const stderrText = stderr.finish();
      notice = joinNotices(notice, networkNotice({ error: frame?.error ?? null, stderr: stderrText.text }));
      result = {
        status,
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

  /** Kills every running job (their sessions keep the last good state) and removes all containers. */
  async shutdown(): Promise<void> {
    for (const abort of this.running) abort.abort();
    await this.pool.drain();
    while (this.running.size > 0 || this.disposals.size > 0) {
      await Promise.allSettled([...this.disposals]);
      if (this.running.size > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await this.removeOwnContainers();
  }

  async health(): Promise<ExecutorHealth> {
    const isolation = this.isolation();
    try {
      await this.docker.ping();
      return { kind: this.kind, reachable: true, isolation };
    } catch (error) {
      return { kind: this.kind, reachable: false, error: error instanceof Error ? error.message : String(error), isolation };
    }
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

  private classify(
    outcome: RunOutcome,
    job: ExecutorJob,
    stateSaved: boolean,
    signal: AbortSignal,
    breach: QuotaBreach | null,
    removedFromOutside = false,
  ): { status: ExecutionStatus; notice: string | null } {
    const memoryMb = Math.round(this.settings.limits.memoryBytes / 1024 / 1024);
    const kept = 'The session keeps its variables from before this run; files written so far are kept.';
    const { end } = outcome;
    switch (end.kind) {
      case 'result':
        if (outcome.oomKilled) {
          return {
            status: 'oom',
            notice: `out of memory (limit ${memoryMb} MiB): a process of this run was killed.` +
              (stateSaved ? '' : ` ${kept}`),
          };
        }
        return {
          status: end.frame.outcome,
          notice: joinNotices(
            end.frame.stateError ? `state not saved: ${end.frame.stateError}` : null,
            ...(end.frame.notices ?? []),
          ),
        };
      case 'timeout':
        return {
          status: 'timeout',
          notice: `timed out after ${formatSeconds(job.timeoutMs)} (limit): the run was stopped. ${kept}`,
        };
      case 'exited':
        if (outcome.oomKilled) {
          return { status: 'oom', notice: `out of memory (limit ${memoryMb} MiB): the run was killed. ${kept}` };
        }
        if (removedFromOutside) {
          return {
            status: 'killed',
            notice: `the run's container was removed by something outside this run (exit code ${outcome.exitCode ?? 'unknown'}), not by your code. ${kept}`,
          };
        }
        return {
          status: 'killed',
          notice: `the interpreter died without finishing (exit code ${outcome.exitCode ?? 'unknown'}). ${kept}`,
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
    return (
      `Variables not saved: ${limit}. The session keeps its variables from before this run; ` +
      'delete files or large variables you no longer need.'
    );
  }

  private track(disposal: Promise<void>): void {
    this.disposals.add(disposal);
    void disposal.finally(() => this.disposals.delete(disposal));
  }

  private async removeOwnContainers(): Promise<void> {
    const leftovers = await this.docker.listContainers({
      all: true,
      filters: { label: [`${CONTAINER_LABEL}=true`, `${INSTANCE_LABEL}=${this.instanceId}`] },
    });
    await Promise.all(
      leftovers.map((info) => this.docker.getContainer(info.Id).remove({ force: true }).catch(() => undefined)),
    );
  }
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

/** True when Docker no longer knows the container (404). */
async function containerIsGone(container: Docker.Container): Promise<boolean> {
  try {
    await container.inspect();
    return false;
  } catch (error) {
    return typeof error === 'object' && error !== null && 'statusCode' in error && error.statusCode === 404;
  }
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
