/**
 * What a session takes on disk: the one measure behind the upload quota check, the quota notice
 * after a run, the quota watchdog during one and the server's disk budget.
 *
 * Every entry counts, whatever its name and however deep, a hard-linked inode once (across all the
 * roots of one measure); entries of every kind (files, folders, links). An entry's bytes are the
 * larger of its apparent size and the blocks it has allocated: a sparse file counts in full, and so
 * does space allocated past the end of a file (fallocate with FALLOC_FL_KEEP_SIZE leaves the size at
 * 0 while it reserves gigabytes). A folder counts its allocated blocks only (its apparent size is the
 * same blocks on most file systems, and nothing on others): the blocks that many entries or big
 * extended attributes take (ext4 keeps an inode's xattrs beyond its inline room in a block of its own,
 * counted in its blocks).
 *
 * A small tree is walked in this process (names as bytes, never decoded; no link followed; one file
 * system per root): a run looks twice, and starting a process costs 3 to 7 ms, a small walk 0.2.
 * Any tree that might hide from it goes to GNU find in a child process instead: Node has no openat,
 * it can only open by path, and a path longer than PATH_MAX (4096 bytes) cannot be opened at all.
 * So a walk that meets a long path, many entries or an error it cannot place starts over with find,
 * which walks with directory fds (fts) at any depth, never follows a link (-P), stays on one file
 * system (-xdev) and prints no names at all, only type, link count, inode, size and allocated
 * blocks: no name can confuse the parsing (newlines, bytes that are not UTF-8, a BOM).
 */
import { spawn } from 'node:child_process';
import { promises as fs, type BigIntStats } from 'node:fs';
import { errnoOf } from '../errno.js';

export interface Usage {
  readonly bytes: number;
  /** Entries of any kind (files, folders, links), the roots themselves not counted. */
  readonly entries: number;
}

export interface MeasureOptions {
  /**
   * Sees the running sums as the walk goes; returning true stops the walk there (the result is
   * then those partial sums, with `stopped` set). The watchdog uses it to trip without waiting for
   * the walk to end.
   */
  readonly stopWhen?: (sofar: Usage) => boolean;
  /**
   * Exact paths of regular files not to count (neither their bytes nor their entry): the snapshot a
   * run is leaving, which is judged on its own before it is adopted. Anything else at such a path
   * (a folder, a link) counts as usual, with everything in it.
   */
  readonly uncountedFiles?: readonly string[];
}

export type Measured = Usage & { readonly stopped: boolean };

/** Past this many entries a tree is walked by find: one process costs less than that many stats. */
const IN_PROCESS_MAX_ENTRIES = 256;
/** Paths longer than this (in bytes) may not be reachable by path (PATH_MAX is 4096): find walks instead. */
const IN_PROCESS_MAX_PATH_BYTES = 3072;

/** One line per entry: type, hard links, device:inode, apparent size, allocated 512-byte blocks. */
const FIND_FORMAT = '%y %n %D:%i %s %b\\n';

/** st_blocks is in 512-byte units, whatever the file system's block size. */
const BLOCK_UNIT = 512;

/** What one entry takes: its allocated blocks, or its apparent size where that is larger (sparse files). */
export function entryBytes(type: string, apparentSize: number, allocatedBlocks: number): number {
  const allocated = allocatedBlocks * BLOCK_UNIT;
  return type === 'd' ? allocated : Math.max(apparentSize, allocated);
}

/** Bytes under the roots, in one whole walk (a root that does not exist counts 0). */
export async function measureBytes(roots: string | readonly string[]): Promise<number> {
  return (await measureUsage(roots)).bytes;
}

/**
 * Bytes and entries under the roots (absolute paths), in one walk. Rejects only when the walk
 * cannot be made (find missing, killed); entries that vanish while it runs are simply not counted.
 */
export async function measureUsage(roots: string | readonly string[], options: MeasureOptions = {}): Promise<Measured> {
  const list = typeof roots === 'string' ? [roots] : [...roots];
  for (const root of list) {
    if (!root.startsWith('/')) throw new Error(`usage roots must be absolute paths, not ${JSON.stringify(root)}`);
  }
  if (list.length === 0) return { bytes: 0, entries: 0, stopped: false };
  return (await walkInProcess(list, options)) ?? (await walkWithFind(list, options));
}

/**
 * The same measure as find's, walked here; null when the tree is not small and plain: more than
 * IN_PROCESS_MAX_ENTRIES entries, a path near PATH_MAX, or an error other than an entry vanishing.
 */
export async function walkInProcess(roots: readonly string[], options: MeasureOptions = {}): Promise<Measured | null> {
  // Compared as bytes (latin1 maps each byte to one character).
  const uncounted = new Set((options.uncountedFiles ?? []).map((file) => Buffer.from(file).toString('latin1')));
  const inodes = new Set<string>();
  let bytes = 0;
  let entries = 0;
  const statOf = async (entry: Buffer): Promise<BigIntStats | null> => {
    try {
      return await fs.lstat(entry, { bigint: true });
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return null;
      throw error;
    }
  };
  try {
    for (const root of roots) {
      const base = Buffer.from(root.replace(/\/+$/, ''));
      const rootStat = await statOf(base.length === 0 ? Buffer.from('/') : base);
      if (rootStat === null || !rootStat.isDirectory()) continue;
      const folders: Buffer[] = [base];
      for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
        let names: Buffer[];
        try {
          names = await fs.readdir(folder, { encoding: 'buffer' });
        } catch (error) {
          const code = errnoOf(error);
          if (code === 'ENOENT' || code === 'ENOTDIR') continue;
          throw error;
        }
        if (entries + names.length > IN_PROCESS_MAX_ENTRIES) return null;
        const paths = names.map((name) => Buffer.concat([folder as Buffer, Buffer.from('/'), name]));
        if (paths.some((entry) => entry.length > IN_PROCESS_MAX_PATH_BYTES)) return null;
        const stats = await Promise.all(paths.map(statOf));
        for (const [index, stat] of stats.entries()) {
          const entry = paths[index] as Buffer;
          if (stat === null) continue;
          if (stat.isFile() && uncounted.has(entry.toString('latin1'))) continue;
          entries += 1;
          const directory = stat.isDirectory();
          if (!directory && stat.nlink !== 1n) {
            const inode = `${stat.dev}:${stat.ino}`;
            if (inodes.has(inode)) continue;
            inodes.add(inode);
          }
          bytes += entryBytes(directory ? 'd' : 'f', Number(stat.size), Number(stat.blocks));
          // -xdev: a mount point counts, what is mounted there does not.
          if (directory && stat.dev === rootStat.dev) folders.push(entry);
        }
        if (options.stopWhen?.({ bytes, entries })) return { bytes, entries, stopped: true };
      }
    }
  } catch {
    return null;
  }
  return { bytes, entries, stopped: false };
}

/** The measure by GNU find in a child process: any depth, any size. */
function walkWithFind(list: readonly string[], options: MeasureOptions): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const skipped = (options.uncountedFiles ?? []).flatMap((file, index) => [...(index > 0 ? ['-o'] : []), '-path', globEscaped(file)]);
    const expression = skipped.length === 0 ? [] : ['(', '(', ...skipped, ')', '-type', 'f', ')', '-o'];
    const child = spawn('find', ['-P', ...list, '-xdev', '-mindepth', '1', ...expression, '-printf', FIND_FORMAT], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let bytes = 0;
    let entries = 0;
    let stopped = false;
    let rest = '';
    let stderrTail = '';
    const inodes = new Set<string>();

    const countLine = (line: string): void => {
      const [type, links, inode, size, blocks] = line.split(' ');
      if (type === undefined || links === undefined || inode === undefined || size === undefined || blocks === undefined) return;
      entries += 1;
      if (type !== 'd' && links !== '1') {
        if (inodes.has(inode)) return;
        inodes.add(inode);
      }
      bytes += entryBytes(type, Number(size), Number(blocks));
    };

    child.stdout.setEncoding('latin1');
    child.stdout.on('data', (chunk: string) => {
      if (stopped) return;
      const lines = (rest + chunk).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) countLine(line);
      if (options.stopWhen?.({ bytes, entries })) {
        stopped = true;
        child.kill('SIGKILL');
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-500);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (stopped) return resolve({ bytes, entries, stopped: true });
      if (rest.length > 0) countLine(rest);
      // find exits 1 after entries that vanished during the walk (or a root that does not exist):
      // they hold no bytes any more. Killed by anyone but us, the walk is incomplete: no verdict.
      if (signal !== null || (code !== 0 && code !== 1)) {
        return reject(new Error(`measuring disk usage failed (find: ${signal ?? `exit ${code}`}): ${stderrTail.trim()}`));
      }
      resolve({ bytes, entries, stopped: false });
    });
  });
}

/** `file` as a find -path pattern that matches only itself. */
function globEscaped(file: string): string {
  return file.replace(/[\\*?[\]]/g, (character) => `\\${character}`);
}
