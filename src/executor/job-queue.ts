/**
 * Every execution is a job on one p-queue: at most `concurrency` containers run at once and at most
 * `maxWaiting` jobs wait. Past that a caller is told at once to retry later; nobody hangs.
 */
import PQueue from 'p-queue';
import { CodecellError } from '../errors.js';

export class JobQueue {
  private readonly queue: PQueue;
  private closed = false;
  private readonly closing = new AbortController();
  /** Rolling mean run time, for an honest retry-after estimate. */
  private meanRunMs = 1000;

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

  get waiting(): number {
    return this.queue.size;
  }

  /**
   * Throws QUEUE_FULL (with retry-after) when no room is left; call before taking other locks.
   * `reserved`: places the caller has already promised to jobs it has not handed in yet.
   */
  assertRoom(reserved = 0): void {
    if (this.closed) throw new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment');
    // A job waits only while every slot is busy, so running + waiting + promised counts every place taken.
    if (this.queue.pending + this.queue.size + reserved >= this.concurrency + this.maxWaiting) {
      const retryAfterSeconds = Math.max(1, Math.ceil(((this.queue.size + 1) / this.concurrency) * (this.meanRunMs / 1000)));
      throw new CodecellError(
        'QUEUE_FULL',
        `busy: ${this.queue.pending} executions are running and ${this.queue.size} are waiting ` +
          `(CODECELL_CONCURRENCY=${this.concurrency}, CODECELL_QUEUE_LIMIT=${this.maxWaiting}); retry in ${retryAfterSeconds} s`,
        retryAfterSeconds,
      );
    }
  }

  /**
   * Runs `task` when a slot is free. `signal` (and close()) take a job out while it waits; once it
   * runs, the job ends only when `task` does, so the slot stays taken until the task (which gets
   * the same signal from its caller) has really stopped.
   */
  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.assertRoom();
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

  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }
}
