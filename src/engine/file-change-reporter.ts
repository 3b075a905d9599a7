/**
 * What a run did to /mnt/data, for its result: files created or changed (with type and a signed
 * link), bounded (changed-files-listing.ts), images among them to show inline, and the quota.
 * Built on lstat-only scans: nothing the sandbox made is followed.
 */
import { formatBytes } from '../files/byte-size.js';
import { diffTrees, scanTree, type ScannedTree, type TreeChange } from '../files/file-tree.js';
import { measureBytes } from '../files/usage.js';
import { inlinePngSize } from '../executor/png.js';
import { boundChangedFiles } from './changed-files-listing.js';
import type { FileChange, ResultImage, UnlistedFiles } from './types.js';

/** Reads a regular file of a session's without following links; null when it is not one. */
export interface SafeFileAccess {
  readSmallFile(root: string, relativePath: string, maxBytes: number): Promise<Buffer | null>;
  /** Adds types and (for real files) signed download links. */
  describeChanges(sessionId: string, changes: readonly TreeChange[]): FileChange[];
}

/** LibreChat drops images over 10 MiB: larger ones are not shown inline. */
export const MAX_INLINE_IMAGE_BYTES = 10 * 1024 * 1024;

export class FileChangeReporter {
  constructor(
    private readonly access: SafeFileAccess,
    private readonly quotaBytes: number,
    /** Changed files listed one by one (CODECELL_MAX_LISTED_FILES); the rest are counted. */
    private readonly maxListed: number,
  ) {}

  snapshot(filesDir: string): Promise<ScannedTree> {
    return scanTree(filesDir);
  }

  async changes(
    sessionId: string,
    filesDir: string,
    before: ScannedTree,
  ): Promise<{ files: FileChange[]; unlisted: UnlistedFiles; notice: string | null; usedBytes: number }> {
    const after = await scanTree(filesDir);
    const changes = diffTrees(before, after);
    const bounded = boundChangedFiles(changes, this.maxListed);
    const files = this.access.describeChanges(sessionId, bounded.listed);
    const usedBytes = await measureBytes(filesDir); // the measure the upload check and the watchdog use
    const notices: string[] = [];
    if (usedBytes > this.quotaBytes) {
      notices.push(
        `The session's files use ${formatBytes(usedBytes)}, over its quota of ${formatBytes(this.quotaBytes)}: ` +
          'delete files you no longer need; uploads are refused until then.',
      );
    }
    if (after.truncated) notices.push('The session holds too many files to list them all; changes may be missing.');
    const links = changes.filter((change) => change.kind !== 'file').length;
    if (links > 0) notices.push(`${links} link(s) were made in /mnt/data: they are listed but never served.`);
    return { files, unlisted: bounded.unlisted, notice: notices.length > 0 ? notices.join(' ') : null, usedBytes };
  }

  /** Images the code wrote (e.g. plt.savefig('chart.png')), to show inline, up to `max`. */
  async imagesFrom(
    filesDir: string,
    files: readonly FileChange[],
    max: number,
  ): Promise<{ images: ResultImage[]; omitted: number }> {
    const candidates = files.filter((file) => file.kind === 'file' && file.mimeType === 'image/png');
    const images: ResultImage[] = [];
    let omitted = 0;
    for (const file of candidates) {
      if (images.length >= max) {
        omitted += 1;
        continue;
      }
      const bytes = await this.access.readSmallFile(filesDir, file.path, MAX_INLINE_IMAGE_BYTES);
      const size = bytes ? inlinePngSize(bytes) : null;
      if (bytes && size) images.push({ name: file.path, mimeType: 'image/png', base64: bytes.toString('base64'), ...size });
      else omitted += 1;
    }
    return { images, omitted };
  }
}
