/**
 * The Space image, built here from what `npm run space` exports, as Hugging Face would build it,
 * with two local stand-ins for what Docker Hub would give (no registry is reachable in CI):
 * - BASE_IMAGE: this branch's Python execution image, which already holds the Debian packages the
 *   Space's system layers install (they are the same lines), so apt finds them installed instead of
 *   spending ~20 minutes. Hugging Face builds on debian:bookworm-slim.
 * - NODE_IMAGE: node:20-bookworm-slim when present, else the local stand-in of test/deploy.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { exportSpace } from '../../scripts/space/export.js';
import { nodeImage } from '../deploy/server-image.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const PREFIX = process.env.CODECELL_IMAGE_PREFIX ?? 'codecell';
export const SPACE_IMAGE = `${PREFIX}-space:test`;

export async function buildSpaceImage(): Promise<string> {
  const context = await mkdtemp(path.join(os.tmpdir(), 'codecell-space-'));
  try {
    await exportSpace(ROOT, context);
    const args = ['build', '--network', 'host', '--force-rm', '--tag', SPACE_IMAGE,
      '--build-arg', `BASE_IMAGE=${PREFIX}-python:latest`, '--build-arg', `NODE_IMAGE=${await nodeImage()}`, context];
    try {
      await run('docker', args, { maxBuffer: 64 * 1024 * 1024 });
    } catch (error) {
      const output = error as { stdout?: string; stderr?: string };
      throw new Error(`building ${SPACE_IMAGE} failed:\n${(output.stdout ?? '').slice(-4000)}\n${(output.stderr ?? '').slice(-4000)}`);
    }
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  return SPACE_IMAGE;
}

/** How the Space runs its container: uid 1000, no capabilities, no new privileges, Docker's default seccomp, no socket. */
export const SPACE_RUN_FLAGS = ['--user', '1000:1000', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--network', 'host'] as const;
