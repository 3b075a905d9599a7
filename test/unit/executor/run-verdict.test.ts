/** The shared verdict of a run (run-verdict.ts): status and notice from the run's end and what the executor knows. */
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';
import { judgeRun, snapshotRefusedNotice, type EndFacts } from '../../../src/executor/run-verdict.js';
import type { ResultFrame } from '../../../src/executor/runner-protocol.js';

const { limits } = loadSettings({}, { CODECELL_DATA_DIR: '/tmp/codecell-run-verdict-test', CODECELL_SESSION_QUOTA_MB: '40', CODECELL_SESSION_MAX_FILES: '1000' });
const FINE: EndFacts = { oom: null, died: 'the interpreter died without finishing (exit code 3).' };
const OOM: EndFacts = { oom: { atResult: 'out of memory: a process was killed.', atExit: 'out of memory: the run was killed.' }, died: 'unused.' };
const job = { timeoutMs: 1500, stateFile: '/data/sessions/s/state/python' as string | null };

function frame(overrides: Partial<ResultFrame> = {}): ResultFrame {
  return {
    type: 'result', outcome: 'ok', value: null, error: null, exitCode: 0, images: [], imagesOmitted: 0,
    notCarried: [], stateSaved: true, stateError: null, loadedModules: [], ...overrides,
  };
}

function judge(end: Parameters<typeof judgeRun>[0]['end'], facts: EndFacts, extra: { stateSaved?: boolean; breach?: 'quota' | 'budget' | null; heldBytes?: number; callerAborted?: boolean; oneShot?: boolean } = {}) {
  const caller = new AbortController();
  if (extra.callerAborted) caller.abort();
  return judgeRun({ end, facts, job: { ...job, ...(extra.oneShot ? { stateFile: null } : {}), signal: caller.signal }, stateSaved: extra.stateSaved ?? true, signal: caller.signal, breach: extra.breach ?? null, ...(extra.heldBytes === undefined ? {} : { heldBytes: extra.heldBytes }), limits });
}

describe('judgeRun', () => {
  it('takes the status and notices of a result frame, with a state error first', () => {
    expect(judge({ kind: 'result', frame: frame({ outcome: 'error', stateError: 'x is a socket', notices: ['pip is not here'] }) }, FINE)).toEqual({
      status: 'error',
      notice: 'state not saved: x is a socket pip is not here',
    });
  });

  it('says out of memory with the executor’s sentence, and that the old variables stay only when none were saved', () => {
    expect(judge({ kind: 'result', frame: frame() }, OOM, { stateSaved: true })).toEqual({ status: 'oom', notice: 'out of memory: a process was killed.' });
    expect(judge({ kind: 'result', frame: frame() }, OOM, { stateSaved: false }).notice).toMatch(/^out of memory: a process was killed\. The session keeps its variables/);
    expect(judge({ kind: 'exited' }, OOM)).toMatchObject({ status: 'oom', notice: expect.stringMatching(/^out of memory: the run was killed\. The session keeps/) });
  });

  it('reports a death, a timeout in seconds, a flood and who stopped the run', () => {
    expect(judge({ kind: 'exited' }, FINE).notice).toMatch(/^the interpreter died without finishing \(exit code 3\)\. The session/);
    expect(judge({ kind: 'timeout' }, FINE)).toMatchObject({ status: 'timeout', notice: expect.stringMatching(/^timed out after 1\.5 s \(limit\)/) });
    expect(judge({ kind: 'flood', what: 'output over 64 MiB' }, FINE).notice).toMatch(/^stopped: output over 64 MiB\./);
    expect(judge({ kind: 'aborted' }, FINE, { callerAborted: true }).notice).toMatch(/^cancelled by the caller\./);
    expect(judge({ kind: 'aborted' }, FINE).notice).toMatch(/^stopped because the server is shutting down\./);
  });

  it('names the quota or the disk budget when the watchdog stopped the run', () => {
    expect(judge({ kind: 'aborted' }, FINE, { breach: 'quota' }).notice).toMatch(/quota of 40 MiB.*at most 40 MiB and 1000 files/);
    expect(judge({ kind: 'aborted' }, FINE, { breach: 'budget' }).notice).toMatch(/^the server's disk budget for all sessions/);
    expect(judge({ kind: 'aborted' }, FINE, { breach: 'quota' }).notice).not.toMatch(/deleted/);
  });

  it('says how much of it were deleted files the run still held open, which no listing shows', () => {
    const notice = judge({ kind: 'aborted' }, FINE, { breach: 'quota', heldBytes: 3 * 1024 * 1024 }).notice;
    expect(notice).toMatch(/1000 files\)\. 3 MiB of it were files the run had deleted while still holding them open \(temporary files\): they count until closed\./);
  });
});

describe('snapshotRefusedNotice', () => {
  it('says which limit the new variables would pass', () => {
    expect(snapshotRefusedNotice(limits, 'quota')).toMatch(/^Variables not saved: with it the session would pass its quota \(40 MiB and 1000 entries/);
    expect(snapshotRefusedNotice(limits, 'budget')).toMatch(/^Variables not saved: the server's disk budget/);
  });
  it('tells a one-shot run (no snapshot) that its files are kept, not variables', () => {
    const facts: EndFacts = { oom: null, died: 'the interpreter died without finishing (exit code 137).' };
    const stateful = judge({ kind: 'timeout' }, facts);
    const oneShot = judge({ kind: 'timeout' }, facts, { oneShot: true });
    expect(stateful.notice).toContain('keeps its variables');
    expect(oneShot.notice).toMatch(/Files written so far are kept\.$/);
    expect(oneShot.notice).not.toContain('variables');
  });
});
