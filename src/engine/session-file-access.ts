/** SafeFileAccess over a session's files dir: reads go through the no-follow opener only. */
import { openFileBeneath } from '../files/confined-fs.js';
import type { FileService } from '../files/file-service.js';
import type { TreeChange } from '../files/file-tree.js';
import type { SafeFileAccess } from './file-change-reporter.js';
import type { FileChange } from './types.js';

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

  describeChanges(sessionId: string, changes: readonly TreeChange[]): FileChange[] {
    return this.files.describeChanges(sessionId, changes);
  }
}
