/**
 * The runner side of the protocol (images/PROTOCOL.md) over a runner's stdout and stderr, whatever
 * started the runner (a container or a sandboxed process): the ready frame, the job line, output
 * passed on live, the result frame with its stderr-end wait, and the end of one run (result, exit,
 * timeout, abort or flood).
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from '../logger.js';
import { FrameScanner } from './frame-scanner.js';
import {
  READY_NONCE,
  ReadyFrameSchema,
  ResultFrameSchema,
  StderrEndFrameSchema,
  type JobLine,
  type ResultFrame,
} from './runner-protocol.js';

const READY_TIMEOUT_MS = 60_000;
/** Rich displays: the Python runner keeps at most 20,000 table cells per run, a number cell up to ~25 bytes outside strings. */
const MAX_DISPLAY_STRUCTURE = 20_000 * 25 + 20 * 1_000;
/** A result frame: up to CODECELL_MAX_IMAGES inline images; what reaches a client is capped again in the engine. */
const MAX_FRAME_BYTES = 96 * 1024 * 1024;
/**
 * JSON values a result frame may hold: its runner caps notCarried at 10,000 entries (8 structural
 * bytes each); images, modules and fields need far fewer. Counted before JSON.parse, so a forged
 * frame of millions of tiny values (seconds of parsing on the event loop) is refused unparsed.
 * Chosen over a parse worker: with values bounded, the 64 MiB stream cap bounds parsing to ~1 s worst case, with no worker per run.
 */
const MAX_FRAME_STRUCTURE = 10_000 * 8 + 20_000 + MAX_DISPLAY_STRUCTURE;
/** stderr carries only the small stderr-end frame: a forged big one is not buffered. */
const MAX_STDERR_FRAME = { maxBytes: 4 * 1024, maxStructure: 64 };
/** Past this much raw output the run is stopped: nobody reads 64 MiB of text. */
export const MAX_STREAM_BYTES = 64 * 1024 * 1024;
/**
 * After the result frame, how long to wait for the stderr-end frame: stdout and stderr arrive
 * independently, so stderr written before the result may still be on its way.
 */
const STDERR_DRAIN_MS = 250;
/** The last stderr characters kept (the process executor's memory verdict; why a runner died before it was ready). */
const STDERR_TAIL_CHARS = 4096;

export type RunEnd =
  | { readonly kind: 'result'; readonly frame: ResultFrame }
  | { readonly kind: 'exited' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'aborted' }
  | { readonly kind: 'flood'; readonly what: string };

export interface RunHooks {
  readonly onStdout: (bytes: Buffer) => void;
  readonly onStderr: (bytes: Buffer) => void;
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export class RunnerStreams {
  private readonly scanner: FrameScanner;
  private readonly stderrScanner: FrameScanner;
  private stderrEnded = false;
  private onStderrEnd: (() => void) | null = null;
  private hooks: RunHooks | null = null;
  private settle: ((end: RunEnd) => void) | null = null;
  private readyResolve: (() => void) | null = null;
  private streamBytes = 0;
  private tail = '';

  constructor(private readonly logger: Logger) {
    this.scanner = new FrameScanner(READY_NONCE, { maxBytes: MAX_FRAME_BYTES, maxStructure: MAX_FRAME_STRUCTURE }, {
      onText: (bytes) => this.hooks?.onStdout(bytes),
      onFrame: (json) => this.handleFrame(json),
      onOversizedFrame: (over) => this.settle?.({ kind: 'flood', what: `a result frame ${over}, refused unread` }),
    });
    // Until a job is sent no frame is expected on stderr; the nonce is set with the job.
    this.stderrScanner = new FrameScanner(READY_NONCE, MAX_STDERR_FRAME, {
      onText: (bytes) => {
        this.tail = (this.tail + bytes.toString('utf8')).slice(-STDERR_TAIL_CHARS);
        this.hooks?.onStderr(bytes);
      },
      onFrame: (json) => this.handleStderrFrame(json),
      onOversizedFrame: (over) => this.settle?.({ kind: 'flood', what: `a stderr frame ${over}` }),
    });
  }

  /** The last stderr text of the current run (of start-up before the first run). */
  get stderrTail(): string {
    return this.tail;
  }

  pushStdout(chunk: Buffer): void {
    this.countAndPass(chunk, (bytes) => this.scanner.push(bytes));
  }

  pushStderr(chunk: Buffer): void {
    this.countAndPass(chunk, (bytes) => this.stderrScanner.push(bytes));
  }

  flushStdout(): void {
    this.scanner.flush();
  }

  flushStderr(): void {
    this.stderrScanner.flush();
  }

  /** The runner has ended: a run still waiting ends as 'exited'. */
  exited(): void {
    this.settle?.({ kind: 'exited' });
  }

  /**
   * Resolves at the runner's ready frame; rejects after READY_TIMEOUT_MS, or once `exited`
   * resolves before it (with `whyExited`'s words).
   */
  ready<E>(exited: Promise<E>, whyExited: (exit: E) => string): Promise<void> {
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
      void exited.then((exit) => {
        if (this.readyResolve) fail(new Error(whyExited(exit)));
      });
    });
    // Handled by the caller's await; this keeps an early rejection from being reported as unhandled.
    ready.catch(() => undefined);
    return ready;
  }

  /**
   * Sends one job (`send` writes the line and closes the runner's stdin) and resolves once its end
   * is known. `alreadyExited`: the runner is gone, so the run ends as 'exited' at once.
   */
  async run(job: JobLine, hooks: RunHooks, send: (line: string) => void, alreadyExited: boolean): Promise<RunEnd> {
    this.hooks = hooks;
    this.scanner.expectNonce(job.nonce);
    this.stderrScanner.expectNonce(job.nonce);
    this.tail = '';
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
      if (alreadyExited) finish({ kind: 'exited' });
      this.settle = finish;
      send(`${JSON.stringify(job)}\n`);
    });
    this.settle = null;
    this.hooks = null;
    return end;
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
