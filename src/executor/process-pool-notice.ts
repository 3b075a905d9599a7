/**
 * The process sandbox (process executor) grants no /dev/shm (docs/security.md, "Limits of this design"), so Python's
 * process pools fail creating their first semaphore with a bare PermissionError that reads like a
 * file problem; this tells the model what fails and what works instead (threads).
 */
import type { RunTexts } from './network-notice.js';

/** The frame CPython's multiprocessing raises from when sem_open is refused, and the error it raises. */
const SEMLOCK_FRAME = /_multiprocessing\.SemLock\(/;
const REFUSED = /PermissionError\b/;

export const PROCESS_POOL_NOTICE =
  'Process pools (multiprocessing.Pool, concurrent.futures.ProcessPoolExecutor) cannot run in this sandbox: ' +
  'it has no shared memory for their semaphores (multiprocessing.pool.ThreadPool needs them too). ' +
  'Use threads instead: concurrent.futures.ThreadPoolExecutor, or threading.';

/** The notice for a run whose process pool was refused its semaphore, or null. */
export function processPoolNotice(run: RunTexts): string | null {
  const texts = [...(run.error ? [run.error.name, run.error.message, run.error.traceback] : []), run.stderr];
  const refused = texts.some((text) => SEMLOCK_FRAME.test(text)) && texts.some((text) => REFUSED.test(text));
  return refused ? PROCESS_POOL_NOTICE : null;
}
