/**
 * Watches a slot's data dir while a run writes to it, and says once when the files pass the session
 * quota, so the executor can stop the run instead of finding out afterwards. (One file cannot
 * outgrow the quota: the container's RLIMIT_FSIZE is the quota. Many files can; that is this.)
 *
 * The dir is walked with lstat only, nothing the sandbox made is followed, and every entry counts,
 * whatever its name (file-tree.ts skips names the API cannot address; bytes hidden under such a
 * name would otherwise escape the quota). Sizes are summed like treeBytes: every entry but folders,
 * at its apparent size (a sparse file counts in full), a hard-linked inode once.
 *
 * Work is bounded: each poll looks at no more than `entriesPerPoll` entries and the walk goes on
 * where it stopped at the next poll, so a tree of a million files costs many small polls, never one
 * long one. A pass that spans several polls adds up sizes seen at slightly different moments.
 */
import { promises as fs, type Dir, type Dirent } from 'node:fs';

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

const SLASH = Buffer.from('/');

export class QuotaWatchdog {
  private readonly dir: Buffer;
  private readonly intervalMs: number;
  private readonly entriesPerPoll: number;
  private walk: TreeWalk | null = null;
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
    this.walk = new TreeWalk(this.dir);
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

/** Bytes under `dir`, counted as the watchdog counts them, in one whole walk. */
export async function measureBytes(dir: string | Buffer): Promise<number> {
  return (await measureUsage(dir)).bytes;
}

/** Bytes and entries under `dir`, in one whole walk. */
export async function measureUsage(dir: string | Buffer): Promise<{ bytes: number; entries: number }> {
  const walk = new TreeWalk(Buffer.from(dir));
  try {
    for (;;) {
      const step = await walk.step(Number.MAX_SAFE_INTEGER);
      if (step.passComplete) return { bytes: step.bytes, entries: step.entries };
    }
  } finally {
    await walk.close();
  }
}

/**
 * A depth-first walk that can stop after any entry and go on later. Paths are Buffers, so names
 * that are not UTF-8 are walked (and counted) like any other.
 */
class TreeWalk {
  private pending: Buffer[] = [];
  private current: { path: Buffer; dir: Dir } | null = null;
  private bytes = 0;
  private entries = 0;
  private inodes = new Set<string>();

  constructor(private readonly root: Buffer) {
    this.restart();
  }

  restart(): void {
    void this.closeCurrent();
    this.pending = [this.root];
    this.bytes = 0;
    this.entries = 0;
    this.inodes = new Set();
  }

  /** Looks at up to `budget` entries; returns the running sum and whether the pass is done. */
  async step(budget: number): Promise<{ bytes: number; entries: number; passComplete: boolean }> {
    let left = budget;
    while (left > 0) {
      if (this.current === null) {
        const next = this.pending.pop();
        if (next === undefined) return { bytes: this.bytes, entries: this.entries, passComplete: true };
        const dir = await openDirOrNull(next);
        if (dir === null) continue;
        this.current = { path: next, dir };
      }
      const { path: dirPath, dir } = this.current;
      // Opened with encoding 'buffer' (see openDirOrNull): names are Buffers, whatever the typings say.
      const entry = (await dir.read().catch(() => null)) as unknown as Dirent<Buffer> | null;
      if (entry === null) {
        await this.closeCurrent();
        continue;
      }
      left -= 1;
      this.entries += 1;
      const entryPath = Buffer.concat([dirPath, SLASH, entry.name]);
      if (entry.isDirectory()) {
        this.pending.push(entryPath);
        continue;
      }
      await this.count(entryPath);
    }
    return { bytes: this.bytes, entries: this.entries, passComplete: false };
  }

  async close(): Promise<void> {
    this.pending = [];
    await this.closeCurrent();
  }

  private async count(entryPath: Buffer): Promise<void> {
    let stats;
    try {
      stats = await fs.lstat(entryPath, { bigint: false });
    } catch {
      return; // gone since it was listed
    }
    if (stats.isDirectory()) {
      this.pending.push(entryPath); // the file system did not give a type with the name
      return;
    }
    if (stats.isFile() && stats.nlink > 1) {
      const inode = `${stats.dev}:${stats.ino}`;
      if (this.inodes.has(inode)) return;
      this.inodes.add(inode);
    }
    this.bytes += stats.size;
  }

  private async closeCurrent(): Promise<void> {
    const open = this.current;
    this.current = null;
    await open?.dir.close().catch(() => undefined);
  }
}

async function openDirOrNull(dirPath: Buffer): Promise<Dir | null> {
  try {
    // 'buffer' keeps every name's bytes; the typings only list text encodings.
    return await fs.opendir(dirPath, { encoding: 'buffer' as BufferEncoding, bufferSize: 64 });
  } catch {
    return null; // vanished, or replaced by a non-folder since it was listed
  }
}
