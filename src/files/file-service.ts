/**
 * Everything the interfaces (REST, MCP) and the engine do with a session's files: list, read,
 * write, delete, and hand out signed download links. Every operation resolves the session for the
 * calling principal (someone else's session is "not found", exactly like a missing one) and touches
 * the files only under the session lock, because during a run they are moved into the container.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { Settings } from '../config/settings.js';
import type { FileChange } from '../domain/types.js';
import { errnoOf } from '../errno.js';
import { CodecellError } from '../errors.js';
import type { Principal } from '../sessions/principal.js';
import type { SessionStore } from '../sessions/session-store.js';
import { fileNotFound, lstatBeneath, openFileBeneath } from './confined-fs.js';
import { DiskBudget } from './disk-budget.js';
import { entryKindOf, scanTree, type TreeChange, type TreeEntryKind } from './file-tree.js';
import { mimeTypeFor } from './mime.js';
import { removeTree } from './remove-tree.js';
import { baseName, parseRelativePath } from './safe-path.js';
import { DownloadSigner, loadSigningKey } from './signed-url.js';
import { StagedUpload, type StagedFile } from './staged-upload.js';
import { measureUsage } from './usage.js';

export interface FileServiceDeps {
  readonly sessions: SessionStore;
  readonly settings: Settings;
  /** Turns a signed download token into the URL that serves it (an interface knows where); absent: no links. */
  readonly downloadLinkFor?: ((token: string) => string) | undefined;
  /** Clock for link expiry; tests move it. */
  readonly now?: () => number;
  /** The server's disk budget; default: one over the data dir, from the settings. */
  readonly diskBudget?: DiskBudget;
}

export interface FileEntry {
  readonly path: string;
  readonly kind: Exclude<TreeEntryKind, 'dir'>;
  readonly size: number;
  /** ISO 8601. */
  readonly mtime: string;
  readonly mimeType: string;
}

export interface FileListing {
  readonly sessionId: string;
  readonly files: FileEntry[];
  /** Entries not listed because their names are not valid UTF-8 or not usable paths. */
  readonly skippedNames: number;
  /** True when the session holds more entries than one listing shows. */
  readonly truncated: boolean;
  /**
   * What the session takes against its quota: its files, every one counted (listed or not), and
   * its saved variables (interpreter snapshots).
   */
  readonly usage: SessionUsage;
}

export interface SessionUsage {
  readonly bytes: number;
  /** Of `bytes`, what the saved variables take. */
  readonly snapshotBytes: number;
  readonly entries: number;
  readonly quotaBytes: number;
  readonly maxEntries: number;
}

export interface OpenedFile {
  readonly sessionId: string;
  readonly path: string;
  readonly fileName: string;
  readonly size: number;
  readonly mimeType: string;
  readonly stream: Readable;
}

export interface FileHead {
  readonly sessionId: string;
  readonly path: string;
  readonly size: number;
  readonly mimeType: string;
  /** At most the bytes asked for, from the start of the file. */
  readonly bytes: Buffer;
}

export interface StoredFile {
  readonly sessionId: string;
  readonly path: string;
  readonly size: number;
  readonly mimeType: string;
}

export class FileService {
  private readonly sessions: SessionStore;
  private readonly settings: Settings;
  private readonly signer: DownloadSigner;
  private readonly downloadLinkFor: ((token: string) => string) | undefined;
  /** Shared with the executor: uploads and runs draw on the same budget. */
  readonly diskBudget: DiskBudget;

  constructor(deps: FileServiceDeps) {
    this.sessions = deps.sessions;
    this.settings = deps.settings;
    this.diskBudget =
      deps.diskBudget ??
      new DiskBudget({
        // The sessions, and the slots their files are in while they run (staged uploads count at commit).
        roots: [deps.sessions.sessionsDir, path.join(deps.settings.dataDir, 'slots')],
        limitBytes: deps.settings.limits.diskBudgetBytes,
      });
    this.downloadLinkFor = deps.downloadLinkFor;
    this.signer = new DownloadSigner(loadSigningKey(deps.settings), deps.now);
  }

  /** The per-file upload limit (CODECELL_MAX_FILE_MB). */
  get maxFileBytes(): number {
    return this.settings.limits.maxFileBytes;
  }

  /** How long a download link stays valid. */
  get downloadLinkTtlMs(): number {
    return this.settings.signedUrlTtlMs;
  }

  async list(principal: Principal, sessionId: string | undefined): Promise<FileListing> {
    const id = await this.sessionIdFor(principal, sessionId);
    const { tree, usage } = await this.sessions.withLock(id, async () => ({
      tree: await scanTree(this.sessions.filesDir(id)),
      usage: await this.usageOf(id),
    }));
    const files: FileEntry[] = [];
    for (const entry of tree.values()) {
      if (entry.kind === 'dir') continue;
      files.push({
        path: entry.path,
        kind: entry.kind,
        size: entry.size,
        mtime: new Date(entry.mtimeMs).toISOString(),
        mimeType: mimeTypeFor(entry.path),
      });
    }
    files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    return { sessionId: id, files, skippedNames: tree.skippedNames, truncated: tree.truncated, usage };
  }

  /** What a session takes (call under its lock: during a run its files are in the container's slot). */
  private async usageOf(sessionId: string): Promise<SessionUsage> {
    const files = await measureUsage(this.sessions.filesDir(sessionId));
    const snapshots = await measureUsage(this.sessions.stateDir(sessionId));
    const home = await measureUsage(this.sessions.homeDir(sessionId));
    return {
      bytes: files.bytes + snapshots.bytes + home.bytes,
      snapshotBytes: snapshots.bytes,
      entries: files.entries + snapshots.entries + home.entries,
      quotaBytes: this.settings.limits.sessionQuotaBytes,
      maxEntries: this.settings.limits.sessionMaxFiles,
    };
  }

  /** What is at `path` (links included, never followed). FILE_NOT_FOUND when absent; INVALID_INPUT for a folder. */
  async stat(principal: Principal, sessionId: string | undefined, requestedPath: string): Promise<FileEntry & { sessionId: string }> {
    const relativePath = parseRelativePath(requestedPath);
    const id = await this.sessionIdFor(principal, sessionId);
    const stats = await this.sessions.withLock(id, () => lstatBeneath(this.sessions.filesDir(id), relativePath));
    if (stats === null) throw fileNotFound(relativePath);
    const kind = entryKindOf(stats);
    if (kind === 'dir') throw new CodecellError('INVALID_INPUT', `'${relativePath}' is a folder, not a file`);
    return {
      sessionId: id,
      path: relativePath,
      kind,
      size: stats.size,
      mtime: stats.mtime.toISOString(),
      mimeType: mimeTypeFor(relativePath),
    };
  }

  /** Opens a file for download. Links, folders and special files are refused (INVALID_INPUT). */
  async openRead(principal: Principal, sessionId: string | undefined, requestedPath: string): Promise<OpenedFile> {
    const relativePath = parseRelativePath(requestedPath);
    const id = await this.sessionIdFor(principal, sessionId);
    return this.openInSession(id, relativePath);
  }

  /**
   * Opens the file a signed link names. The signature is the permission, so no principal: throws
   * UNAUTHORIZED when the token is forged, altered or expired.
   */
  async openSigned(token: string): Promise<OpenedFile> {
    const check = this.signer.verify(token);
    if (!check.ok) {
      throw new CodecellError(
        'UNAUTHORIZED',
        check.reason === 'expired'
          ? 'this download link has expired; ask for the file again to get a fresh link'
          : 'this download link is not valid',
      );
    }
    const { sessionId, path: relativePath } = check.target;
    try {
      await fs.lstat(this.sessions.filesDir(sessionId));
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') throw fileNotFound(relativePath); // the session was closed
      throw error;
    }
    return this.openInSession(sessionId, parseRelativePath(relativePath));
  }

  /** Up to `maxBytes` from the start of a file, with its real size (for showing files to a model). */
  async readHead(principal: Principal, sessionId: string | undefined, requestedPath: string, maxBytes: number): Promise<FileHead> {
    const relativePath = parseRelativePath(requestedPath);
    const id = await this.sessionIdFor(principal, sessionId);
    const { handle, stats } = await this.sessions.withLock(id, () => openFileBeneath(this.sessions.filesDir(id), relativePath));
    try {
      const buffer = Buffer.alloc(Math.min(maxBytes, stats.size));
      let filled = 0;
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled);
        if (bytesRead === 0) break; // shrank since the fstat
        filled += bytesRead;
      }
      return { sessionId: id, path: relativePath, size: stats.size, mimeType: mimeTypeFor(relativePath), bytes: buffer.subarray(0, filled) };
    } finally {
      await handle.close();
    }
  }

  /**
   * Starts a (multi-file) upload into a session: add files to it, then commit. The session is
   * resolved now, so a bad session fails before any bytes are read.
   */
  async beginUpload(principal: Principal, sessionId: string | undefined): Promise<StagedUpload> {
    const id = await this.sessionIdFor(principal, sessionId);
    return StagedUpload.begin(this.sessions, id, {
      maxFileBytes: this.settings.limits.maxFileBytes,
      quotaBytes: this.settings.limits.sessionQuotaBytes,
      maxEntries: this.settings.limits.sessionMaxFiles,
      diskBudget: this.diskBudget,
    });
  }

  /** Finishes an upload begun with beginUpload: all files land, or none (and it throws). */
  async commitUpload(upload: StagedUpload): Promise<StoredFile[]> {
    const stored = await upload.commit();
    await this.sessions.touch(upload.sessionId);
    return stored.map((file) => this.storedFile(upload.sessionId, file));
  }

  /** Writes one file (replacing what is there). FILE_TOO_LARGE / QUOTA_EXCEEDED leave nothing behind. */
  async write(
    principal: Principal,
    sessionId: string | undefined,
    requestedPath: string,
    content: Buffer | Readable,
  ): Promise<StoredFile> {
    const relativePath = parseRelativePath(requestedPath);
    const upload = await this.beginUpload(principal, sessionId);
    try {
      await upload.add(relativePath, content);
    } catch (error) {
      await upload.abort();
      throw error;
    }
    const [stored] = await this.commitUpload(upload);
    if (!stored) throw new Error('an upload of one file stored nothing');
    return stored;
  }

  /** Deletes a file, a link (never its target) or a folder with everything in it. */
  async remove(principal: Principal, sessionId: string | undefined, requestedPath: string): Promise<{ sessionId: string; path: string }> {
    const relativePath = parseRelativePath(requestedPath);
    const id = await this.sessionIdFor(principal, sessionId);
    await this.sessions.withLock(id, async () => {
      const root = this.sessions.filesDir(id);
      if ((await lstatBeneath(root, relativePath)) === null) throw fileNotFound(relativePath);
      // Links are unlinked as links (nothing outside is touched), at any depth.
      await removeTree(path.join(root, relativePath));
    });
    await this.sessions.touch(id);
    return { sessionId: id, path: relativePath };
  }

  /**
   * A signed link to download `path` without an API key; undefined when links are not served.
   * `linkFor` (the interface's, for the request at hand) is used when the server has none of its own.
   */
  downloadUrl(sessionId: string, relativePath: string, linkFor?: (token: string) => string): string | undefined {
    const link = this.downloadLinkFor ?? linkFor;
    if (link === undefined) return undefined;
    return link(this.signer.sign(sessionId, relativePath, this.settings.signedUrlTtlMs));
  }

  /** The engine's view of what a run changed, with types and (for real files) download links. */
  describeChanges(sessionId: string, changes: readonly TreeChange[]): FileChange[] {
    return changes.map((change) => {
      const downloadUrl = change.kind === 'file' ? this.downloadUrl(sessionId, change.path) : undefined;
      return {
        path: change.path,
        size: change.size,
        mimeType: mimeTypeFor(change.path),
        change: change.change,
        kind: change.kind,
        ...(downloadUrl === undefined ? {} : { downloadUrl }),
      };
    });
  }

  private async openInSession(sessionId: string, relativePath: string): Promise<OpenedFile> {
    // Open under the lock, stream after it: the fd keeps the file even if a run starts meanwhile.
    const { handle, stats } = await this.sessions.withLock(sessionId, () =>
      openFileBeneath(this.sessions.filesDir(sessionId), relativePath),
    );
    let stream: Readable;
    if (stats.size === 0) {
      await handle.close();
      stream = Readable.from([]);
    } else {
      // Never more than the size announced (Content-Length), even if the file grows later.
      stream = handle.createReadStream({ start: 0, end: stats.size - 1 });
    }
    return {
      sessionId,
      path: relativePath,
      fileName: baseName(relativePath),
      size: stats.size,
      mimeType: mimeTypeFor(relativePath),
      stream,
    };
  }

  private storedFile(sessionId: string, file: StagedFile): StoredFile {
    return { sessionId, path: file.path, size: file.size, mimeType: mimeTypeFor(file.path) };
  }

  private async sessionIdFor(principal: Principal, sessionId: string | undefined): Promise<string> {
    return (await this.sessions.resolve(principal, sessionId)).meta.id;
  }
}
