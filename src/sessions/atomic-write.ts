import { promises as fs } from 'node:fs';
import path from 'node:path';
import writeFileAtomicWithFsync from 'write-file-atomic';

/**
 * Writes through an fsynced temporary file and a rename (write-file-atomic), so a crash leaves the
 * old content or the new, never half a file, and nothing written is lost once this resolves.
 */
export async function writeFileAtomic(target: string, content: string | Buffer): Promise<void> {
  await writeFileAtomicWithFsync(target, content, { mode: 0o600 });
  // write-file-atomic fsyncs the file, not the folder: without this the rename itself may be lost.
  const folder = await fs.open(path.dirname(target), 'r');
  try {
    await folder.sync();
  } finally {
    await folder.close();
  }
}
