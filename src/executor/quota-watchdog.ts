/**
 * Watches what a session takes on disk while a run writes, and says once when it passes the
 * session quota (or the room the server's disk budget gave the run), so the executor can stop the
 * run instead of finding out afterwards. (One file cannot outgrow the quota: the container's
 * RLIMIT_FSIZE is the quota. Many files can; that is this.)
 *
 * What it watches is every folder the run can write to or that holds the session's bytes: the
 * slot's data dir (/mnt/data), its out dir (/run/codecell/out, where the snapshot is left) and the
 * session's snapshots. Usage is measured as files/usage.ts measures it, the one measure the upload
 * check and the disk budget use: every name, every depth.
 *
 * Each poll is one whole walk (in process for a small tree, else find in a child process), stopped as
 * soon as the running sums pass a threshold, plus what the run's processes hold in files deleted
 * while open (`heldBytes`). A walk adds up sizes seen at slightly different moments.
 */
import { measureUsage, type Usage } from '../files/usage.js';

/** Which limit a run passed. */
export type QuotaBreach = 'quota' | 'entries' | 'budget';

export interface QuotaWatchdogOptions {
  /** The folders to watch together (absolute paths); one that does not exist counts 0. */
  readonly dirs: readonly string[];
  /**
   * Regular files not counted while the run goes on: the snapshot the runner leaves (one file,
   * capped by RLIMIT_FSIZE), which is judged with judge() before it is adopted. Counting it live
   * would count the session's variables twice (the old snapshot and the new) while it is written.
   */
  readonly uncountedFiles?: readonly string[];
  /** The session quota in bytes. */
  readonly limitBytes: number;
  /**
   * How much the usage may grow from where it starts, at most: the room the server's disk budget
   * gave this run. Default: no limit beyond the quota.
   */
  readonly growthCapBytes?: number;
  /**
   * How much a session that starts over its quota may grow anyway: its runner's own working files
   * (the process executor's runners keep the cell and their bookkeeping in the slot's /tmp, which
   * counts; Docker's is a tmpfs that does not). Without it, a clean-up run in such a session is
   * stopped whenever a poll lands after the runner wrote them and before the code deleted anything.
   * Default 0: no growth at all.
   */
  readonly overQuotaRoomBytes?: number;
  /**
   * Called once, when the usage passes a threshold (see start()); polling stops then. Runs on the
   * watchdog's timer: it must not throw (what it throws is dropped).
   */
  readonly onExceeded: (usedBytes: number, breach: QuotaBreach) => void;
  /** Pause between polls. Default 250 ms. */
  readonly intervalMs?: number;
  /**
   * Bytes the run holds on disk that no walk of the dirs sees: files deleted while still open or
   * mapped (held-files.ts). Added to each poll's bytes; not to the start (no process of the run is
   * there yet) nor to usageNow (the last look comes when the run is stopped, and its processes
   * die with it, letting go of those files).
   */
  readonly heldBytes?: () => Promise<number>;
  /**
   * How many entries (files, folders, links) the dirs may hold: empty files cost no bytes but do
   * cost inodes, so a loop making them would otherwise run until its timeout. Default 100,000.
   */
  readonly limitEntries?: number;
}

export const DEFAULT_QUOTA_POLL_MS = 250;
export const DEFAULT_ENTRY_LIMIT = 100_000;

export class QuotaWatchdog {
  private readonly dirs: readonly string[];
  private readonly intervalMs: number;
  private started = false;
  private quotaThreshold: number;
  private budgetThreshold = Number.POSITIVE_INFINITY;
  private thresholdEntries: number;
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<unknown> | null = null;
  private stopped = false;
  private exceededBreach: QuotaBreach | null = null;
  private heldAtBreach = 0;

  constructor(private readonly options: QuotaWatchdogOptions) {
    if (!Number.isFinite(options.limitBytes) || options.limitBytes < 0) throw new RangeError('limitBytes must be a byte count');
    if (options.growthCapBytes !== undefined && !(options.growthCapBytes >= 0)) throw new RangeError('growthCapBytes must be a byte count');
    if (options.overQuotaRoomBytes !== undefined && !(options.overQuotaRoomBytes >= 0)) throw new RangeError('overQuotaRoomBytes must be a byte count');
    this.dirs = [...options.dirs];
    this.quotaThreshold = options.limitBytes;
    this.thresholdEntries = options.limitEntries ?? DEFAULT_ENTRY_LIMIT;
    this.intervalMs = Math.max(1, options.intervalMs ?? DEFAULT_QUOTA_POLL_MS);
  }

  /**
   * Measures what the dirs hold now (one whole walk: call it before the run starts writing) and
   * starts polling. The threshold is the quota, or this starting usage when that is higher: a
   * session already at or over its quota may still run (to clean up, say) as long as it does not
   * grow (by more than overQuotaRoomBytes). Resolves with the starting usage.
   */
  async start(): Promise<number> {
    if (this.started || this.stopped) throw new Error('a quota watchdog starts once');
    this.started = true;
    const usage = await this.measure();
    this.quotaThreshold = usage.bytes >= this.options.limitBytes ? usage.bytes + (this.options.overQuotaRoomBytes ?? 0) : this.options.limitBytes;
    if (this.options.growthCapBytes !== undefined) this.budgetThreshold = usage.bytes + this.options.growthCapBytes;
    this.thresholdEntries = Math.max(this.thresholdEntries, usage.entries);
    if (!this.stopped) this.schedule();
    return usage.bytes;
  }

  /** Stops polling and waits for a poll under way. Idempotent; safe before start(). */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight?.catch(() => undefined);
  }

  /** Which limit was passed, or null. */
  get breach(): QuotaBreach | null {
    return this.exceededBreach;
  }

  /** Of the usage that passed the limit, the bytes held in deleted files (`heldBytes`); 0 without a breach. */
  get heldBytesAtBreach(): number {
    return this.heldAtBreach;
  }

  /** What the dirs hold now (one whole walk), whether or not the watchdog is still polling. */
  usageNow(): Promise<Usage> {
    return this.measure();
  }

  /**
   * One walk, as the timer does it; exposed so tests can step without a clock. Resolves true when
   * a threshold has been passed (now or before).
   */
  async poll(): Promise<boolean> {
    if (!this.started) throw new Error('start() the watchdog before polling it');
    if (this.exceededBreach !== null || this.stopped) return this.exceededBreach !== null;
    // The running sums of a walk only grow, so they may trip before the walk is complete.
    // stop() cuts a walk under way short too: its answer is no longer wanted.
    // A failed count of held files must not cost the walk its verdict: it counts 0 this time.
    const held = (await this.options.heldBytes?.().catch(() => 0)) ?? 0;
    const withHeld = (usage: Usage): Usage => ({ bytes: usage.bytes + held, entries: usage.entries });
    const usage = withHeld(await this.measure((sofar) => this.stopped || this.breachOf(withHeld(sofar)) !== null));
    const breach = this.breachOf(usage);
    if (breach !== null && !this.stopped) {
      this.heldAtBreach = held;
      this.trip(usage.bytes, breach);
      return true;
    }
    return false;
  }

  /**
   * Which threshold `usage` passes, if any: the quota, the budget's room, the entry limit. For a last look after the run, and before its new snapshot is adopted.
   */
  judge(usage: Usage): QuotaBreach | null {
    if (!this.started) throw new Error('start() the watchdog before asking it');
    return this.breachOf(usage);
  }

  private measure(stopWhen?: (sofar: Usage) => boolean): ReturnType<typeof measureUsage> {
    return measureUsage(this.dirs, { uncountedFiles: this.options.uncountedFiles ?? [], ...(stopWhen ? { stopWhen } : {}) });
  }

  private breachOf(usage: Usage): QuotaBreach | null {
    if (usage.bytes > this.quotaThreshold) return 'quota';
    if (usage.bytes > this.budgetThreshold) return 'budget';
    if (usage.entries > this.thresholdEntries) return 'entries';
    return null;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      const polled = this.poll();
      this.inFlight = polled;
      polled.then(
        (tripped) => {
          this.inFlight = null;
          if (!tripped && !this.stopped) this.schedule();
        },
        () => {
          // A failed walk is not a verdict: try again at the next poll.
          this.inFlight = null;
          if (!this.stopped) this.schedule();
        },
      );
    }, this.intervalMs);
    this.timer.unref();
  }

  private trip(usedBytes: number, breach: QuotaBreach): void {
    this.exceededBreach = breach;
    this.stopped = true;
    try {
      this.options.onExceeded(usedBytes, breach);
    } catch {
      // The callback's own failure is its caller's to report; the watchdog has done its part.
    }
  }
}
