/**
 * The blob files of a snapshot (images/PROTOCOL.md, "Snapshots"): large buffers a runner keeps in
 * files of their own beside the snapshot file, so that a run that did not change them neither
 * rewrites nor copies them.
 *
 *   state/<runtime>          the snapshot file (the commit point: renamed into place last)
 *   state/<runtime>.blobs/   its blobs, one file each, named by the runner with 32 random hex digits
 *
 * A runner that saves leaves in out/: `state`, `state.blobs` (the names of every blob the new
 * snapshot needs, one a line) and `blobs/` (the ones it wrote this run). The host keeps the listed
 * old blobs where they are (no copy), moves the new ones in, renames the snapshot into place, and
 * then removes the blobs no longer listed. A crash at any step leaves the last good snapshot with
 * every blob it needs; leftovers are removed at the next adoption. A runner that writes no list
 * (one snapshot file, as the node runner) needs no blobs.
 */

/** What the runner's list may name: nothing else is ever used as a path. */
const BLOB_NAME = /^[0-9a-f]{32}$/;

/** The list is a name a line; more than this is not a list a runner writes. */
export const MAX_BLOB_LIST_BYTES = 4 * 1024 * 1024;

export function isBlobName(name: string): boolean {
  return BLOB_NAME.test(name);
}

/** The names in a runner's list; null when it is malformed (the snapshot is then not adopted). */
export function parseBlobList(text: string): string[] | null {
  const names = text.split('\n').filter((line) => line !== '');
  if (!names.every(isBlobName)) return null;
  return [...new Set(names)];
}

export interface BlobPlan {
  /** New blobs to move from out/blobs into the session's blob folder. */
  readonly move: readonly string[];
  /** Blobs of the session no longer needed (after the new snapshot is in place). */
  readonly drop: readonly string[];
  /** The bytes the dropped blobs free. */
  readonly droppedBytes: number;
  /**
   * Listed blobs that exist neither among the new nor the old ones, or among both (a new blob must
   * not replace one the last good snapshot uses): then the snapshot cannot be adopted.
   */
  readonly invalid: readonly string[];
}

/**
 * Which blobs move in and which go, from the runner's list and the sizes of the blobs on either
 * side (new: out/blobs; old: the session's blob folder). A new blob that is not listed is not moved.
 */
export function planBlobs(
  listed: readonly string[],
  newBlobs: ReadonlyMap<string, number>,
  oldBlobs: ReadonlyMap<string, number>,
): BlobPlan {
  const wanted = new Set(listed);
  const move = listed.filter((name) => newBlobs.has(name));
  const invalid = listed.filter((name) => newBlobs.has(name) === oldBlobs.has(name));
  const drop = [...oldBlobs.keys()].filter((name) => !wanted.has(name));
  const droppedBytes = drop.reduce((sum, name) => sum + (oldBlobs.get(name) ?? 0), 0);
  return { move, drop, droppedBytes, invalid };
}

/** The folder of a snapshot file's blobs. */
export function blobFolderOf(stateFile: string): string {
  return `${stateFile}.blobs`;
}
