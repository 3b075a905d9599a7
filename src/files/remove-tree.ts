/**
 * Removes a folder and everything in it, at any depth. Sandbox code can make a tree whose paths are
 * longer than PATH_MAX (4096 bytes); Node's fs.rm opens every entry by its full path, fails there
 * with ENAMETOOLONG, and the bytes would stay on disk for good. GNU rm walks with directory fds
 * (fts), at any depth, and unlinks links as links: nothing outside the tree is touched.
 */
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';

/** Removes `target` (an absolute path) and everything under it; nothing to do when it is absent. */
export async function removeTree(target: string): Promise<void> {
  if (!target.startsWith('/')) throw new Error(`removeTree needs an absolute path, not ${JSON.stringify(target)}`);
  if ((await fs.lstat(target).catch(() => null)) === null) return;
  await new Promise<void>((resolve, reject) => {
    const child = spawn('rm', ['-rf', '--one-file-system', '--', target], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderrTail = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderrTail = (stderrTail + chunk).slice(-500);
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`could not remove ${target} (rm: ${signal ?? `exit ${code}`}): ${stderrTail.trim()}`));
    });
  });
}
