/**
 * Test helper: a chain of folders whose path is longer than PATH_MAX (4096 bytes), as code in the
 * sandbox can make one. Node opens only by path, so each level is made relative to the open
 * descriptor of the one above (through /proc/self/fd), never by its full path.
 */
import { constants, promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';

const NAME = 'd'.repeat(200);

export interface DeepFolder {
  /** An open descriptor of the deepest folder: write into it through /proc/self/fd/<fd>/. */
  readonly fd: number;
  /** Bytes in the deepest folder's full path. */
  readonly pathBytes: number;
  close(): Promise<void>;
}

/** Makes folders under `root` until the deepest path is longer than `minPathBytes`. */
export async function deepFolder(root: string, minPathBytes: number): Promise<DeepFolder> {
  let handle: FileHandle = await fs.open(root, constants.O_RDONLY | constants.O_DIRECTORY);
  let pathBytes = Buffer.byteLength(root);
  while (pathBytes <= minPathBytes) {
    const child = `/proc/self/fd/${handle.fd}/${NAME}`;
    await fs.mkdir(child);
    const next = await fs.open(child, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
    await handle.close();
    handle = next;
    pathBytes += NAME.length + 1;
  }
  const last = handle;
  return { fd: last.fd, pathBytes, close: () => last.close() };
}
