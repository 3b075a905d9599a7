/**
 * A snapshot of a session's files, taken with lstat only: code in the sandbox made these entries,
 * so nothing here ever follows a link. The engine scans before and after a run and diffs the two
 * to report which files the run created or changed. (What the files take is usage.ts's to measure:
 * a listing skips names the API cannot address, a quota must not.)
 */
import { promises as fs, type Dir, type Stats } from 'node:fs';
import path from 'node:path';
import { parseRelativePath } from './safe-path.js';

export const DEFAULT_MAX_TREE_ENTRIES = 20_000;

/** 'hardlink' is a regular file with more than one name: listed, never served. */
export type TreeEntryKind = 'file' | 'dir' | 'symlink' | 'hardlink' | 'other';

export interface TreeEntry {
  /** Relative to the scanned root, '/'-separated, valid for parseRelativePath. */
  readonly path: string;
  readonly kind: TreeEntryKind;
  /** Bytes (lstat size: for a symlink, the length of its target text). */
  readonly size: number;
  readonly mtimeMs: number;
  readonly ino: number;
}

export type ScannedTree = Map<string, TreeEntry> & {
  /** Entries left out because their names are not valid UTF-8 or not acceptable paths. */
  readonly skippedNames: number;
  /** True when the scan stopped at maxEntries. */
  readonly truncated: boolean;
};

export interface TreeChange {
  readonly path: string;
  readonly kind: 'file' | 'symlink' | 'hardlink';
  readonly size: number;
  readonly change: 'created' | 'modified';
}

// ignoreBOM: a name may begin with U+FEFF; stripping it would name a different (missing) file, and
// the entry would drop out of the listing unseen.
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Walks `root` (which must exist) without following links, at most `maxEntries` entries deep-first. */
export async function scanTree(root: string, options: { maxEntries?: number } = {}): Promise<ScannedTree> {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_TREE_ENTRIES;
  const entries = new Map<string, TreeEntry>();
  let skippedNames = 0;
  let truncated = false;
  const pendingDirs: string[] = [''];

  walk: while (pendingDirs.length > 0) {
    const relativeDir = pendingDirs.pop() ?? '';
    let dir: Dir;
    try {
      // latin1 maps each byte of a name to one character, so the raw bytes survive and can be
      // checked as UTF-8 below; the default decoding would silently replace invalid bytes.
      dir = await fs.opendir(path.join(root, relativeDir), { encoding: 'latin1' });
    } catch {
      continue; // vanished or replaced since it was listed
    }
    for await (const dirent of dir) {
      const relativePath = acceptedPath(relativeDir, dirent.name);
      if (relativePath === null) {
        skippedNames += 1;
        continue;
      }
      if (entries.size >= maxEntries) {
        truncated = true;
        break walk; // leaving the loop closes the directory
      }
      let stats: Stats;
      try {
        stats = await fs.lstat(path.join(root, relativePath));
      } catch {
        continue;
      }
      const kind = entryKindOf(stats);
      entries.set(relativePath, { path: relativePath, kind, size: stats.size, mtimeMs: stats.mtimeMs, ino: stats.ino });
      if (kind === 'dir') pendingDirs.push(relativePath);
    }
  }
  return Object.assign(entries, { skippedNames, truncated });
}

/**
 * What changed between two scans of the same root: files (and links) that are new, or whose size,
 * mtime or inode differ. Directories are not reported, nor special files (fifos, sockets), which
 * have no content to offer. Deletions are not reported either.
 */
export function diffTrees(before: ReadonlyMap<string, TreeEntry>, after: ReadonlyMap<string, TreeEntry>): TreeChange[] {
  const changes: TreeChange[] = [];
  for (const entry of after.values()) {
    if (entry.kind === 'dir' || entry.kind === 'other') continue;
    const previous = before.get(entry.path);
    const change = previous === undefined ? 'created' : isModified(previous, entry) ? 'modified' : null;
    if (change !== null) changes.push({ path: entry.path, kind: entry.kind, size: entry.size, change });
  }
  return changes.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function isModified(previous: TreeEntry, current: TreeEntry): boolean {
  return (
    previous.kind !== current.kind ||
    previous.size !== current.size ||
    previous.mtimeMs !== current.mtimeMs ||
    previous.ino !== current.ino
  );
}

/**
 * The entry's relative path, or null when the name cannot be addressed through Codecell's API:
 * invalid UTF-8, control characters, not NFC (the API normalizes to NFC, so it would name a
 * different file), or past the depth and length limits.
 */
function acceptedPath(relativeDir: string, latin1Name: string): string | null {
  let name: string;
  try {
    name = strictUtf8.decode(Buffer.from(latin1Name, 'latin1'));
  } catch {
    return null;
  }
  const candidate = relativeDir === '' ? name : `${relativeDir}/${name}`;
  try {
    return parseRelativePath(candidate) === candidate ? candidate : null;
  } catch {
    return null;
  }
}

/** The kind of an entry from its lstat. */
export function entryKindOf(stats: Pick<Stats, 'isSymbolicLink' | 'isDirectory' | 'isFile' | 'nlink'>): TreeEntryKind {
  if (stats.isSymbolicLink()) return 'symlink';
  if (stats.isDirectory()) return 'dir';
  if (stats.isFile()) return stats.nlink > 1 ? 'hardlink' : 'file';
  return 'other';
}
