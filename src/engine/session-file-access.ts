/** SafeFileAccess over a session's files dir: reads go through the no-follow opener only. */
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { errnoOf } from '../errno.js';
import { openFileBeneath, SANDBOX_FILE_MODE } from '../files/confined-fs.js';
import { SANDBOX_GID, SANDBOX_UID } from '../sandbox-user.js';
import type { FileService } from '../files/file-service.js';
import type { TreeChange } from '../files/file-tree.js';
import type { SafeFileAccess } from './file-change-reporter.js';
import type { FileChange } from '../domain/types.js';

export class SessionFileAccess implements SafeFileAccess {
  constructor(private readonly files: FileService) {}

  async readSmallFile(root: string, relativePath: string, maxBytes: number): Promise<Buffer | null> {
    let opened: Awaited<ReturnType<typeof openFileBeneath>>;
    try {
      opened = await openFileBeneath(root, relativePath);
    } catch {
      return null;
    }
    try {
      if (opened.stats.size > maxBytes) return null;
      return await opened.handle.readFile();
    } finally {
      await opened.handle.close();
    }
  }

  writeNewFile(root: string, name: string, bytes: Buffer): Promise<boolean> {
    return writeNewFile(root, name, bytes);
  }

  describeChanges(sessionId: string, changes: readonly TreeChange[]): FileChange[] {
    return this.files.describeChanges(sessionId, changes);
  }
}

/** Creates `name` (one path segment) under `root`; false when something (a link too) is there already. */
export async function writeNewFile(root: string, name: string, bytes: Buffer): Promise<boolean> {
  if (name.includes('/') || name === '.' || name === '..' || name.length === 0) throw new Error(`not one path segment: ${name}`);
  const full = path.join(root, name);
  let handle: fs.FileHandle;
  try {
    // O_EXCL with O_NOFOLLOW: whatever the sandbox left at this name (a link above all) stays untouched.
    handle = await fs.open(full, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, SANDBOX_FILE_MODE);
  } catch (error) {
    if (errnoOf(error) === 'EEXIST' || errnoOf(error) === 'ELOOP') return false;
    throw error;
  }
  try {
    await handle.writeFile(bytes);
    // Through the descriptor, not the path: the sandbox may still be running and swap the name for a link.
    if (process.getuid?.() === 0) await handle.chown(SANDBOX_UID, SANDBOX_GID);
    await handle.chmod(SANDBOX_FILE_MODE);
  } catch (error) {
    await handle.close();
    await fs.unlink(full).catch(() => undefined); // no half-written file left behind (unlink follows nothing)
    throw error;
  }
  await handle.close();
  return true;
}
