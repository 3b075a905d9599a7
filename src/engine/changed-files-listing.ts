/**
 * A run's changed files, bounded for a result: VCS and cache directories (.git/, __pycache__/,
 * node_modules/…) fold into one line each, at most `maxListed` of the rest are listed (shallow
 * paths first), and the others are counted per top-level directory. A run that writes 3,000 files
 * then costs a few lines, not 800 KB; list_files (or code) still shows every one.
 */
import type { FileGroup, FoldedFiles, UnlistedFiles } from './types.js';

/** Directory names whose contents no reader wants file by file, with what they are. */
const FOLDED_DIRECTORIES: ReadonlyMap<string, string> = new Map([
  ['.git', 'git repository'],
  ['.hg', 'Mercurial repository'],
  ['.svn', 'Subversion checkout'],
  ['__pycache__', 'Python bytecode cache'],
  ['.ipynb_checkpoints', 'notebook checkpoints'],
  ['node_modules', 'npm packages'],
  ['.venv', 'Python virtual environment'],
  ['.cache', 'cache'],
  ['.npm', 'npm cache'],
  ['.mypy_cache', 'mypy cache'],
  ['.pytest_cache', 'pytest cache'],
  ['.ruff_cache', 'ruff cache'],
  ['.tox', 'tox environments'],
]);

/** Each kind of group is cut to this many lines; the rest merge into one (per label, when folded). */
export const MAX_GROUPS = 10;

interface SizedPath {
  readonly path: string;
  readonly size: number;
}

export interface BoundedListing<T extends SizedPath> {
  readonly listed: T[];
  readonly unlisted: UnlistedFiles;
}

export const NOTHING_UNLISTED: UnlistedFiles = { folded: [], omitted: [] };

/** The outermost folded directory `path` lies in ('a/.git/'), with its label; null when none. */
export function foldedDirectoryOf(path: string): { directory: string; label: string } | null {
  const segments = path.split('/');
  // The last segment is the file itself: a file named ".cache" is not a cache directory.
  for (let index = 0; index < segments.length - 1; index += 1) {
    const label = FOLDED_DIRECTORIES.get(segments[index] ?? '');
    if (label !== undefined) return { directory: `${segments.slice(0, index + 1).join('/')}/`, label };
  }
  return null;
}

/** The top-level directory a path is counted under: 'out/' for out/a/b.csv, '' for a top-level file. */
export function topDirectoryOf(path: string): string {
  const slash = path.indexOf('/');
  return slash === -1 ? '' : path.slice(0, slash + 1);
}

function depthOf(path: string): number {
  let depth = 0;
  for (const char of path) if (char === '/') depth += 1;
  return depth;
}

export function boundChangedFiles<T extends SizedPath>(files: readonly T[], maxListed: number): BoundedListing<T> {
  const folded = new Map<string, { label: string; files: number; bytes: number }>();
  const candidates: T[] = [];
  for (const file of files) {
    const fold = foldedDirectoryOf(file.path);
    if (fold === null) {
      candidates.push(file);
      continue;
    }
    const group = folded.get(fold.directory) ?? { label: fold.label, files: 0, bytes: 0 };
    group.files += 1;
    group.bytes += file.size;
    folded.set(fold.directory, group);
  }
  const { kept, dropped } = keepShallowest(candidates, maxListed);
  const foldedGroups: FoldedFiles[] = [...folded].map(([directory, group]) => ({ directory, directories: 1, ...group }));
  return {
    listed: kept,
    unlisted: { folded: capFolded(foldedGroups), omitted: addToOmitted([], dropped) },
  };
}

/** Lists only `keep` of `listing`'s files (the shallowest), counting the others with the omitted ones. */
export function listFewer<T extends SizedPath>(listing: BoundedListing<T>, keep: number): BoundedListing<T> {
  if (listing.listed.length <= keep) return listing;
  const { kept, dropped } = keepShallowest(listing.listed, keep);
  return { listed: kept, unlisted: { ...listing.unlisted, omitted: addToOmitted(listing.unlisted.omitted, dropped) } };
}

/**
 * Shallow first: a report at the top is worth more than the 50th file of out/ (ties keep their
 * order). The kept ones stay in their original order (a diff's is by path), which reads best.
 */
function keepShallowest<T extends SizedPath>(files: readonly T[], keep: number): { kept: T[]; dropped: T[] } {
  const ranked = files
    .map((file, index) => ({ file, index, depth: depthOf(file.path) }))
    .sort((a, b) => a.depth - b.depth || a.index - b.index);
  const keptSet = new Set(ranked.slice(0, Math.max(0, keep)).map(({ file }) => file));
  return {
    kept: files.filter((file) => keptSet.has(file)),
    dropped: ranked.slice(Math.max(0, keep)).map(({ file }) => file),
  };
}

function addToOmitted(existing: readonly FileGroup[], files: readonly SizedPath[]): FileGroup[] {
  const groups = new Map<string | null, { directories: number; files: number; bytes: number }>();
  for (const group of existing) groups.set(group.directory, { directories: group.directories, files: group.files, bytes: group.bytes });
  for (const file of files) {
    const directory = topDirectoryOf(file.path);
    const group = groups.get(directory) ?? { directories: 1, files: 0, bytes: 0 };
    group.files += 1;
    group.bytes += file.size;
    groups.set(directory, group);
  }
  return capOmitted([...groups].map(([directory, group]) => ({ directory, ...group })));
}

/** The biggest groups by file count, and one merged "other directories" group for the rest. */
function capOmitted(groups: FileGroup[]): FileGroup[] {
  const named = groups.filter((group) => group.directory !== null).sort((a, b) => b.files - a.files);
  const merged = groups.filter((group) => group.directory === null);
  if (named.length <= MAX_GROUPS && merged.length === 0) return named;
  const keep = named.slice(0, MAX_GROUPS - 1);
  const rest = [...named.slice(MAX_GROUPS - 1), ...merged];
  if (rest.length === 0) return keep;
  return [...keep, mergeGroups(rest)];
}

function capFolded(groups: FoldedFiles[]): FoldedFiles[] {
  if (groups.length <= MAX_GROUPS) return groups;
  const sorted = [...groups].sort((a, b) => b.files - a.files);
  const keep = sorted.slice(0, MAX_GROUPS - 1);
  const byLabel = new Map<string, FoldedFiles[]>();
  for (const group of sorted.slice(MAX_GROUPS - 1)) byLabel.set(group.label, [...(byLabel.get(group.label) ?? []), group]);
  return [...keep, ...[...byLabel].map(([label, rest]) => ({ ...mergeGroups(rest), label }))];
}

function mergeGroups(groups: readonly FileGroup[]): FileGroup {
  return {
    directory: null,
    directories: groups.reduce((sum, group) => sum + group.directories, 0),
    files: groups.reduce((sum, group) => sum + group.files, 0),
    bytes: groups.reduce((sum, group) => sum + group.bytes, 0),
  };
}

/** The same counts without folder names (a name may be ~1 KB): folded groups merged per label, omitted ones into one. */
export function withoutGroupNames(unlisted: UnlistedFiles): UnlistedFiles {
  const byLabel = new Map<string, FoldedFiles[]>();
  for (const group of unlisted.folded) byLabel.set(group.label, [...(byLabel.get(group.label) ?? []), group]);
  return {
    folded: [...byLabel].map(([label, groups]) => ({ ...mergeGroups(groups), label })),
    omitted: unlisted.omitted.length === 0 ? [] : [mergeGroups(unlisted.omitted)],
  };
}

/** How many changed files the groups count. */
export function unlistedCount(unlisted: UnlistedFiles): number {
  return [...unlisted.folded, ...unlisted.omitted].reduce((sum, group) => sum + group.files, 0);
}
