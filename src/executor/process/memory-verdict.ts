/**
 * Without a memory cgroup there is no OOM killer to ask: the limit is an rlimit (RLIMIT_DATA), and a
 * run that hit it shows it by what failed. This reads those signs (pure):
 *   - Python raised MemoryError (the runner's result frame names it);
 *   - V8 stopped with "heap out of memory" (NODE_OPTIONS caps its heap below the rlimit);
 *   - an allocation failed in C ("Cannot allocate memory", std::bad_alloc, bash's xmalloc);
 *   - the process died of SIGABRT/SIGSEGV/SIGBUS/SIGKILL that the host did not send, with one of those on stderr.
 */
import type { ResultFrame } from '../runner-protocol.js';

const MEMORY_TEXT = /MemoryError|heap out of memory|Cannot allocate memory|std::bad_alloc|xmalloc: cannot allocate|out of memory/i;

export interface MemorySigns {
  readonly frame: ResultFrame | null;
  /** The end of the run's stderr. */
  readonly stderrTail: string;
  /** How the runner process ended, when it did not send a result. */
  readonly exit: { readonly code: number | null; readonly signal: NodeJS.Signals | null } | null;
}

export function ranOutOfMemory(signs: MemorySigns): boolean {
  const error = signs.frame?.error ?? null;
  if (error?.name === 'MemoryError') return true;
  if (error !== null && MEMORY_TEXT.test(`${error.message}`) && /ENOMEM|allocate|memory/i.test(error.name + error.message)) return true;
  if (signs.frame === null && signs.exit !== null) return MEMORY_TEXT.test(signs.stderrTail);
  return false;
}
