/**
 * Writing files into a session without ever leaving half of one behind, and without holding the
 * session lock while a client trickles bytes in (that would stall the session's executions).
 *
 *   begin   makes a private staging folder beside the sessions (never seen by the sandbox)
 *   add     streams one file there, stopping at the per-file limit; may be called many times
 *   commit  under the session lock: checks the quota and every target, then renames all files into
 *           place (same file system, so each rename is atomic); all or nothing
 *   abort   drops everything staged
 */
import { createWriteStream, promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errnoOf } from '../errno.js';
import { CodecellError } from '../errors.js';
import type { SessionStore } from '../sessions/session-store.js';
import { formatBytes } from './byte-size.js';
import {
  SANDBOX_FILE_MODE,
  giveToSandbox,
  inspectWriteTarget,
  makeDirsBeneath,
} from './confined-fs.js';
import { ancestorsOf, parseRelativePath } from './safe-path.js';
import type { DiskBudget } from './disk-budget.js';
import { measureUsage } from './usage.js';

export interface UploadLimits {
  readonly maxFileBytes: number;
  /** What the session's files and snapshots may take together. */
  readonly quotaBytes: number;
  /** How many entries (files, folders, links) the session may hold. */
  readonly maxEntries: number;
  /** The server's disk budget, which the upload's growth must fit in too. */
  readonly diskBudget: DiskBudget;
}

export interface StagedFile {
  readonly path: string;
  readonly size: number;
}

/** Leftovers of uploads cut off by a crash are removed after this long. */
const STALE_STAGING_MS = 24 * 60 * 60 * 1000;
const STAGING_FOLDER = 'incoming';

export class StagedUpload {
  /** Keyed by target path: a later file for the same path replaces the earlier one. */
  private readonly staged = new Map<string, { readonly stagedPath: string; readonly size: number; readonly order: number }>();
  private stagedBytes = 0;
  private nextOrder = 0;
  private finished = false;

  private constructor(
    private readonly sessions: SessionStore,
    readonly sessionId: string,
    private readonly limits: UploadLimits,
    private readonly stagingDir: string,
  ) {}

  static async begin(sessions: SessionStore, sessionId: string, limits: UploadLimits): Promise<StagedUpload> {
    // Beside the sessions, not in one: the disk budget counts what sessions hold, and a staged
    // file would otherwise count twice at commit (staged, and again as the growth it brings).
    const incoming = path.join(path.dirname(sessions.sessionsDir), STAGING_FOLDER);
    await fs.mkdir(incoming, { recursive: true, mode: 0o700 });
    await removeStale(incoming);
    const stagingDir = await fs.mkdtemp(path.join(incoming, 'upload-'));
    return new StagedUpload(sessions, sessionId, limits, stagingDir);
  }

  /**
   * Stages one file. Throws INVALID_INPUT for a bad path (before reading anything), FILE_TOO_LARGE
   * or QUOTA_EXCEEDED as soon as the content passes a limit. On failure the source is destroyed
   * (stream pipelines do that); callers that must keep a shared stream alive pass a copy.
   */
  async add(requestedPath: string, content: Readable | Uint8Array): Promise<StagedFile> {
    this.assertOpen();
    const relativePath = parseRelativePath(requestedPath);
    // A file staged earlier for the same path is replaced, so its bytes are free again.
    const quotaRoom = this.limits.quotaBytes - this.stagedBytes + (this.staged.get(relativePath)?.size ?? 0);
    const cap = new ByteCap(relativePath, this.limits.maxFileBytes, quotaRoom, this.limits.quotaBytes);
    if (content instanceof Uint8Array) cap.check(content.byteLength); // fail before writing a byte

    // Files finish staging in any order; results are reported in the order they were given.
    const order = this.nextOrder++;
    const stagedPath = path.join(this.stagingDir, String(order));
    const source = content instanceof Uint8Array ? Readable.from([content]) : content;
    try {
      await pipeline(source, cap, createWriteStream(stagedPath, { flags: 'wx', mode: 0o600 }));
      await giveToSandbox(stagedPath, SANDBOX_FILE_MODE);
    } catch (error) {
      await fs.rm(stagedPath, { force: true });
      throw error;
    }

    // Swapped in before any await, so adds that finish together keep the byte count right.
    const replaced = this.staged.get(relativePath);
    this.staged.set(relativePath, { stagedPath, size: cap.bytes, order });
    this.stagedBytes += cap.bytes - (replaced?.size ?? 0);
    if (replaced) await fs.rm(replaced.stagedPath, { force: true });
    return { path: relativePath, size: cap.bytes };
  }

  /** Moves every staged file into the session's files, or none of them. */
  async commit(): Promise<StagedFile[]> {
    this.assertOpen();
    this.finished = true;
    try {
      return await this.sessions.withLock(this.sessionId, () => this.moveIntoPlace());
    } finally {
      await fs.rm(this.stagingDir, { recursive: true, force: true });
    }
  }

  async abort(): Promise<void> {
    this.finished = true;
    await fs.rm(this.stagingDir, { recursive: true, force: true });
  }

  private async moveIntoPlace(): Promise<StagedFile[]> {
    const root = this.sessions.filesDir(this.sessionId);
    try {
      await fs.lstat(root);
    } catch (error) {
      if (errnoOf(error) !== 'ENOENT') throw error;
      throw new CodecellError('SESSION_NOT_FOUND', `session ${this.sessionId} was closed during the upload; nothing was stored`);
    }
    const items = [...this.staged.entries()]
      .map(([target, file]) => ({ target, ...file }))
      .sort((a, b) => a.order - b.order);
    for (const item of items) {
      const clash = ancestorsOf(item.target).find((ancestor) => this.staged.has(ancestor));
      if (clash !== undefined) {
        throw new CodecellError('INVALID_INPUT', `the upload has both a file '${clash}' and a file inside it, '${item.target}'`);
      }
    }

    // Check everything before changing anything. The quota covers the files, the snapshots and the home.
    const before = await measureUsage([root, this.sessions.stateDir(this.sessionId), this.sessions.homeDir(this.sessionId)]);
    let bytesAfter = before.bytes;
    let entriesAfter = before.entries;
    for (const item of items) {
      const existing = await inspectWriteTarget(root, item.target);
      bytesAfter += item.size - bytesFreedByReplacing(existing);
      if (existing === null) entriesAfter += 1;
    }
    entriesAfter += await missingFolders(root, items.map((item) => item.target));
    if (bytesAfter > this.limits.quotaBytes) {
      throw new CodecellError(
        'QUOTA_EXCEEDED',
        `storing this would bring the session's files and saved variables to ${formatBytes(bytesAfter)}, over its quota of ` +
          `${formatBytes(this.limits.quotaBytes)} (CODECELL_SESSION_QUOTA_MB); delete files you no longer need first. Nothing was stored.`,
      );
    }
    if (entriesAfter > this.limits.maxEntries && entriesAfter > before.entries) {
      throw new CodecellError(
        'QUOTA_EXCEEDED',
        `storing this would bring the session to ${entriesAfter} files and folders, over its limit of ${this.limits.maxEntries} ` +
          '(CODECELL_SESSION_MAX_FILES); delete files you no longer need first. Nothing was stored.',
      );
    }
    const growth = bytesAfter - before.bytes;
    const grant = await this.limits.diskBudget.reserve(Math.max(0, growth));
    try {
      if (grant.bytes < growth) {
        throw new CodecellError(
          'QUOTA_EXCEEDED',
          `the server's disk budget for all sessions (${formatBytes(this.limits.diskBudget.limitBytes)}, CODECELL_DISK_BUDGET_MB) ` +
            'has no room for this upload; try again later or delete files you no longer need. Nothing was stored.',
        );
      }
      for (const item of items) {
        const parent = path.posix.dirname(item.target);
        await makeDirsBeneath(root, parent === '.' ? '' : parent);
        await fs.rename(item.stagedPath, path.join(root, item.target));
      }
    } finally {
      grant.release(grant.bytes >= growth ? growth : 0);
    }
    return items.map(({ target, size }) => ({ path: target, size }));
  }

  private assertOpen(): void {
    if (this.finished) throw new Error('this upload was already committed or aborted');
  }
}

/** Counts bytes on their way to disk and fails the stream the moment a limit is passed. */
class ByteCap extends Transform {
  bytes = 0;

  constructor(
    private readonly relativePath: string,
    private readonly maxFileBytes: number,
    private readonly quotaRoom: number,
    private readonly quotaBytes: number,
  ) {
    super();
  }

  check(total: number): void {
    if (total > this.maxFileBytes) {
      throw new CodecellError(
        'FILE_TOO_LARGE',
        // Said of this file only: true for an all-or-nothing upload and for one file of a batch.
        `'${this.relativePath}' is larger than the limit of ${formatBytes(this.maxFileBytes)} per file ` +
          '(CODECELL_MAX_FILE_MB), so it was not stored',
      );
    }
    if (total > this.quotaRoom) {
      throw new CodecellError(
        'QUOTA_EXCEEDED',
        `with '${this.relativePath}', this upload is larger than the session's quota of ${formatBytes(this.quotaBytes)} ` +
          `(CODECELL_SESSION_QUOTA_MB), so '${this.relativePath}' was not stored`,
      );
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    try {
      this.check(this.bytes);
    } catch (error) {
      done(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    done(null, chunk);
  }
}

/** Bytes the quota gets back when `existing` is replaced by a rename. */
function bytesFreedByReplacing(existing: { size: number; nlink: number; isFile(): boolean } | null): number {
  if (existing === null) return 0;
  // A hardlinked file keeps its data under its other names.
  if (existing.isFile() && existing.nlink > 1) return 0;
  return existing.size;
}

/** Folders the targets need that do not exist yet (each counted once). */
async function missingFolders(root: string, targets: readonly string[]): Promise<number> {
  const folders = new Set(targets.flatMap((target) => ancestorsOf(target)));
  let missing = 0;
  for (const folder of folders) {
    if ((await fs.lstat(path.join(root, folder)).catch(() => null)) === null) missing += 1;
  }
  return missing;
}

async function removeStale(incoming: string): Promise<void> {
  const cutoff = Date.now() - STALE_STAGING_MS;
  for (const name of await fs.readdir(incoming)) {
    const full = path.join(incoming, name);
    const stats = await fs.lstat(full).catch(() => null);
    if (stats && stats.mtimeMs < cutoff) await fs.rm(full, { recursive: true, force: true });
  }
}
