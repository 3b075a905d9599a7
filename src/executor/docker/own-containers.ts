/**
 * Removing every container of one Codecell instance (its data dir's label), at start-up (a crashed
 * predecessor's) and at shutdown (its own). An engine under load can fail a removal (a kill that got
 * no exit event in time) or answer 409 for one it is already removing: the list is read again until
 * it is empty, within a bound, so a shutdown that returns has left nothing behind, or says so.
 */
import type Docker from 'dockerode';
import type { Logger } from '../../logger.js';
import { isNotFound } from './docker-errors.js';

/** How long start-up and shutdown keep trying before they log what is left and go on. */
export const OWN_CONTAINERS_REMOVAL_TIMEOUT_MS = 30_000;
/** Pause between two passes, doubled each pass up to 2 s: the engine was busy. */
const FIRST_RETRY_DELAY_MS = 100;
const MAX_RETRY_DELAY_MS = 2_000;

export interface OwnContainersOptions {
  readonly docker: Docker;
  /** `name=value` labels a container must all carry. */
  readonly labels: readonly string[];
  readonly logger: Logger;
  readonly timeoutMs?: number;
}

/** Removes them all; resolves with the ids still listed when the bound ran out (empty: none left). */
export async function removeOwnContainers(options: OwnContainersOptions): Promise<string[]> {
  const { docker, labels, logger } = options;
  const deadline = Date.now() + (options.timeoutMs ?? OWN_CONTAINERS_REMOVAL_TIMEOUT_MS);
  const remaining = (): number => Math.max(1, deadline - Date.now());
  let delay = FIRST_RETRY_DELAY_MS;
  for (let pass = 0; ; pass += 1) {
    const listed = await docker.listContainers({ all: true, filters: { label: [...labels] } });
    if (listed.length === 0) return [];
    if (pass > 0 && Date.now() >= deadline) {
      const left = listed.map((info) => info.Id);
      logger.error({ containers: left }, 'could not remove these containers in time; remove them with docker rm -f');
      return left;
    }
    if (pass > 0) {
      logger.warn({ containers: listed.length, pass }, 'containers still listed after removal; trying again');
      await new Promise((resolve) => setTimeout(resolve, Math.min(delay, remaining())));
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
    if (isNotFound(error)) return;
    if (!isConflict(error)) return; // listed again by the caller, and tried again
  }
  await container.wait({ condition: 'removed', abortSignal: AbortSignal.timeout(timeoutMs) }).catch(() => undefined);
}

/** 409: the engine is busy with this container (its removal is already in progress). */
function isConflict(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'statusCode' in error && error.statusCode === 409;
}
