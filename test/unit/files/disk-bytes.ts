/**
 * What the file system says entries take, read with lstat (not find): the oracle the usage tests
 * compare files/usage.ts against, so they hold on any file system (block sizes differ; a folder takes
 * 4 KiB on ext4 and nothing on tmpfs). The rule: a folder its allocated blocks, anything else the
 * larger of its size and its allocated blocks. Pass each inode once.
 */
import { lstat } from 'node:fs/promises';

export async function diskBytes(...entries: ReadonlyArray<string | Buffer>): Promise<number> {
  let total = 0;
  for (const entry of entries) {
    const stats = await lstat(entry);
    const allocated = stats.blocks * 512;
    total += stats.isDirectory() ? allocated : Math.max(stats.size, allocated);
  }
  return total;
}
