/**
 * The server's disk budget (CODECELL_DISK_BUDGET_MB): what all sessions together may take (their
 * files, snapshots and staged uploads, and the slots of running containers), measured with the one
 * usage measure (usage.ts).
 *
 * Growth is granted before it happens: a run asks for the room its session quota leaves it and
 * gets at most what the budget has left (its quota watchdog stops it there); an upload asks for its
 * exact bytes and is refused if they do not fit. Room held by grants under way is nobody else's, so
 * concurrent runs cannot together overshoot. A released grant adds what was really written to the
 * last measure, which is taken again (one walk, in a child process) once it is older than `maxAgeMs`,
 * or when a grant would get less than it asked for.
 */
import { measureUsage } from './usage.js';

export interface DiskBudgetOptions {
  /** Folders whose contents count (absolute paths). */
  readonly roots: readonly string[];
  /** 0: no budget. */
  readonly limitBytes: number;
  /** How long a measure stands before it is taken again. Default 60 s. */
  readonly maxAgeMs?: number;
  readonly now?: () => number;
}

export interface DiskGrant {
  /** Bytes granted (at most what was asked; Infinity when there is no budget). */
  readonly bytes: number;
  /** Gives the room back, adding the bytes really written (negative when some were freed). Idempotent. */
  release(grownBytes: number): void;
}

export class DiskBudget {
  private measured: { bytes: number; at: number } | null = null;
  private measuring: Promise<number> | null = null;
  private reserved = 0;
  private readonly now: () => number;

  constructor(private readonly options: DiskBudgetOptions) {
    this.now = options.now ?? Date.now;
  }

  get enabled(): boolean {
    return this.options.limitBytes > 0;
  }

  get limitBytes(): number {
    return this.options.limitBytes;
  }

  /** Bytes in use as far as the budget knows (last measure plus growth since), grants not included. */
  async usedBytes(): Promise<number> {
    const { measured } = this;
    if (measured !== null && this.now() - measured.at <= (this.options.maxAgeMs ?? 60_000)) return measured.bytes;
    return this.measureNow();
  }

  /** Takes the measure again (one walk; callers at the same time share it). */
  private measureNow(): Promise<number> {
    this.measuring ??= measureUsage(this.options.roots)
      .then((usage) => {
        this.measured = { bytes: usage.bytes, at: this.now() };
        return usage.bytes;
      })
      .finally(() => {
        this.measuring = null;
      });
    return this.measuring;
  }

  /** Grants up to `wantedBytes` of room (all of it when there is no budget; maybe 0). */
  async reserve(wantedBytes: number): Promise<DiskGrant> {
    if (!this.enabled) return { bytes: Number.POSITIVE_INFINITY, release: () => undefined };
    let used = await this.usedBytes();
    // Short of room: measure again before refusing, since deleted sessions and files free bytes
    // the last measure still counts.
    if (this.options.limitBytes - used - this.reserved < wantedBytes) used = await this.measureNow();
    const room = Math.max(0, this.options.limitBytes - used - this.reserved);
    const bytes = Math.max(0, Math.min(wantedBytes, room));
    this.reserved += bytes;
    let released = false;
    return {
      bytes,
      release: (grownBytes: number) => {
        if (released) return;
        released = true;
        this.reserved -= bytes;
        if (this.measured !== null && Number.isFinite(grownBytes)) {
          this.measured = { ...this.measured, bytes: Math.max(0, this.measured.bytes + grownBytes) };
        }
      },
    };
  }
}
