/**
 * One execution container from birth to death: created with its slot, attached before start so no
 * byte is lost, started, and ready once the runner's ready frame arrives. It then runs exactly one
 * job and is killed and removed. Nothing is ever reused.
 */
import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import type { Container } from 'dockerode';
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../logger.js';
import { PhaseTimer } from '../phase-timer.js';
import type { JobLine } from '../runner-protocol.js';
import { RunnerStreams, type RunEnd, type RunHooks } from '../runner-streams.js';
import { Slot } from '../slot.js';
import { containerSpec } from './container-spec.js';
import { isNotFound } from './docker-errors.js';
import type { PoolKey } from '../pool-key.js';
import { readCpuMs } from './cgroup-cpu.js';
import { OomWatch } from './oom-watch.js';
import { CgroupFreezer } from './cgroup-freezer.js';
import type { RunnerProcesses } from '../held-files.js';

/** How long an `oom` event may trail the death of a container that was SIGKILLed by no one here. */
const LATE_OOM_GRACE_MS = 1000;

export interface RunOutcome {
  readonly end: RunEnd;
  readonly exitCode: number | null;
  readonly oomKilled: boolean;
  /** CPU the container used from its start to the result frame (ms; null when unknown or no result). */
  readonly cpuMs: number | null;
  /** The attach stream broke while the container still ran (engine or socket proxy restarted): it was killed. */
  readonly engineLost: boolean;
}

/**
 * How long the freezer may take to stop every process before the container is killed the slow way
 * instead. A few processes freeze in under a millisecond, a dozen in the middle of fsync storms in
 * under 50 ms; hundreds of runnable tasks held back by the CPU cap (a fork bomb) may take seconds,
 * and the run's answer waits for whichever ends it.
 */
const FREEZE_MAX_MS = 200;

/** How long a container whose attach stream closed may take to be reported as exited before the stream counts as lost. */
const EXIT_AFTER_STREAM_END_MS = 2000;

export class RunnerContainer {
  private readonly streams: RunnerStreams;
  private readonly stdout = new PassThrough();
  private readonly stderr = new PassThrough();
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
    this.streams = new RunnerStreams(logger);
    this.stdout.on('data', (chunk: Buffer) => this.streams.pushStdout(chunk));
    this.stderr.on('data', (chunk: Buffer) => this.streams.pushStderr(chunk));
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
      // The cgroup lists the container's host processes under either runtime. Only runc's are the
      // sandbox's own processes, frozen at the end of a run; gVisor's sandbox is always killed.
      runner.cgroup = await CgroupFreezer.locate(container.id);
      runner.freezes = options.settings.docker.runtime === 'runc';
      timer.mark('freezer');
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
      this.streams.flushStdout();
      this.streams.flushStderr();
    });
    // The engine ends the attach stream when the container exits; it also ends (or breaks) when the
    // connection is lost (socket proxy or engine restarted), and then `wait` may never answer.
    stream.once('close', () => void this.settleAfterStreamClosed());
    stream.on('error', (error: unknown) => this.logger.warn({ err: error }, 'attach stream broke'));
    this.attached = stream;
    const ready = this.streams.ready(this.exited, () => 'runner exited before it was ready');
    await this.container.start();
    timer.mark('start');
    this.container
      .wait()
      .then((status: { StatusCode?: number }) => this.exitedResolve(status.StatusCode ?? null))
      .catch(() => this.exitedResolve(null));
    void this.exited.then(() => this.streams.exited());
    await ready;
    timer.mark('ready');
  }

  private attached: NodeJS.ReadWriteStream | null = null;
  private engineLost = false;
  /** The container's cgroup freezer, where the server can use it (cgroup-freezer.ts). */
  private cgroup: CgroupFreezer | null = null;
  /** Whether the end of a run freezes the container through `cgroup` (runc) instead of killing it. */
  private freezes = false;

  private get freezer(): CgroupFreezer | null {
    return this.freezes ? this.cgroup : null;
  }
  /** True while every process of the container stands frozen (until `kill`). */
  private frozen = false;

  /**
   * The attach stream closed: resolves `exited` from a fresh look at the engine. A container that
   * still runs has no stream left to talk over (the connection was lost): it is killed, and its
   * run ends at once instead of at its timeout. Also while it is being disposed of: the disposal
   * waits for `exited`, and the engine's wait() from the start may have died with the same
   * connection without ever answering (a socket proxy restarted as a frozen run was killed: the
   * server's shutdown then waited on that disposal with nothing left to wake it, and Node exited
   * with code 13, leaving the containers behind).
   */
  private async settleAfterStreamClosed(): Promise<void> {
    if (!this.running) return;
    try {
      const exit = await this.container.wait({ abortSignal: AbortSignal.timeout(EXIT_AFTER_STREAM_END_MS) });
      this.exitedResolve((exit as { StatusCode?: number }).StatusCode ?? null);
      return;
    } catch (error) {
      // Removed from outside: the engine answered, so the connection stands (docker-executor.ts names the removal).
      if (isNotFound(error)) {
        this.exitedResolve(null);
        return;
      }
      // Otherwise still running after the grace, or the engine is unreachable: the connection was lost.
    }
    if (!this.running) return;
    this.engineLost = true;
    this.logger.warn('attach stream lost while the container ran: killing it');
    await this.container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
    this.exitedResolve(null);
  }

  /** False once the container has stopped or its engine streams broke (such a warm container is never handed out). */
  get alive(): boolean {
    return this.running && !this.disposed && !this.engineLost && !this.oomWatch.lost;
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
    const end = await this.streams.run(job, hooks, (line) => {
      this.attached?.write(line);
      this.attached?.end();
    }, !this.running);
    if (end.kind === 'result') {
      const cpuMs = await readCpuMs(this.container.id); // before the kill: the cgroup goes with the container
      const counted = end.frame.oomKills;
      const oomKilled = typeof counted === 'number' ? counted > 0 : (await this.stop()).oomKilled;
      return { end, exitCode: end.frame.exitCode, oomKilled, cpuMs, engineLost: this.engineLost };
    }
    const { exitCode, oomKilled } = await this.stop();
    return { end, exitCode, oomKilled, cpuMs: null, engineLost: this.engineLost };
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

  /**
   * SlotRunner.processes: listed through the container's cgroup where the server sees them. Under
   * gVisor they are the sandbox's own (the Sentry, the gofer): their threads share one descriptor
   * table, and user code cannot make host threads.
   */
  processes(): RunnerProcesses | null {
    return this.cgroup === null ? null : { pids: this.cgroup.pids(), threadsShareDescriptors: !this.freezes };
  }

  /**
   * Resolves once no process of the container can write any more: frozen where the cgroup freezer
   * serves (a few ms), else killed and dead. `kill` ends a frozen container for good.
   */
  async halt(): Promise<void> {
    if (this.killed || !this.running || this.freezer === null) return this.kill();
    if (!this.halted) {
      this.halted = (async () => {
        const freezer = this.freezer as CgroupFreezer;
        const result = await freezer.freeze(FREEZE_MAX_MS).catch((error: unknown) => {
          this.logger.warn({ err: error }, 'could not freeze the container: killing it instead');
          return 'failed' as const;
        });
        if (result === 'frozen') this.frozen = true;
        else if (result === 'gone') await this.exited;
        else await this.killNow();
      })();
    }
    return this.halted;
  }

  private halted: Promise<void> | null = null;

  /** Kills the container (if it still runs) and waits until it is dead. Idempotent. */
  kill(): Promise<void> {
    if (!this.killed) {
      this.killed = (async () => {
        if (this.halted) await this.halted;
        await this.killNow();
      })();
    }
    return this.killed;
  }

  private killed: Promise<void> | null = null;

  private async killNow(): Promise<void> {
    if (this.frozen) {
      this.frozen = false;
      // Every process gets SIGKILL while frozen, then the thaw: none runs user code again.
      await (this.freezer as CgroupFreezer).killFrozen().catch((error: unknown) =>
        this.logger.error({ err: error }, 'could not kill the frozen container through its cgroup: thawed, and killed through the engine'),
      );
    }
    if (this.running) await this.container.kill({ signal: 'SIGKILL' }).catch(() => undefined);
    await this.exited;
  }

  /**
   * Removes the container and its slot. Idempotent. With `keepSlot` the slot stays on disk: it
   * still holds a session's files (they could not be moved back), and the next start-up's
   * recovery returns them to their session.
   */
  async dispose(options: { keepSlot?: boolean } = {}): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    // A frozen container first gets its processes killed through the freezer: the engine cannot kill a frozen one.
    if (this.halted) await this.kill();
    this.oomWatch.close();
    await this.container.remove({ force: true }).catch((error: unknown) => {
      // Already gone (a Stop or shutdown removed it first): that is what removal wanted.
      if (!isNotFound(error)) this.logger.warn({ err: error }, 'container removal failed');
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
}
