/** What Docker itself says about the containers a test server made (checked, not assumed). */
import { createHash } from 'node:crypto';
import Docker from 'dockerode';
import type { ContainerInspectInfo } from 'dockerode';
import { CONTAINER_LABEL, INSTANCE_LABEL } from '../../../src/executor/docker/container-spec.js';
import type { TestServer } from '../../interfaces/helpers/test-server.js';

export const docker = new Docker();

/** The label value the executor puts on its containers (docker-executor.ts: a hash of the data dir). */
export function instanceIdOf(server: TestServer): string {
  return createHash('sha256').update(server.settings.dataDir).digest('hex').slice(0, 16);
}

/** Every container (running or not) the server has right now. */
export async function containersOf(server: TestServer): Promise<ContainerInspectInfo[]> {
  const listed = await docker.listContainers({
    all: true,
    filters: { label: [`${CONTAINER_LABEL}=true`, `${INSTANCE_LABEL}=${instanceIdOf(server)}`] },
  });
  const inspected = await Promise.all(
    listed.map((info) => docker.getContainer(info.Id).inspect().catch(() => null)),
  );
  return inspected.filter((info): info is ContainerInspectInfo => info !== null);
}

/** Polls until `predicate` holds (or gives up after `attempts` tries, 100 ms apart); returns the last value. */
export async function eventually<T>(read: () => Promise<T>, predicate: (value: T) => boolean, attempts = 100): Promise<T> {
  let value = await read();
  for (let attempt = 1; attempt < attempts && !predicate(value); attempt += 1) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    value = await read();
  }
  return value;
}
