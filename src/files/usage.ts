/**
 * What a session's files take: the one measure behind the upload quota check, the quota notice
 * after a run and the quota watchdog during one.
 *
 * The dir is walked with lstat only, nothing the sandbox made is followed, and every entry counts,
 * whatever its name: file-tree.ts skips names the API cannot address (not UTF-8, say), and bytes
 * hidden under such a name would otherwise escape the quota. Sizes: every entry but folders, at its
 * apparent size (a sparse file counts in full), a hard-linked inode once.
 */
import { promises as fs, type Dir, type Dirent } from 'node:fs';

export interface Usage {
  readonly bytes: number;
  /** Entries of any kind (files, folders, links). */
  readonly entries: number;
}

const SLASH = Buffer.from('/');

/** Bytes under `dir` in one whole walk (0 when it does not exist). */
export async function measureBytes(dir: string | Buffer): Promise<number> {
  return (await measureUsage(dir)).bytes;
}

/** Bytes and entries under `dir`, in one whole walk. */
export async function measureUsage(dir: string | Buffer): Promise<Usage> {
  const walk = new UsageWalk(Buffer.from(dir));
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
 * A depth-first walk that can stop after any entry and go on later (the watchdog walks a little at
 * each poll). Paths are Buffers, so names that are not UTF-8 are walked and counted like any other.
 */
export class UsageWalk {
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

  /** Looks at up to `budget` entries; returns the running sums and whether the pass is done. */
  async step(budget: number): Promise<Usage & { passComplete: boolean }> {
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
