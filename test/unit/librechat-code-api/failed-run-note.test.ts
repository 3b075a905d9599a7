/** The stderr note of a failed /exec run that wrote files: which ones, and that none is delivered. */
import { describe, expect, it } from 'vitest';
import { failedRunFilesNote } from '../../../src/interfaces/http/librechat-code-api/exec.js';

describe('failedRunFilesNote', () => {
  it('is absent when the run wrote nothing', () => {
    expect(failedRunFilesNote([], false)).toBeNull();
  });

  it('names up to five files, and says when there were more', () => {
    expect(failedRunFilesNote(['a.txt'], false)).toBe(
      'codecell: the run failed, so the files it wrote (a.txt) are not delivered; fix the error and run again to produce them.',
    );
    expect(failedRunFilesNote(['1', '2', '3', '4', '5', '6'], false)).toContain('(1, 2, 3, 4, 5 and more)');
    expect(failedRunFilesNote(['1'], true)).toContain('(1 and more)');
  });
});
