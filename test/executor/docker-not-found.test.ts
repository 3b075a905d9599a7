/**
 * Removing a container that is already gone (a Stop, a cancel or shutdown removed it first) is
 * success, not a warning: the 404 Docker answers is told apart from real failures (a 409 here).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import Docker from 'dockerode';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../src/config/settings.js';
import { dockerClient } from '../../src/executor/docker/docker-client.js';
import { isNotFound } from '../../src/executor/docker/docker-errors.js';
import { RunnerContainer } from '../../src/executor/docker/runner-container.js';
import { TEST_EXECUTOR, TEST_IMAGES } from '../helpers/engine.js';

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

describe('RunnerContainer.dispose of a container already gone', () => {
  it('resolves quietly: no "container removal failed" warning for the 404', async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-gone-'));
    const settings = loadSettings({}, { LOG_LEVEL: 'info', ...TEST_IMAGES, ...TEST_EXECUTOR, CODECELL_DATA_DIR: dataDir });
    const lines: { level: number; msg: string }[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) lines.push(JSON.parse(line) as { level: number; msg: string });
        done();
      },
    });
    const docker = dockerClient(settings.docker.endpoint);
    try {
      const runner = await RunnerContainer.start({
        docker,
        settings,
        instanceId: 'gone-test',
        slotsRoot: path.join(dataDir, 'slots'),
        pool: 'bash',
        logger: pino({ level: 'info' }, sink),
      });
      // Someone else (a Stop, shutdown's sweep) removes it first.
      await docker.getContainer(runner.container.id).remove({ force: true });
      await runner.dispose();
      await expect(runner.container.inspect()).rejects.toMatchObject({ statusCode: 404 });
      expect(lines.filter((line) => line.level >= 40).map((line) => line.msg)).toEqual([]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
