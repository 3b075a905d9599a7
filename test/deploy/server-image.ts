/**
 * The Codecell server image, built from the repository's own Dockerfile as `docker compose build`
 * would, on the Node 20 image of scripts/node-image.ts. Named after CODECELL_IMAGE_PREFIX, so that
 * checkouts sharing one engine do not build over each other's.
 */
import path from 'node:path';
import { dockerBuild, nodeImage } from '../../scripts/node-image.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
export const SERVER_IMAGE = `${process.env.CODECELL_IMAGE_PREFIX ?? 'codecell'}-server:test`;
export { nodeImage };

/** Builds (or, through the layer cache, refreshes) the server image from the root Dockerfile. */
export async function buildServerImage(): Promise<string> {
  await dockerBuild(ROOT, SERVER_IMAGE, { NODE_IMAGE: await nodeImage() });
  return SERVER_IMAGE;
}
