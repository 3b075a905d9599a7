/**
 * The verdicts of the attack suite, judged on outcomes that other machines produce: a kernel
 * without 32-bit emulation, seccomp's kill, an error return, and the escape itself.
 */
import { describe, expect, it } from 'vitest';
import { hasLine, judgeCompletion, judgeInt80, signalName } from '../../security/helpers/verdicts.js';

const PID = 57;

describe('judgeInt80', () => {
  it('calls a fault on a kernel without 32-bit emulation (SIGSEGV) a refusal', () => {
    expect(judgeInt80({ returncode: -11, stdout: 'ready\n' })).toEqual({ kind: 'refused', how: 'the child was killed by SIGSEGV at the call' });
  });

  it('calls seccomp’s kill (SIGSYS) a refusal', () => {
    expect(judgeInt80({ returncode: -31, stdout: 'ready\n' })).toEqual({ kind: 'refused', how: 'the child was killed by SIGSYS at the call' });
  });

  it('calls SIGILL a refusal', () => {
    expect(judgeInt80({ returncode: -4, stdout: 'ready\n' })).toMatchObject({ kind: 'refused' });
  });

  it('calls an error return (-ENOSYS, -EPERM) a refusal', () => {
    expect(judgeInt80({ returncode: 0, stdout: `ready\n-38 ${PID}\n` })).toEqual({ kind: 'refused', how: `the call returned -38, not the pid ${PID}` });
    expect(judgeInt80({ returncode: 0, stdout: `ready\n-1 ${PID}\n` })).toMatchObject({ kind: 'refused' });
  });

  it('calls a 32-bit getpid that returned the pid an escape', () => {
    expect(judgeInt80({ returncode: 0, stdout: `ready\n${PID} ${PID}\n` })).toEqual({ kind: 'escaped', how: `the 32-bit getpid returned the pid ${PID}` });
  });

  it('calls it an escape even when the child dies after the call returned the pid', () => {
    expect(judgeInt80({ returncode: -11, stdout: `ready\n${PID} ${PID}\n` })).toMatchObject({ kind: 'escaped' });
    expect(judgeInt80({ returncode: 1, stdout: `ready\n${PID} ${PID}\n` })).toMatchObject({ kind: 'escaped' });
  });

  it('judges nothing when the child never reached the call', () => {
    expect(judgeInt80({ returncode: 1, stdout: '' })).toMatchObject({ kind: 'inconclusive' });
    expect(judgeInt80({ returncode: -9, stdout: '' })).toMatchObject({ kind: 'inconclusive' });
  });

  it('judges nothing when the child exited normally without reporting the call', () => {
    expect(judgeInt80({ returncode: 0, stdout: 'ready\n' })).toMatchObject({ kind: 'inconclusive' });
    expect(judgeInt80({ returncode: 2, stdout: 'ready\nTraceback\n' })).toMatchObject({ kind: 'inconclusive' });
  });
});

describe('signalName', () => {
  it('names the signals by their Linux numbers, and says so for an unknown one', () => {
    expect(signalName(11)).toBe('SIGSEGV');
    expect(signalName(31)).toBe('SIGSYS');
    expect(signalName(4)).toBe('SIGILL');
    expect(signalName(999)).toBe('signal 999');
  });
});

describe('judgeCompletion', () => {
  const finished = (stdout: string) => hasLine(stdout, 'done');

  it('never counts a timed-out probe as complete, whatever it printed before', () => {
    expect(judgeCompletion({ status: 'timeout', stdout: 'nothing found\n' }, finished)).toMatchObject({ complete: false, retry: true });
    expect(judgeCompletion({ status: 'timeout', stdout: '' }, finished)).toMatchObject({ complete: false, retry: true });
  });

  it('calls a probe that ended without its last word incomplete, and not worth more time', () => {
    expect(judgeCompletion({ status: 'killed', stdout: 'half\n' }, finished)).toMatchObject({ complete: false, retry: false });
    expect(judgeCompletion({ status: 'ok', stdout: 'almost done\n' }, finished)).toMatchObject({ complete: false, retry: false });
  });

  it('calls a probe complete once its last word is there', () => {
    expect(judgeCompletion({ status: 'ok', stdout: 'searched\ndone\n' }, finished)).toEqual({ complete: true });
  });
});
