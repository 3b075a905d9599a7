/**
 * The Space image, built here from what `npm run space` exports, as Hugging Face would build it,
 * with two local stand-ins for what Docker Hub would give (no registry is reachable in CI):
 * - BASE_IMAGE: this branch's Python execution image, which already holds the Debian packages the
 *   Space's system layers install (they are the same lines), so apt finds them installed instead of
 *   spending ~20 minutes. Hugging Face builds on debian:bookworm-slim.
 * - NODE_IMAGE: node:20-bookworm-slim when present, else the local stand-in of scripts/node-image.ts.
 * Used by the Space test tier and by `npm run bench` (the process executor's rows).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { dockerBuild, nodeImage } from '../node-image.js';
import { exportSpace, repositoryRoot } from './export.js';

const PREFIX = process.env.CODECELL_IMAGE_PREFIX ?? 'codecell';
export const SPACE_IMAGE = `${PREFIX}-space:test`;
/** The Node.js the Space's server runs on, inside the image. */
export const SPACE_SERVER_NODE = '/opt/codecell-server/bin/node';

/** Builds (or, through the layer cache, refreshes) the Space image from this tree. */
export async function buildSpaceImage(): Promise<string> {
  const context = await mkdtemp(path.join(os.tmpdir(), 'codecell-space-'));
  try {
    await exportSpace(repositoryRoot(), context);
    await dockerBuild(context, SPACE_IMAGE, { BASE_IMAGE: `${PREFIX}-python:latest`, NODE_IMAGE: await nodeImage() });
  } finally {
    await rm(context, { recursive: true, force: true });
  }
  return SPACE_IMAGE;
}

/** How the Space runs its container: uid 1000, no capabilities, no new privileges, Docker's default seccomp, no socket. */
export const SPACE_RUN_FLAGS = ['--user', '1000:1000', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--network', 'host'] as const;
