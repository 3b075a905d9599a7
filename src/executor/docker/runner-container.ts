/**
 * One execution container from birth to death: created with its slot, attached before start so no
 * byte is lost, started, and ready once the runner's ready frame arrives. It then runs exactly one
 * job and is killed and removed. Nothing is ever reused.
 */
import { randomBytes } from 'node:crypto';
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { Container } from 'dockerode';
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../logger.js';
import { FrameScanner } from '../frame-scanner.js';
import { PhaseTimer } from '../phase-timer.js';
import {
  READY_NONCE,
  ReadyFrameSchema,
  ResultFrameSchema,
  StderrEndFrameSchema,
  type JobLine,
  type ResultFrame,
} from '../runner-protocol.js';
import { Slot } from '../slot.js';
import { containerSpec } from './container-spec.js';
import type { PoolKey } from '../pool-key.js';
import { readCpuMs } from './cgroup-cpu.js';
import { OomWatch } from './oom-watch.js';

const READY_TIMEOUT_MS = 60_000;
/** How long an `oom` event may trail the death of a container that was SIGKILLed by no one here. */
const LATE_OOM_GRACE_MS = 1000;
/** A result frame: up to CODECELL_MAX_IMAGES inline images; what reaches a client is capped again in the engine. */
const MAX_FRAME_BYTES = 96 * 1024 * 1024;
/**
 * JSON values a result frame may hold: its runner caps notCarried at 10,000 entries (8 structural
 * bytes each); images, modules and fields need far fewer. Counted before JSON.parse, so a forged
 * frame of millions of tiny values (seconds of parsing on the event loop) is refused unparsed.
 * Chosen over a parse worker: with values bounded, the 64 MiB stream cap bounds parsing to ~1 s worst case, with no worker per run.
 */
const MAX_FRAME_STRUCTURE = 10_000 * 8 + 20_000;
/** stderr carries only the small stderr-end frame: a forged big one is not buffered. */
const MAX_STDERR_FRAME = { maxBytes: 4 * 1024, maxStructure: 64 };
/** Past this much raw output the run is stopped: nobody reads 64 MiB of text. */
export const MAX_STREAM_BYTES = 64 * 1024 * 1024;

export type RunEnd =
  | { readonly kind: 'result'; readonly frame: ResultFrame }
  | { readonly kind: 'exited' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'flood'; readonly what: string };

export interface RunOutcome {
  readonly end: RunEnd;
  readonly exitCode: number | null;
  readonly oomKilled: boolean;
  /** CPU the container used from its start to the result frame (ms; null when unknown or no result). */
  readonly cpuMs: number | null;
}

export interface RunHooks {
  readonly onStdout: (bytes: Buffer) => void;
  readonly onStderr: (bytes: Buffer) => void;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

/**
 * After the result frame, how long to wait for the stderr-end frame: Docker forwards stdout and
 * stderr independently, so stderr written before the result may still be on its way.
 */
const STDERR_DRAIN_MS = 250;

export class RunnerContainer {
  private readonly scanner: FrameScanner;
  private readonly stderrScanner: FrameScanner;
  private stderrEnded = false;
  private onStderrEnd: (() => void) | null = null;
  private readonly stdout = new PassThrough();
  private readonly stderr = new PassThrough();
  private hooks: RunHooks | null = null;
  private settle: ((end: RunEnd) => void) | null = null;
  private readyResolve: (() => void) | null = null;
  private streamBytes = 0;
  private exited: Promise<number | null>;
  private exitedResolve!: (code: number | null) => void;
  private disposed = false;
  private running = true;
  /** How long each step of start-up took (ms), for the debug log of the run that uses it. */
  readonly startPhases: Record<string, number>;

  private constructor(
    private readonly docker: Docker,
    readonly container: Container,
    readonly slot: Slot,
    readonly pool: PoolKey,
    private readonly logger: Logger,
    private readonly oomWatch: OomWatch,
    startPhases: Record<string, number> = {},
  ) {
    this.startPhases = startPhases;
    this.exited = new Promise((resolve) => (this.exitedResolve = resolve));
    void this.exited.then(() => (this.running = false));
    this.scanner = new FrameScanner(READY_NONCE, { maxBytes: MAX_FRAME_BYTES, maxStructure: MAX_FRAME_STRUCTURE }, {
      onText: (bytes) => this.hooks?.onStdout(bytes),
      onFrame: (json) => this.handleFrame(json),
      onOversizedFrame: (over) => this.settle?.({ kind: 'flood', what: `a result frame ${over}, refused unread` }),
    });
    this.stdout.on('data', (chunk: Buffer) => this.countAndPass(chunk, (bytes) => this.scanner.push(bytes)));
    // Until a job is sent no frame is expected on stderr; the nonce is set with the job.
    this.stderrScanner = new FrameScanner(READY_NONCE, MAX_STDERR_FRAME, {
      onText: (bytes) => this.hooks?.onStderr(bytes),
      onFrame: (json) => this.handleStderrFrame(json),
      onOversizedFrame: (over) => this.settle?.({ kind: 'flood', what: `a stderr frame ${over}` }),
    });
    this.stderr.on('data', (chunk: Buffer) => this.countAndPass(chunk, (bytes) => this.stderrScanner.push(bytes)));
  }

  /** Creates, attaches and starts a container; resolves once its runner is ready for a job. */
  static async start(options: {
    docker: Docker;
    settings: Settings;
    instanceId: string;
    slotsRoot: string;
    pool: PoolKey;
    logger: Logger;
  }): Promise<RunnerContainer> {
    const timer = new PhaseTimer();
    const slot = await Slot.create(options.slotsRoot);
    timer.mark('slot');
    let container: Container | null = null;
    let oomWatch: OomWatch | null = null;
    try {
      container = await options.docker.createContainer(
        containerSpec(options.settings, options.instanceId, options.pool, slot),
      );
      timer.mark('create');
      oomWatch = await OomWatch.start(options.docker, container.id);
      timer.mark('watch');
      const runner = new RunnerContainer(
        options.docker,
        container,
        slot,
        options.pool,
        options.logger.child({ container: container.id.slice(0, 12), pool: options.pool }),
        oomWatch,
        timer.phases,
      );
      await runner.attachAndStart(timer);
      return runner;
    } catch (error) {
      oomWatch?.close();
      if (container) await container.remove({ force: true }).catch(() => undefined);
      await slot.dispose().catch(() => undefined);
      throw error;
    }
  }

  private async attachAndStart(timer: PhaseTimer): Promise<void> {
    const stream = await this.container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true });
    timer.mark('attach');
    this.docker.modem.demuxStream(stream, this.stdout, this.stderr);
    stream.on('end', () => {
      this.scanner.flush();
      this.stderrScanner.flush();
    });
    this.attached = stream;
    const ready = new Promise<void>((resolve, reject) => {
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
      void this.exited.then(() => {
        if (this.readyResolve) fail(new Error('runner exited before it was ready'));
      });
    });
    // Handled below by `await ready`; this keeps an early rejection from being reported as unhandled.
    ready.catch(() => undefined);
    await this.container.start();
    timer.mark('start');
    this.container
      .wait()
      .then((status: { StatusCode?: number }) => this.exitedResolve(status.StatusCode ?? null))
      .catch(() => this.exitedResolve(null));
    void this.exited.then(() => this.settle?.({ kind: 'exited' }));
    await ready;
    timer.mark('ready');
  }

  private attached: NodeJS.ReadWriteStream | null = null;

  /** False once the container has stopped (a warm container that died is never handed out). */
  get alive(): boolean {
    return this.running && !this.disposed;
  }

  /**
   * Runs one job and resolves once its end is known, with whether the kernel's OOM killer struck
   * during the run (also at a child process while the runner lived on).
   *
   * After a result frame that carries the cgroup's own OOM count (runc: the runner reads it once
   * the code has ended, and the kernel counts a kill before the victim dies), the answer does not
   * wait for the container: the caller kills it off the critical path. Without that count (gVisor
   * shows no cgroup files) the container is killed first, because only once it is dead has the
   * engine reported every OOM kill in it (oom-watch.ts).
   */
  async run(job: JobLine, hooks: RunHooks): Promise<RunOutcome> {
    this.hooks = hooks;
    this.scanner.expectNonce(job.nonce);
    this.stderrScanner.expectNonce(job.nonce);
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
      this.settle = finish;
      this.attached?.write(`${JSON.stringify(job)}\n`);
      this.attached?.end();
    });
    this.settle = null;
    this.hooks = null;
    if (end.kind === 'result') {
      const cpuMs = await readCpuMs(this.container.id); // before the kill: the cgroup goes with the container
      const counted = end.frame.oomKills;
      const oomKilled = typeof counted === 'number' ? counted > 0 : (await this.stop()).oomKilled;
      return { end, exitCode: end.frame.exitCode, oomKilled, cpuMs };
    }
    const { exitCode, oomKilled } = await this.stop();
    return { end, exitCode, oomKilled, cpuMs: null };
  }

  /** Kills the container if it still runs, waits until it is dead, and says how it died. */
  async stop(): Promise<{ exitCode: number | null; oomKilled: boolean }> {
    if (!this.stopped) {
      this.stopped = (async () => {
        const diedByItself = !this.running;
        await this.kill();
        const exitCode = await this.exited;
        return { exitCode, oomKilled: await this.wasOomKilled(diedByItself, exitCode) };
      })();
    }
    return this.stopped;
  }

  private stopped: Promise<{ exitCode: number | null; oomKilled: boolean }> | null = null;

  /** Kills the container (if it still runs) and waits until it is dead. Idempotent. */
  kill(): Promise<void> {
    if (!this.killed) {
      this.killed = (async () => {
        if (this.running) await this.container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
        await this.exited;
      })();
    }
    return this.killed;
  }

  private killed: Promise<void> | null = null;

  /**
   * Removes the container and its slot. Idempotent. With `keepSlot` the slot stays on disk: it
   * still holds a session's files (they could not be moved back), and the next start-up's
   * recovery returns them to their session.
   */
  async dispose(options: { keepSlot?: boolean } = {}): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.oomWatch.close();
    await this.container.remove({ force: true }).catch((error: unknown) => {
      this.logger.warn({ err: error }, 'container removal failed');
    });
    if (!options.keepSlot) await this.slot.dispose().catch(() => undefined);
  }

  /** Call once the container is dead. The inspect is the fallback for a lost event stream. */
  private async wasOomKilled(diedByItself: boolean, exitCode: number | null): Promise<boolean> {
    const verdict = await this.oomWatch.afterDeath();
    if (verdict.known && verdict.oomKills > 0) return true;
    // SIGKILL that the host did not send: the OOM killer's notice may trail the death (see lateOomKill).
    if (diedByItself && exitCode === 137 && (await this.oomWatch.lateOomKill(LATE_OOM_GRACE_MS))) return true;
    if (verdict.known) return false;
    try {
      const info = await this.container.inspect();
      return info.State.OOMKilled === true;
    } catch {
      return false;
    }
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
      const ready = ReadyFrameSchema.safeParse(value);
      if (ready.success) {
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
    // Wait (briefly) until stderr is complete, so its tail is not lost.
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

export function newNonce(): string {
  return randomBytes(16).toString('hex');
}
