/**
 * Removing every container of one Codecell instance (its data dir's label), at start-up (a crashed
 * predecessor's) and at shutdown (its own). An engine under load can fail a removal (a kill that got
 * no exit event in time) or answer 409 for one it is already removing: the list is read again until
 * it is empty, within a bound, so a shutdown that returns has left nothing behind, or says so.
 */
import { setTimeout as delayFor } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { Logger } from '../../logger.js';
import { isConflict } from './docker-errors.js';

/** How long start-up and shutdown keep trying before they log what is left and go on. */
const REMOVAL_TIMEOUT_MS = 30_000;
/** Pause between two passes, doubled each pass up to 2 s: the engine was busy. */
const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 2_000;

export interface OwnContainersOptions {
  readonly docker: Docker;
  /** `name=value` labels a container must all carry. */
  readonly labels: readonly string[];
  readonly logger: Logger;
}

/** Removes them all; logs the ids still listed when the bound ran out. */
export async function removeOwnContainers(options: OwnContainersOptions): Promise<void> {
  const { docker, labels, logger } = options;
  const deadline = Date.now() + REMOVAL_TIMEOUT_MS;
  const remaining = (): number => Math.max(1, deadline - Date.now());
  let delay = FIRST_RETRY_DELAY_MS;
  for (let pass = 0; ; pass += 1) {
    const listed = await docker.listContainers({ all: true, filters: { label: [...labels] } });
    if (listed.length === 0) return;
    if (pass > 0 && Date.now() >= deadline) {
      const left = listed.map((info) => info.Id);
      logger.error({ containers: left }, 'could not remove these containers in time; remove them with docker rm -f');
      return;
    }
    if (pass > 0) {
      logger.warn({ containers: listed.length, pass }, 'containers still listed after removal; trying again');
      await delayFor(Math.min(delay, remaining()));
      delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS);
    }
    await Promise.all(listed.map((info) => removeOne(docker.getContainer(info.Id), remaining())));
  }
}

/** Force-removes one container; when the engine is already removing it, waits until it is gone. */
async function removeOne(container: Docker.Container, timeoutMs: number): Promise<void> {
  try {
    await container.remove({ force: true });
    return;
  } catch (error) {
    // Gone already (404), or failed: the caller lists again and retries. Only 409 means "being removed".
    if (!isConflict(error)) return;
  }
  await container.wait({ condition: 'removed', abortSignal: AbortSignal.timeout(timeoutMs) }).catch(() => undefined);
}
