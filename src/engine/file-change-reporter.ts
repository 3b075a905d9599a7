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
import { fitInlineImage, type FittedImage, type InlineImageBudget } from './inline-images.js';
import type { FileChange } from '../domain/types.js';
import type { ResultImage, UnlistedFiles } from './types.js';

/** Reads a regular file of a session's without following links; null when it is not one. */
export interface SafeFileAccess {
  readSmallFile(root: string, relativePath: string, maxBytes: number): Promise<Buffer | null>;
  /** Adds types and (for real files) signed download links. */
  describeChanges(sessionId: string, changes: readonly TreeChange[]): FileChange[];
  /** Creates `name` (one path segment) under `root`, never replacing or following anything; false when it exists. */
  writeNewFile(root: string, name: string, bytes: Buffer): Promise<boolean>;
}

/** LibreChat drops images over 10 MiB: larger ones are not shown inline. */
export const MAX_INLINE_IMAGE_BYTES = 10 * 1024 * 1024;

export class FileChangeReporter {
  constructor(
    private readonly access: SafeFileAccess,
    private readonly quotaBytes: number,
    /** Changed files listed one by one (CODECELL_MAX_LISTED_FILES); the rest are counted. */
    private readonly maxListed: number,
    private readonly imageBudget: InlineImageBudget,
  ) {}

  snapshot(filesDir: string): Promise<ScannedTree> {
    return scanTree(filesDir);
  }

  async changes(
    sessionId: string,
    filesDir: string,
    before: ScannedTree,
  ): Promise<{ files: FileChange[]; unlisted: UnlistedFiles; pngFiles: FileChange[]; notice: string | null; usedBytes: number }> {
    const after = await scanTree(filesDir);
    const changes = diffTrees(before, after);
    const bounded = boundChangedFiles(changes, this.maxListed);
    const files = this.access.describeChanges(sessionId, bounded.listed);
    // From every change, not only the listed ones: a plot saved among thousands of files is still shown.
    const pngFiles = this.access
      .describeChanges(sessionId, changes.filter((change) => change.kind === 'file' && /\.png$/i.test(change.path)))
      .filter((file) => file.mimeType === 'image/png');
    const usedBytes = await measureBytes(filesDir); // the measure the upload check and the watchdog use
    const notices: string[] = [];
    if (usedBytes > this.quotaBytes) {
      notices.push(
        `The session's files use ${formatBytes(usedBytes)}, over its quota of ${formatBytes(this.quotaBytes)}: ` +
          'delete files you no longer need; uploads are refused until then.',
      );
    }
    const unlistable = after.skippedNames - before.skippedNames;
    if (unlistable > 0) {
      notices.push(
        `${unlistable} new name(s) in /mnt/data cannot be listed (control characters, invalid UTF-8, or too long or deep), ` +
          'nor anything inside them; code can still read and delete them.',
      );
    }
    if (after.truncated) notices.push('The session holds too many files to list them all; changes may be missing.');
    const links = changes.filter((change) => change.kind !== 'file').length;
    if (links > 0) notices.push(`${links} link(s) were made in /mnt/data: they are listed but never served.`);
    return { files, unlisted: bounded.unlisted, pngFiles, notice: notices.length > 0 ? notices.join(' ') : null, usedBytes };
  }

  /**
   * Figures the run showed (not files), each within the inline budget. One that had to be
   * downscaled is also kept in full as a new file in `filesDir` (figure-1-full-size.png), so the
   * after-scan lists it with a download link; its name is in `written`. Not when it would take the
   * session's files past their quota (the text then says to save it to a file).
   */
  async fitShownImages(filesDir: string, shown: readonly ResultImage[]): Promise<{ images: ResultImage[]; omitted: number; written: string[] }> {
    const images: ResultImage[] = [];
    const written: string[] = [];
    let omitted = 0;
    // The host writes these after the run, past the quota watchdog: each must fit the quota itself.
    let usedBytes: number | null = null;
    for (const image of shown) {
      const bytes = Buffer.from(image.base64, 'base64');
      const fitted = await fitInlineImage(bytes, image, this.imageBudget);
      if (fitted === null) {
        omitted += 1;
        continue;
      }
      let path: string | null = null;
      if (fitted.downscaledFrom !== null) {
        usedBytes ??= await measureBytes(filesDir);
        if (usedBytes + bytes.length <= this.quotaBytes) path = await this.keepFullSize(filesDir, image.name, bytes);
        if (path !== null) {
          written.push(path);
          usedBytes += bytes.length;
        }
      }
      images.push(asResultImage(image.name, fitted, path));
    }
    return { images, omitted, written };
  }

  /** Images the code wrote (e.g. plt.savefig('chart.png')), to show inline, up to `max`; the files stay as written. */
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
      const fitted = bytes && size ? await fitInlineImage(bytes, size, this.imageBudget) : null;
      if (fitted) images.push(asResultImage(file.path, fitted, file.path));
      else omitted += 1;
    }
    return { images, omitted };
  }

  /** figure-1.png → figure-1-full-size.png (or -2, -3… when taken); null when none could be made. */
  private async keepFullSize(filesDir: string, shownName: string, bytes: Buffer): Promise<string | null> {
    const stem = shownName.replace(/\.png$/i, '').replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 80) || 'figure';
    for (let attempt = 1; attempt <= 20; attempt += 1) {
      const name = `${stem}-full-size${attempt === 1 ? '' : `-${attempt}`}.png`;
      try {
        if (await this.access.writeNewFile(filesDir, name, bytes)) return name;
      } catch {
        return null; // no room, or the folder is not writable: the downscaled copy is still shown
      }
    }
    return null;
  }
}

function asResultImage(name: string, fitted: FittedImage, fullSizePath: string | null): ResultImage {
  const image = { name, mimeType: 'image/png' as const, base64: fitted.bytes.toString('base64'), width: fitted.width, height: fitted.height };
  if (fitted.downscaledFrom === null) return image;
  const { width, height, bytes } = fitted.downscaledFrom;
  return { ...image, fullSize: { width, height, bytes, path: fullSizePath } };
}
