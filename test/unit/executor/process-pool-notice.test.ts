import { describe, expect, it } from 'vitest';
import { PROCESS_POOL_NOTICE, processPoolNotice } from '../../../src/executor/process-pool-notice.js';

// The traceback CPython 3.11 gives for Pool(4) where sem_open is refused (seen on the Space image).
const TRACEBACK = [
  'Traceback (most recent call last):',
  '  File "<cell>", line 3, in <module>',
  '  File "/usr/lib/python3.11/multiprocessing/synchronize.py", line 57, in __init__',
  '    sl = self._semlock = _multiprocessing.SemLock(',
  '                         ^^^^^^^^^^^^^^^^^^^^^^^^^',
].join('\n');

describe('the process-pool notice', () => {
  it('names threads as the way out when a pool is refused its semaphore', () => {
    const notice = processPoolNotice({ error: { name: 'PermissionError', message: '[Errno 13] Permission denied', traceback: TRACEBACK }, stderr: '' });
    expect(notice).toBe(PROCESS_POOL_NOTICE);
    expect(notice).toContain('concurrent.futures.ThreadPoolExecutor');
  });

  it('finds the same failure in stderr (a subprocess that ran Python)', () => {
    expect(processPoolNotice({ error: null, stderr: `${TRACEBACK}\nPermissionError: [Errno 13] Permission denied\n` })).toBe(PROCESS_POOL_NOTICE);
  });

  it('stays silent for another PermissionError, and for a SemLock failure of another kind', () => {
    expect(processPoolNotice({ error: { name: 'PermissionError', message: "[Errno 13] Permission denied: '/etc/shadow'", traceback: 'File "<cell>", line 1' }, stderr: '' })).toBeNull();
    expect(processPoolNotice({ error: { name: 'OSError', message: '[Errno 24] Too many open files', traceback: TRACEBACK }, stderr: '' })).toBeNull();
  });
});
