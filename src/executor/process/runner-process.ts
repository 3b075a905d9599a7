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
import { FrameScanner } from '../frame-scanner.js';
import { PhaseTimer } from '../phase-timer.js';
import { READY_NONCE, ReadyFrameSchema, ResultFrameSchema, StderrEndFrameSchema, type JobLine } from '../runner-protocol.js';
import { Slot } from '../slot.js';
import type { PoolKey } from '../pool-key.js';
import { MAX_STREAM_BYTES, type RunEnd, type RunHooks } from '../docker/runner-container.js';
import { spawnSpec, type ProcessSlotDirs, type SandboxLayer } from './launch-spec.js';

const READY_TIMEOUT_MS = 60_000;
const MAX_FRAME_BYTES = 96 * 1024 * 1024;
/** As runner-container.ts: a forged frame of millions of tiny values is refused unparsed. */
const MAX_FRAME_STRUCTURE = 10_000 * 8 + 20_000;
const MAX_STDERR_FRAME = { maxBytes: 4 * 1024, maxStructure: 64 };
/** After the result frame, how long to wait for the stderr-end frame (the two pipes are independent). */
const STDERR_DRAIN_MS = 250;
/** After the runner exits, how long its stdout may still deliver the result frame. */
const EXIT_DRAIN_MS = 250;
/** The last stderr bytes kept for the memory verdict. */
const STDERR_TAIL_CHARS = 4096;

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
  private readonly scanner: FrameScanner;
  private readonly stderrScanner: FrameScanner;
  private stderrEnded = false;
  private onStderrEnd: (() => void) | null = null;
  private hooks: RunHooks | null = null;
  private settle: ((end: RunEnd) => void) | null = null;
  private readyResolve: (() => void) | null = null;
  private streamBytes = 0;
  private stderrTail = '';
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
      this.settle?.({ kind: 'exited' });
    });
    this.scanner = new FrameScanner(READY_NONCE, { maxBytes: MAX_FRAME_BYTES, maxStructure: MAX_FRAME_STRUCTURE }, {
      onText: (bytes) => this.hooks?.onStdout(bytes),
      onFrame: (json) => this.handleFrame(json),
      onOversizedFrame: (over) => this.settle?.({ kind: 'flood', what: `a result frame ${over}, refused unread` }),
    });
    this.stderrScanner = new FrameScanner(READY_NONCE, MAX_STDERR_FRAME, {
      onText: (bytes) => {
        this.stderrTail = (this.stderrTail + bytes.toString('utf8')).slice(-STDERR_TAIL_CHARS);
        this.hooks?.onStderr(bytes);
      },
      onFrame: (json) => this.handleStderrFrame(json),
      onOversizedFrame: (over) => this.settle?.({ kind: 'flood', what: `a stderr frame ${over}` }),
    });
    child.stdout.on('data', (chunk: Buffer) => this.countAndPass(chunk, (bytes) => this.scanner.push(bytes)));
    child.stderr.on('data', (chunk: Buffer) => this.countAndPass(chunk, (bytes) => this.stderrScanner.push(bytes)));
    child.stdout.on('end', () => this.scanner.flush());
    child.stderr.on('end', () => this.stderrScanner.flush());
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
    return new Promise<void>((resolve, reject) => {
      const fail = (error: Error) => {
        clearTimeout(timer);
        this.readyResolve = null;
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error(`runner not ready after ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS);
      this.readyResolve = () => {
        clearTimeout(timer);
        resolve();
      };
      void this.exited.then(({ code, signal }) => {
        if (this.readyResolve) fail(new Error(`runner exited before it was ready (${signal ?? `exit ${code}`}): ${this.stderrTail.trim().slice(-500)}`));
      });
    });
  }

  get alive(): boolean {
    return this.running && !this.disposed;
  }

  /** Runs one job; resolves once its end is known. The caller kills the process group afterwards. */
  async run(job: JobLine, hooks: RunHooks): Promise<ProcessRunOutcome> {
    this.hooks = hooks;
    this.scanner.expectNonce(job.nonce);
    this.stderrScanner.expectNonce(job.nonce);
    this.stderrTail = '';
    const end = await new Promise<RunEnd>((resolve) => {
      let done = false;
      const finish = (value: RunEnd) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        hooks.signal?.removeEventListener('abort', onAbort);
        resolve(value);
      };
      const onAbort = () => finish({ kind: 'aborted' });
      const timer = setTimeout(() => finish({ kind: 'timeout' }), hooks.timeoutMs);
      hooks.signal?.addEventListener('abort', onAbort, { once: true });
      if (hooks.signal?.aborted) onAbort();
      if (!this.running) finish({ kind: 'exited' });
      this.settle = finish;
      this.child.stdin.end(`${JSON.stringify(job)}\n`);
    });
    this.settle = null;
    this.hooks = null;
    if (end.kind === 'result') return { end, exitCode: end.frame.exitCode, exit: null, stderrTail: this.stderrTail };
    const diedByItself = !this.running;
    await this.kill();
    const exit = await this.exited;
    const exitCode = exit.code ?? (exit.signal ? 128 + signalNumber(exit.signal) : null);
    return { end, exitCode, exit: diedByItself ? exit : null, stderrTail: this.stderrTail };
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

  private countAndPass(chunk: Buffer, pass: (bytes: Buffer) => void): void {
    this.streamBytes += chunk.length;
    if (this.streamBytes > MAX_STREAM_BYTES) {
      this.settle?.({ kind: 'flood', what: `output over ${MAX_STREAM_BYTES / 1024 / 1024} MiB` });
      return;
    }
    pass(chunk);
  }

  private handleFrame(json: string): void {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      this.logger.warn('runner sent a frame that is not JSON');
      return;
    }
    if (this.readyResolve) {
      if (ReadyFrameSchema.safeParse(value).success) {
        const resolve = this.readyResolve;
        this.readyResolve = null;
        resolve();
      } else this.logger.warn('runner sent an invalid ready frame');
      return;
    }
    const result = ResultFrameSchema.safeParse(value);
    if (!result.success) {
      this.logger.warn({ issues: result.error.issues.slice(0, 3) }, 'runner sent an invalid result frame');
      return;
    }
    const settle = this.settle;
    const deliver = () => settle?.({ kind: 'result', frame: result.data });
    if (this.stderrEnded) {
      deliver();
      return;
    }
    const timer = setTimeout(() => {
      this.onStderrEnd = null;
      deliver();
    }, STDERR_DRAIN_MS);
    this.onStderrEnd = () => {
      clearTimeout(timer);
      this.onStderrEnd = null;
      deliver();
    };
  }

  private handleStderrFrame(json: string): void {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch {
      return;
    }
    if (StderrEndFrameSchema.safeParse(value).success) {
      this.stderrEnded = true;
      this.onStderrEnd?.();
    }
  }
}

function signalNumber(signal: NodeJS.Signals): number {
  return os.constants.signals[signal] ?? 0;
}
