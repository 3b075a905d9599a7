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
  ) {
    this.queue = new PQueue({ concurrency });
  }

  get running(): number {
    return this.queue.pending;
  }

  get waiting(): number {
    return this.queue.size;
  }

  /** Throws QUEUE_FULL (with retry-after) when no room is left; call before taking other locks. */
  assertRoom(): void {
    if (this.closed) throw new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment');
    const busy = this.queue.pending >= this.concurrency;
    if (busy && this.queue.size >= this.maxWaiting) {
      const retryAfterSeconds = Math.max(1, Math.ceil(((this.queue.size + 1) / this.concurrency) * (this.meanRunMs / 1000)));
      throw new CodecellError(
        'QUEUE_FULL',
        `busy: ${this.queue.pending} executions are running and ${this.queue.size} are waiting ` +
          `(CODECELL_CONCURRENCY=${this.concurrency}, CODECELL_QUEUE_LIMIT=${this.maxWaiting}); retry in ${retryAfterSeconds} s`,
        retryAfterSeconds,
      );
    }
  }

  async run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    this.assertRoom();
    const started = { at: 0 };
    // p-queue settles a running task's promise at once when its signal aborts, while the task runs
    // on: its slot (and the caller's session lock) would be freed too early. So the caller's signal
    // only takes back a job that is still waiting; a running one ends through its own signal.
    const caller = signal ? AbortSignal.any([signal, this.closing.signal]) : this.closing.signal;
    const whileWaiting = new AbortController();
    const stopWaiting = (): void => {
      if (started.at === 0) whileWaiting.abort(caller.reason);
    };
    caller.addEventListener('abort', stopWaiting, { once: true });
    if (caller.aborted) stopWaiting();
    try {
      const result = await this.queue.add(
        async () => {
          started.at = Date.now();
          try {
            return await task();
          } finally {
            this.meanRunMs = this.meanRunMs * 0.8 + (Date.now() - started.at) * 0.2;
          }
        },
        { signal: whileWaiting.signal },
      );
      return result as T;
    } finally {
      caller.removeEventListener('abort', stopWaiting);
    }
  }

  /** Refuses new jobs and rejects waiting ones; running jobs are left to finish (or be killed). */
  close(): void {
    this.closed = true;
    this.closing.abort(new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment'));
  }

  onIdle(): Promise<void> {
    return this.queue.onIdle();
  }
}
