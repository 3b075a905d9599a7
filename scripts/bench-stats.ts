/** Summaries of timing samples for the bench: pure, so they are unit-tested. */

/** The value below which `p` percent of the samples lie (nearest rank); NaN for no samples. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))] ?? Number.NaN;
}

export interface Summary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
}

export function summarize(values: readonly number[]): Summary {
  return { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99) };
}

/** p50 of a per-phase record set: { phase: p50 } over every phase any record has. */
export function phaseMedians(records: readonly Readonly<Record<string, number>>[]): Record<string, number> {
  const names = [...new Set(records.flatMap((record) => Object.keys(record)))];
  return Object.fromEntries(names.map((name) => [name, percentile(records.map((record) => record[name] ?? 0), 50)]));
}

/** A file's identity and size: a rename or a rewrite changes the inode or the mtime. */
export interface FileStamp {
  readonly ino: number;
  readonly mtimeMs: number;
  readonly size: number;
}

/** Bytes of files that are new or rewritten (another inode or mtime) between two stamps: what a save wrote. */
export function writtenBytes(before: ReadonlyMap<string, FileStamp>, after: ReadonlyMap<string, FileStamp>): number {
  let bytes = 0;
  for (const [file, stamp] of after) {
    const old = before.get(file);
    if (!old || old.ino !== stamp.ino || old.mtimeMs !== stamp.mtimeMs) bytes += stamp.size;
  }
  return bytes;
}
