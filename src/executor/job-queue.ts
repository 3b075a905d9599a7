/**
 * Every execution is a job on one p-queue: at most `concurrency` containers run at once and at most
 * `maxWaiting` jobs wait. Past that a caller is told at once to retry later; nobody hangs.
 *
 * A caller takes its place with admit() before it waits for anything else (its session's lock), so
 * a call waiting for a busy session counts as waiting too: it holds its request in memory all the
 * same, and /healthz shows it.
 */
import PQueue from 'p-queue';
import { CodecellError } from '../errors.js';

export class JobQueue {
  private readonly queue: PQueue;
  private closed = false;
  private readonly closing = new AbortController();
  /** Rolling mean run time, for an honest retry-after estimate. */
  private meanRunMs = 1000;
  /** Admitted calls not yet handed to p-queue (waiting for their session). */
  private admittedNotQueued = 0;

  constructor(
    private readonly concurrency: number,
    private readonly maxWaiting: number,
    /** Milliseconds; only the retry-after estimate reads it. */
    private readonly now: () => number = Date.now,
  ) {
    this.queue = new PQueue({ concurrency });
  }

  get running(): number {
    return this.queue.pending;
  }

  /** Calls admitted and not running: waiting for their session or for a slot. */
  get waiting(): number {
    return this.queue.size + this.admittedNotQueued;
  }

  /**
   * Throws QUEUE_FULL (with retry-after) when no room is left: at most `concurrency` running plus
   * `maxWaiting` waiting calls are admitted. `reserved`: places the caller has already promised to
   * calls it has not admitted yet.
   */
  assertRoom(reserved = 0): void {
    if (this.closed) throw new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment');
    const waiting = this.waiting;
    if (this.queue.pending + waiting + reserved >= this.concurrency + this.maxWaiting) {
      const retryAfterSeconds = Math.max(1, Math.ceil(((waiting + 1) / this.concurrency) * (this.meanRunMs / 1000)));
      throw new CodecellError(
        'QUEUE_FULL',
        `busy: ${this.queue.pending} executions are running and ${waiting} are waiting ` +
          `(CODECELL_CONCURRENCY=${this.concurrency}, CODECELL_QUEUE_LIMIT=${this.maxWaiting}); retry in ${retryAfterSeconds} s`,
        retryAfterSeconds,
      );
    }
  }

  /**
   * Takes a place in the queue now (QUEUE_FULL when there is none), to run a job later. The place
   * counts as waiting until the admission runs its job or is withdrawn; exactly one of the two.
   */
  admit(): Admission {
    this.assertRoom();
    this.admittedNotQueued += 1;
    let open = true;
    const leave = (): boolean => {
      if (!open) return false;
      open = false;
      this.admittedNotQueued -= 1;
      return true;
    };
    return {
      run: <T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
        if (!leave()) return Promise.reject(new Error('this admission was already used'));
        return this.enqueue(task, signal);
      },
      withdraw: () => void leave(),
    };
  }

  /**
   * Runs `task` when a slot is free. `signal` (and close()) take a job out while it waits; once it
   * runs, the job ends only when `task` does, so the slot stays taken until the task (which gets
   * the same signal from its caller) has really stopped.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.admit().run(task, signal);
  }

  private async enqueue<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (this.closed) throw new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment');
    const cancelled = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
    // p-queue also rejects a running task's promise when its signal aborts: hand it one that
    // aborts only while the job waits.
    const whileWaiting = new AbortController();
    const giveUp = (): void => whileWaiting.abort(cancelled.reason);
    if (cancelled.aborted) giveUp();
    else cancelled.addEventListener('abort', giveUp, { once: true });
    let startedAt = 0;
    try {
      const result = await this.queue.add(
        async () => {
          cancelled.removeEventListener('abort', giveUp);
          startedAt = this.now();
          try {
            return await task();
          } finally {
            this.meanRunMs = this.meanRunMs * 0.8 + (this.now() - startedAt) * 0.2;
          }
        },
        { signal: whileWaiting.signal },
      );
      return result as T;
    } finally {
      cancelled.removeEventListener('abort', giveUp);
    }
  }

  /** Refuses new jobs and rejects waiting ones; running jobs are left to finish (or be killed by their owner). */
  close(): void {
    this.closed = true;
    this.closing.abort(new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment'));
  }
}

/** A place in the queue, taken before the caller waits for anything else. */
export interface Admission {
  /** Runs `task` in this place (see JobQueue.run); the place is used up. */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T>;
  /** Gives the place back without running anything. Idempotent; a no-op after run(). */
  withdraw(): void;
}
