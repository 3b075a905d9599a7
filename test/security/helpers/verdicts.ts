/**
 * Verdicts on what an attack probe reported: pure functions, so that the judgement itself is
 * unit-tested (test/unit/security/) with outcomes this machine cannot produce, such as a kernel
 * without 32-bit emulation.
 *
 * A verdict is one of three: the attack was refused (for whatever reason), it worked (an escape),
 * or the probe says nothing either way (inconclusive: it ran out of time, or broke before the attack).
 * Only "refused" may let a test pass.
 */
import { constants } from 'node:os';

export type Verdict =
  | { readonly kind: 'refused'; readonly how: string }
  | { readonly kind: 'escaped'; readonly how: string }
  | { readonly kind: 'inconclusive'; readonly why: string };

/** The name of signal `number` ("SIGSEGV"), or "signal N" for one this platform does not name. */
export function signalName(number: number): string {
  const named = Object.entries(constants.signals).find(([, value]) => value === number);
  return named ? named[0] : `signal ${number}`;
}

/** What became of a child process that tried a 32-bit getpid through `int 0x80`. */
export interface Int80Outcome {
  /** The child's exit as Python's subprocess reports it: an exit code, or minus the killing signal. */
  readonly returncode: number;
  /**
   * What the child printed: `ready` just before the call (flushed), then, if the call returned,
   * the call's return value and the child's real pid on one line.
   */
  readonly stdout: string;
}

/**
 * The 32-bit getpid is an escape exactly when it returned the child's pid: the 32-bit entry then
 * reaches the kernel's system calls. Every other way it ends is a refusal: killed by seccomp
 * (SIGSYS), a fault because the kernel has no 32-bit emulation (SIGSEGV, as on AMD SEV and TDX
 * guests), SIGILL, or an error return (-ENOSYS, -EPERM). A child that never got to the call
 * proves nothing.
 */
export function judgeInt80(outcome: Int80Outcome): Verdict {
  const lines = outcome.stdout.split('\n').map((line) => line.trim()).filter((line) => line.length > 0);
  const readyAt = lines.indexOf('ready');
  const answer = readyAt === -1 ? undefined : lines[readyAt + 1];
  const numbers = answer?.split(/\s+/).map(Number) ?? [];
  const [result, pid] = numbers;
  const answered = numbers.length === 2 && numbers.every(Number.isInteger);

  if (answered && result === pid) return { kind: 'escaped', how: `the 32-bit getpid returned the pid ${pid}` };
  if (readyAt === -1) {
    return { kind: 'inconclusive', why: `the child ended (returncode ${outcome.returncode}) before it tried the call: ${JSON.stringify(outcome.stdout)}` };
  }
  if (outcome.returncode < 0) return { kind: 'refused', how: `the child was killed by ${signalName(-outcome.returncode)} at the call` };
  if (answered) return { kind: 'refused', how: `the call returned ${result}, not the pid ${pid}` };
  return { kind: 'inconclusive', why: `the child exited with ${outcome.returncode} after the call without reporting it: ${JSON.stringify(outcome.stdout)}` };
}

/** A run as far as the completion verdict needs it (the structured tool result's fields). */
export interface FinishedRun {
  readonly status: string;
  readonly stdout: string;
}

/**
 * Whether a probe ran to its end, the only case in which its report can be judged. `finished`
 * says whether the output holds the probe's last word (a final marker line, a JSON report).
 * A run cut by its time limit is inconclusive, whatever it printed before: "nothing found so far"
 * is not "nothing there". `retry` says whether more time could change that.
 */
export function judgeCompletion(run: FinishedRun, finished: (stdout: string) => boolean): { complete: true } | { complete: false; retry: boolean; why: string } {
  if (run.status === 'timeout') return { complete: false, retry: true, why: 'the probe ran out of time before its end' };
  if (!finished(run.stdout)) return { complete: false, retry: false, why: `the probe ended (status ${run.status}) without its last word` };
  return { complete: true };
}

/** True when `stdout` has `marker` as one of its lines. */
export function hasLine(stdout: string, marker: string): boolean {
  return stdout.split('\n').includes(marker);
}
