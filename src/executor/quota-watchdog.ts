/**
 * Watches a slot's data dir while a run writes to it, and says once when the files pass the session
 * quota, so the executor can stop the run instead of finding out afterwards. (One file cannot
 * outgrow the quota: the container's RLIMIT_FSIZE is the quota. Many files can; that is this.)
 *
 * Usage is measured as files/usage.ts measures it, the same measure the upload check uses.
 *
 * Work is bounded: each poll looks at no more than `entriesPerPoll` entries and the walk goes on
 * where it stopped at the next poll, so a tree of a million files costs many small polls, never one
 * long one. A pass that spans several polls adds up sizes seen at slightly different moments.
 */
import { measureUsage, UsageWalk } from '../files/usage.js';

export interface QuotaWatchdogOptions {
  /** The directory to watch (a slot's data dir, mounted at /mnt/data). */
  readonly dir: string;
  /** The session quota in bytes. */
  readonly limitBytes: number;
  /**
   * Called once, when the files pass the threshold (see start()); polling stops then. Runs on the
   * watchdog's timer: it must not throw (what it throws is dropped).
   */
  readonly onExceeded: (usedBytes: number) => void;
  /** Pause between polls. Default 250 ms. */
  readonly intervalMs?: number;
  /** Entries looked at per poll, at most. Default 2,000. */
  readonly entriesPerPoll?: number;
  /**
   * How many entries (files, folders, links) the dir may hold: empty files cost no bytes but do
   * cost inodes, so a loop making them would otherwise run until its timeout. Default 100,000.
   */
  readonly limitEntries?: number;
}

export const DEFAULT_QUOTA_POLL_MS = 250;
export const DEFAULT_ENTRIES_PER_POLL = 2_000;
export const DEFAULT_ENTRY_LIMIT = 100_000;

export class QuotaWatchdog {
  private readonly dir: Buffer;
  private readonly intervalMs: number;
  private readonly entriesPerPoll: number;
  private walk: UsageWalk | null = null;
  private thresholdBytes: number;
  private thresholdEntries: number;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private stopped = false;
  private exceededUsage: number | null = null;
  private lastPass: number | null = null;
  private passes = 0;

  constructor(private readonly options: QuotaWatchdogOptions) {
    if (!Number.isFinite(options.limitBytes) || options.limitBytes < 0) throw new RangeError('limitBytes must be a byte count');
    this.dir = Buffer.from(options.dir);
    this.thresholdBytes = options.limitBytes;
    this.thresholdEntries = options.limitEntries ?? DEFAULT_ENTRY_LIMIT;
    this.intervalMs = Math.max(1, options.intervalMs ?? DEFAULT_QUOTA_POLL_MS);
    this.entriesPerPoll = Math.max(1, options.entriesPerPoll ?? DEFAULT_ENTRIES_PER_POLL);
  }

  /**
   * Measures what the dir holds now (one whole walk: call it before the run starts writing) and
   * starts polling. The threshold is the quota, or this starting usage when that is higher: a
   * session already over its quota may still run (to clean up, say) as long as it does not grow.
   * Resolves with the starting usage.
   */
  async start(): Promise<number> {
    if (this.walk !== null || this.stopped) throw new Error('a quota watchdog starts once');
    const { bytes: startBytes, entries: startEntries } = await measureUsage(this.dir);
    this.thresholdBytes = Math.max(this.options.limitBytes, startBytes);
    this.thresholdEntries = Math.max(this.thresholdEntries, startEntries);
    this.lastPass = startBytes;
    this.walk = new UsageWalk(this.dir);
    if (!this.stopped) this.schedule();
    return startBytes;
  }

  /** Stops polling and waits for a poll under way. Idempotent; safe before start(). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
    await this.walk?.close();
  }

  /** True once the threshold was passed (the callback has run). */
  get exceeded(): boolean {
    return this.exceededUsage !== null;
  }

  /** The usage that passed the threshold, or null. */
  get exceededBytes(): number | null {
    return this.exceededUsage;
  }

  /** Bytes counted by the last complete walk (start()'s to begin with); null before start(). */
  get lastPassBytes(): number | null {
    return this.lastPass;
  }

  /** Whole walks finished by poll() since start() (start()'s own is not counted). */
  get completedPasses(): number {
    return this.passes;
  }

  /** The usage above which the callback runs: max(quota, usage at start()). */
  get threshold(): number {
    return this.thresholdBytes;
  }

  /**
   * One bounded step of the walk, as the timer does it; exposed so tests can step without a clock.
   * Resolves true when the threshold has been passed (now or before).
   */
  async poll(): Promise<boolean> {
    if (this.walk === null) throw new Error('start() the watchdog before polling it');
    if (this.exceededUsage !== null || this.stopped) return this.exceededUsage !== null;
    const step = await this.walk.step(this.entriesPerPoll);
    // The running sums of a pass only grow, so they may trip before the pass is complete.
    if (step.bytes > this.thresholdBytes || step.entries > this.thresholdEntries) {
      this.trip(step.bytes);
      return true;
    }
    if (step.passComplete) {
      this.lastPass = step.bytes;
      this.passes += 1;
      this.walk.restart();
    }
    return false;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      this.inFlight = this.poll().then(
        (tripped) => {
          this.inFlight = null;
          if (!tripped && !this.stopped) this.schedule();
        },
        () => {
          // A failed poll (the dir went away mid-walk, say) is not a verdict: start over next time.
          this.inFlight = null;
          this.walk?.restart();
          if (!this.stopped) this.schedule();
        },
      );
    }, this.intervalMs);
    this.timer.unref();
  }

  private trip(usedBytes: number): void {
    this.exceededUsage = usedBytes;
    this.stopped = true;
    try {
      this.options.onExceeded(usedBytes);
    } catch {
      // The callback's own failure is its caller's to report; the watchdog has done its part.
    }
  }
}
