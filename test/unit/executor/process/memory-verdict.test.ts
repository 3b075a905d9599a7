/** How the process executor tells a run that hit its memory rlimit (executor/process/memory-verdict.ts). */
import { describe, expect, it } from 'vitest';
import { ranOutOfMemory } from '../../../../src/executor/process/memory-verdict.js';
import type { ResultFrame } from '../../../../src/executor/runner-protocol.js';

function frame(error: ResultFrame['error']): ResultFrame {
  return {
    type: 'result', outcome: error ? 'error' : 'ok', value: null, error, exitCode: error ? 1 : 0, images: [], imagesOmitted: 0,
    notCarried: [], stateSaved: true, stateError: null, loadedModules: [],
  } as ResultFrame;
}

describe('ranOutOfMemory', () => {
  it('reads a Python MemoryError from the result frame', () => {
    expect(ranOutOfMemory({ frame: frame({ name: 'MemoryError', message: '', traceback: '' }), stderrTail: '', exit: null })).toBe(true);
  });

  it('is not fooled by an ordinary error or a clean run that printed the words', () => {
    expect(ranOutOfMemory({ frame: frame({ name: 'ValueError', message: 'bad', traceback: '' }), stderrTail: '', exit: null })).toBe(false);
    expect(ranOutOfMemory({ frame: frame(null), stderrTail: 'JavaScript heap out of memory', exit: null })).toBe(false);
  });

  it('reads a runtime that died of a failed allocation from its stderr', () => {
    const exit = { code: null, signal: 'SIGABRT' as const };
    expect(ranOutOfMemory({ frame: null, stderrTail: 'FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory', exit })).toBe(true);
    expect(ranOutOfMemory({ frame: null, stderrTail: "terminate called after throwing an instance of 'std::bad_alloc'", exit })).toBe(true);
    expect(ranOutOfMemory({ frame: null, stderrTail: 'Segmentation fault', exit: { code: null, signal: 'SIGSEGV' } })).toBe(false);
  });

  it('says nothing of a run the host stopped (no exit of its own)', () => {
    expect(ranOutOfMemory({ frame: null, stderrTail: 'Cannot allocate memory', exit: null })).toBe(false);
  });
});
