/**
 * How a run ended, in the words a caller reads: its status and notice from the run's end, the quota
 * watchdog's breach and what the executor knows about the runner's death (out of memory, why it died).
 */
import type { Settings } from '../config/settings.js';
import type { ExecutionStatus } from '../domain/types.js';
import { formatBytes } from '../files/byte-size.js';
import { joinNotices } from '../notices.js';
import type { ExecutorJob } from './executor.js';
import type { QuotaBreach } from './quota-watchdog.js';
import type { RunEnd } from './runner-streams.js';

type Limits = Settings['limits'];

const KEPT_STATEFUL = 'The session keeps its variables from before this run; files written so far are kept.';
// A one-shot run (no snapshot) has no variables to keep; saying so would mislead the model.
const KEPT_ONE_SHOT = 'Files written so far are kept.';

/** What only the executor knows about how its runner ended. */
export interface EndFacts {
  /** Memory ran out: the sentence for a run that still sent its result, and for one that died of it. null: it did not. */
  readonly oom: { readonly atResult: string; readonly atExit: string } | null;
  /** Why the runner ended without a result (a sentence), for an end of kind 'exited'. */
  readonly died: string;
}

export interface RunVerdict {
  readonly status: ExecutionStatus;
  readonly notice: string | null;
}

export function judgeRun(input: {
  readonly end: RunEnd;
  readonly facts: EndFacts;
  readonly job: Pick<ExecutorJob, 'timeoutMs' | 'signal' | 'stateFile'>;
  readonly stateSaved: boolean;
  readonly signal: AbortSignal;
  readonly breach: QuotaBreach | null;
  /** Of the usage that passed the limit, bytes in files the run had deleted while still holding them open. */
  readonly heldBytes?: number;
  readonly limits: Limits;
}): RunVerdict {
  const { end, facts, job, limits } = input;
  const KEPT = job.stateFile === null ? KEPT_ONE_SHOT : KEPT_STATEFUL;
  switch (end.kind) {
    case 'result':
      if (facts.oom) return { status: 'oom', notice: `${facts.oom.atResult}${input.stateSaved ? '' : ` ${KEPT}`}` };
      return {
        status: end.frame.outcome,
        notice: joinNotices(end.frame.stateError ? `state not saved: ${end.frame.stateError}` : null, ...(end.frame.notices ?? [])),
      };
    case 'timeout':
      return { status: 'timeout', notice: `timed out after ${formatSeconds(job.timeoutMs)} (limit): the run was stopped. ${KEPT}` };
    case 'exited':
      if (facts.oom) return { status: 'oom', notice: `${facts.oom.atExit} ${KEPT}` };
      return { status: 'killed', notice: `${facts.died} ${KEPT}` };
    case 'aborted':
      if (input.breach === 'budget') {
        return {
          status: 'killed',
          notice:
            `the server's disk budget for all sessions (${formatBytes(limits.diskBudgetBytes)}, CODECELL_DISK_BUDGET_MB) ` +
            `has no more room: the run was stopped; delete files you no longer need, or try again later.${heldNote(input.heldBytes)} ${KEPT}`,
        };
      }
      if (input.breach !== null) {
        const quotaMb = Math.round(limits.sessionQuotaBytes / 1024 / 1024);
        return {
          status: 'killed',
          notice:
            `the session's files passed their quota of ${quotaMb} MiB: the run was stopped; delete files to continue ` +
            `(a session holds at most ${quotaMb} MiB and ${limits.sessionMaxFiles} files).${heldNote(input.heldBytes)} ${KEPT}`,
        };
      }
      return {
        status: 'killed',
        notice: `${input.signal.aborted && job.signal?.aborted ? 'cancelled by the caller' : 'stopped because the server is shutting down'}. ${KEPT}`,
      };
    case 'flood':
      return { status: 'killed', notice: `stopped: ${end.what}. ${KEPT}` };
  }
}

/** The run wrote past what the disk budget had left, though within the session's quota. */
export function budgetPassedNotice(limits: Limits): string {
  return (
    `This run wrote past what the server's disk budget for all sessions had left ` +
    `(${formatBytes(limits.diskBudgetBytes)}, CODECELL_DISK_BUDGET_MB): further writes will be stopped; ` +
    'delete files you no longer need.'
  );
}

/** The run's new snapshot was not adopted: with it the session would pass a limit. */
export function snapshotRefusedNotice(limits: Limits, breach: QuotaBreach | null): string {
  const limit =
    breach === 'budget'
      ? `the server's disk budget for all sessions (${formatBytes(limits.diskBudgetBytes)}) has no room for it`
      : `with it the session would pass its quota (${formatBytes(limits.sessionQuotaBytes)} and ` +
        `${limits.sessionMaxFiles} entries for files and saved variables together)`;
  return `Variables not saved: ${limit}. The session keeps its variables from before this run; delete files or large variables you no longer need.`;
}

function formatSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}

/** Says so when files the run deleted while holding them open took part: no listing shows them. */
function heldNote(heldBytes: number | undefined): string {
  if (heldBytes === undefined || heldBytes <= 0) return '';
  return ` ${formatBytes(heldBytes)} of it were files the run had deleted while still holding them open (temporary files): they count until closed.`;
}
