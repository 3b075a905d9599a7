/**
 * One sandboxed runner process from birth to death: its slot is made, the launcher confines itself
 * and execs the runner in a process group of its own, and it is ready once the ready frame arrives.
 * It then runs exactly one job and its whole process group is killed. Nothing is ever reused.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../logger.js';
import { SANDBOX_GID, SANDBOX_UID } from '../../sandbox-user.js';
import { PhaseTimer } from '../phase-timer.js';
import type { JobLine } from '../runner-protocol.js';
import { RunnerStreams, type RunEnd, type RunHooks } from '../runner-streams.js';
import { Slot } from '../slot.js';
import type { PoolKey } from '../pool-key.js';
import type { RunnerProcesses } from '../held-files.js';
import { processGroupMembers } from './process-group.js';
import { spawnSpec, type ProcessSlotDirs, type SandboxLayer } from './launch-spec.js';

/** After the runner exits, how long its stdout may still deliver the result frame. */
const EXIT_DRAIN_MS = 250;

export interface ProcessExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface ProcessRunOutcome {
  readonly end: RunEnd;
  readonly exitCode: number | null;
  /** How the runner ended when it ended without a result (null: it sent one, or it was killed here). */
  readonly exit: ProcessExit | null;
  readonly stderrTail: string;
}

const RUNNING_AS_ROOT = process.getuid?.() === 0;

export class RunnerProcess {
  private readonly streams: RunnerStreams;
  private readonly exited: Promise<ProcessExit>;
  private running = true;
  private disposed = false;
  readonly startPhases: Record<string, number>;

  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    readonly slot: Slot,
    readonly dirs: ProcessSlotDirs,
    readonly pool: PoolKey,
    private readonly logger: Logger,
    startPhases: Record<string, number>,
  ) {
    this.startPhases = startPhases;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => resolve({ code, signal }));
      child.once('error', () => resolve({ code: null, signal: null }));
    });
    // 'exit' can come before the last bytes on stdout are read (the runner exits right after its result
    // frame): the run counts as ended without a result only once stdout has ended, or after a grace
    // period (a background process of the run may hold stdout open).
    const stdoutEnded = new Promise<void>((resolve) => child.stdout.once('close', resolve));
    void this.exited.then(async () => {
      this.running = false;
      await Promise.race([stdoutEnded, new Promise((resolve) => setTimeout(resolve, EXIT_DRAIN_MS))]);
      this.streams.exited();
    });
    this.streams = new RunnerStreams(logger);
    child.stdout.on('data', (chunk: Buffer) => this.streams.pushStdout(chunk));
    child.stderr.on('data', (chunk: Buffer) => this.streams.pushStderr(chunk));
    child.stdout.on('end', () => this.streams.flushStdout());
    child.stderr.on('end', () => this.streams.flushStderr());
    // A runner that dies before reading its job must not crash the server with EPIPE.
    child.stdin.on('error', () => undefined);
  }

  /** Makes a slot, starts the confined runner, and resolves once it is ready for a job. */
  static async start(options: {
    settings: Settings;
    layer: SandboxLayer;
    slotsRoot: string;
    pool: PoolKey;
    maxTasks: number;
    logger: Logger;
  }): Promise<RunnerProcess> {
    const timer = new PhaseTimer();
    const slot = await Slot.create(options.slotsRoot);
    const dirs: ProcessSlotDirs = {
      root: slot.root,
      dataDir: slot.dataDir,
      homeDir: slot.homeDir,
      inDir: slot.inDir,
      outDir: slot.outDir,
      artifactsDir: path.join(slot.root, 'artifacts'),
      tmpDir: path.join(slot.root, 'tmp'),
    };
    try {
      for (const dir of [dirs.artifactsDir, dirs.tmpDir]) {
        await fs.mkdir(dir, { mode: 0o700 });
        if (RUNNING_AS_ROOT) await fs.chown(dir, SANDBOX_UID, SANDBOX_GID);
      }
      timer.mark('slot');
      const spec = spawnSpec({
        settings: options.settings,
        layer: options.layer,
        pool: options.pool,
        slot: dirs,
        runningAsRoot: RUNNING_AS_ROOT,
        maxTasks: options.maxTasks,
      });
      // detached: the launcher leads a new session and process group, which its seccomp filter keeps every descendant in.
      const child = spawn(spec.command, [...spec.args], { detached: true, stdio: ['pipe', 'pipe', 'pipe'], env: spec.env, cwd: '/' });
      const runner = new RunnerProcess(child, slot, dirs, options.pool, options.logger.child({ pid: child.pid, pool: options.pool }), timer.phases);
      try {
        await runner.ready();
      } catch (error) {
        await runner.kill();
        throw error;
      }
      timer.mark('ready');
      return runner;
    } catch (error) {
      await slot.dispose().catch(() => undefined);
      throw error;
    }
  }

  private ready(): Promise<void> {
    return this.streams.ready(
      this.exited,
      ({ code, signal }) => `runner exited before it was ready (${signal ?? `exit ${code}`}): ${this.streams.stderrTail.trim().slice(-500)}`,
    );
  }

  get alive(): boolean {
    return this.running && !this.disposed;
  }

  /** Runs one job; resolves once its end is known. The caller kills the process group afterwards. */
  async run(job: JobLine, hooks: RunHooks): Promise<ProcessRunOutcome> {
    const end = await this.streams.run(job, hooks, (line) => this.child.stdin.end(line), !this.running);
    if (end.kind === 'result') return { end, exitCode: end.frame.exitCode, exit: null, stderrTail: this.streams.stderrTail };
    const diedByItself = !this.running;
    await this.kill();
    const exit = await this.exited;
    const exitCode = exit.code ?? (exit.signal ? 128 + signalNumber(exit.signal) : null);
    return { end, exitCode, exit: diedByItself ? exit : null, stderrTail: this.streams.stderrTail };
  }

  /** SlotRunner.processes: the runner's process group (the sandbox cannot leave it), null once it is killed. */
  processes(): RunnerProcesses | null {
    const pid = this.child.pid;
    return pid === undefined || this.killed !== null ? null : { pids: processGroupMembers(pid), threadsShareDescriptors: false };
  }

  /** SlotRunner.halt: a sandboxed process group is killed (there is no freezer here). */
  halt(): Promise<void> {
    return this.kill();
  }

  /** SIGKILLs the runner's whole process group (the sandbox cannot leave it) and waits for the runner. Idempotent. */
  kill(): Promise<void> {
    if (!this.killed) {
      this.killed = (async () => {
        const pid = this.child.pid;
        if (pid !== undefined) {
          try {
            process.kill(-pid, 'SIGKILL');
          } catch {
            // The group is empty: everything in it has already ended.
          }
        }
        await this.exited;
      })();
    }
    return this.killed;
  }

  private killed: Promise<void> | null = null;

  /** Removes the slot (unless it still holds a session's files). Idempotent. */
  async dispose(options: { keepSlot?: boolean } = {}): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.kill();
    if (!options.keepSlot) await this.slot.dispose().catch((error: unknown) => this.logger.warn({ err: error }, 'slot removal failed'));
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return os.constants.signals[signal] ?? 0;
}
