/**
 * Removing a container that is already gone (a Stop, a cancel or shutdown removed it first) is
 * success, not a warning: the 404 Docker answers is told apart from real failures (a 409 here).
 */
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { isNotFound } from '../../src/executor/docker/docker-errors.js';

const IMAGE = `${process.env.CODECELL_IMAGE_PREFIX ?? 'codecell'}-bash:latest`;

describe('Docker 404 on container removal', () => {
  const docker = new Docker();
  const made: Docker.Container[] = [];

  afterAll(async () => {
    await Promise.all(made.map((c) => c.remove({ force: true }).catch(() => undefined)));
  });

  async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
    return promise.then(
      () => expect.unreachable('Docker accepted the call'),
      (error: unknown) => error,
    );
  }

  it('a container removed twice answers 404 the second time, which isNotFound recognises', async () => {
    const container = await docker.createContainer({ Image: IMAGE, Entrypoint: ['true'], NetworkDisabled: true });
    made.push(container);
    await container.remove({ force: true });
    const error = await rejectionOf(container.remove({ force: true }));
    expect((error as { statusCode?: number }).statusCode).toBe(404);
    expect(isNotFound(error)).toBe(true);
  });

  it('a real failure (removing a running container without force: 409) is not taken for "gone"', async () => {
    const container = await docker.createContainer({ Image: IMAGE, Entrypoint: ['sleep', '60'], NetworkDisabled: true });
    made.push(container);
    await container.start();
    const error = await rejectionOf(container.remove());
    expect((error as { statusCode?: number }).statusCode).toBe(409);
    expect(isNotFound(error)).toBe(false);
    expect(isNotFound(new Error('socket hang up'))).toBe(false);
  });
});
