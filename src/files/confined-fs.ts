/**
 * File system access beneath a session's files dir, which sandbox code has written: any entry may
 * be a symlink (to /etc/shadow, to another session), a hardlink, a fifo. The host runs as root, so
 * it must never follow a link made there. Every path is walked component by component with lstat,
 * links anywhere are refused, and files are opened with O_NOFOLLOW and re-checked on the fd.
 *
 * Callers hold the session lock: no container runs against the dir meanwhile, so nothing can swap
 * an entry between the checks here and the use (the fd checks are a second line all the same).
 */
import { constants, promises as fs, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { errnoOf } from '../errno.js';
import { CodecellError } from '../errors.js';
import { SANDBOX_GID, SANDBOX_UID } from '../sandbox-user.js';
import { ancestorsOf } from './safe-path.js';

export const SANDBOX_FILE_MODE = 0o644;
export const SANDBOX_DIR_MODE = 0o755;

// O_NONBLOCK: opening a fifo for reading would otherwise wait forever for a writer.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

/**
 * lstat of `relativePath` (already checked by parseRelativePath) under `root`. Null when it does not
 * exist. Throws when a folder on the way is a symlink; a path through a regular file is "absent".
 */
export async function lstatBeneath(root: string, relativePath: string): Promise<Stats | null> {
  for (const ancestor of ancestorsOf(relativePath)) {
    const stats = await lstatOrNull(path.join(root, ancestor));
    if (stats === null) return null;
    if (stats.isSymbolicLink()) throw linkInPath(relativePath, ancestor);
    if (!stats.isDirectory()) return null;
  }
  return lstatOrNull(path.join(root, relativePath));
}

/**
 * Opens a regular, singly linked file for reading. Throws FILE_NOT_FOUND when absent and
 * INVALID_INPUT for links, folders and special files.
 */
export async function openFileBeneath(root: string, relativePath: string): Promise<{ handle: FileHandle; stats: Stats }> {
  const seen = await lstatBeneath(root, relativePath);
  if (seen === null) throw fileNotFound(relativePath);
  refuseUnservable(relativePath, seen);
  let handle: FileHandle;
  try {
    handle = await fs.open(path.join(root, relativePath), OPEN_FLAGS);
  } catch (error) {
    if (errnoOf(error) === 'ELOOP') throw linkRefused(relativePath); // became a symlink after the lstat
    if (errnoOf(error) === 'ENOENT') throw fileNotFound(relativePath);
    throw error;
  }
  try {
    const stats = await handle.stat();
    refuseUnservable(relativePath, stats);
    if (stats.dev !== seen.dev || stats.ino !== seen.ino) {
      throw new CodecellError('INVALID_INPUT', `'${relativePath}' changed while it was being opened; try again`);
    }
    return { handle, stats };
  } catch (error) {
    await handle.close();
    throw error;
  }
}

/**
 * Checks that `relativePath` can be written: every existing folder on the way is a real folder
 * (not a link, not a file) and the path itself is not a folder. Returns what is there now, or null.
 * Changes nothing, so an upload of several files can check them all before moving any.
 */
export async function inspectWriteTarget(root: string, relativePath: string): Promise<Stats | null> {
  for (const ancestor of ancestorsOf(relativePath)) {
    const stats = await lstatOrNull(path.join(root, ancestor));
    if (stats === null) return null; // the rest is made by makeDirsBeneath
    if (stats.isSymbolicLink()) throw linkInPath(relativePath, ancestor);
    if (!stats.isDirectory()) throw notAFolder(relativePath, ancestor);
  }
  const existing = await lstatOrNull(path.join(root, relativePath));
  if (existing?.isDirectory()) {
    throw new CodecellError('INVALID_INPUT', `'${relativePath}' is a folder; choose another name or delete the folder first`);
  }
  return existing;
}

/** Makes the folder `relativeDir` ('' for root) one component at a time, owned by the sandbox user. */
export async function makeDirsBeneath(root: string, relativeDir: string): Promise<void> {
  if (relativeDir === '') return;
  for (const dir of [...ancestorsOf(relativeDir), relativeDir]) {
    const full = path.join(root, dir);
    try {
      await fs.mkdir(full, { mode: SANDBOX_DIR_MODE });
    } catch (error) {
      if (errnoOf(error) !== 'EEXIST') throw error;
      const stats = await fs.lstat(full);
      if (stats.isSymbolicLink()) throw linkInPath(relativeDir, dir);
      if (!stats.isDirectory()) throw notAFolder(relativeDir, dir);
      continue;
    }
    await giveToSandbox(full, SANDBOX_DIR_MODE);
  }
}

/**
 * Hands a host-written entry to the sandbox user. Only root may chown; a Codecell running as an
 * ordinary user (local development) writes as itself and the mode alone has to do.
 */
export async function giveToSandbox(fullPath: string, mode: number): Promise<void> {
  if (process.getuid?.() === 0) await fs.lchown(fullPath, SANDBOX_UID, SANDBOX_GID);
  await fs.chmod(fullPath, mode); // explicit: mkdir/open modes are cut by the umask
}

export function fileNotFound(relativePath: string): CodecellError {
  return new CodecellError('FILE_NOT_FOUND', `no file '${relativePath}' in this session's /mnt/data`);
}

function refuseUnservable(relativePath: string, stats: Stats): void {
  if (stats.isSymbolicLink()) throw linkRefused(relativePath);
  if (stats.isDirectory()) throw new CodecellError('INVALID_INPUT', `'${relativePath}' is a folder, not a file`);
  if (!stats.isFile()) {
    throw new CodecellError('INVALID_INPUT', `'${relativePath}' is not a regular file (a fifo, socket or device); it cannot be read`);
  }
  if (stats.nlink !== 1) {
    throw new CodecellError(
      'INVALID_INPUT',
      `'${relativePath}' is a hard link (the file has ${stats.nlink} names); links made in the sandbox are never served. ` +
        `Make a real copy in code (e.g. cp '${relativePath}' copy) and fetch the copy.`,
    );
  }
}

function linkRefused(relativePath: string): CodecellError {
  return new CodecellError(
    'INVALID_INPUT',
    `'${relativePath}' is a symbolic link; links made in the sandbox are listed but never read or served. ` +
      `Make a real copy in code (e.g. cp -L '${relativePath}' copy) and fetch the copy.`,
  );
}

function linkInPath(relativePath: string, ancestor: string): CodecellError {
  return new CodecellError(
    'INVALID_INPUT',
    `'${ancestor}' (on the way to '${relativePath}') is a symbolic link; paths through links are refused`,
  );
}

function notAFolder(relativePath: string, ancestor: string): CodecellError {
  return new CodecellError('INVALID_INPUT', `'${ancestor}' (on the way to '${relativePath}') is a file, not a folder`);
}

async function lstatOrNull(fullPath: string): Promise<Stats | null> {
  try {
    return await fs.lstat(fullPath);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}
