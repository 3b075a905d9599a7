/** The result frame's optional `notices` (images/PROTOCOL.md): taken when well-formed, ignored when not. No Docker. */
import { describe, expect, it } from 'vitest';
import { ResultFrameSchema } from '../../../src/executor/runner-protocol.js';

const frame = {
  type: 'result',
  outcome: 'error',
  value: null,
  error: { name: 'ModuleNotFoundError', message: "No module named 'x'", traceback: '' },
  exitCode: 1,
  images: [],
  imagesOmitted: 0,
  notCarried: [],
  stateSaved: true,
  stateError: null,
  loadedModules: [],
};

describe('result frame notices', () => {
  it('carries the runner\'s sentences, and frames without them (older runners) stay valid', () => {
    expect(ResultFrameSchema.parse({ ...frame, notices: ['pip is not available here.'] }).notices).toEqual([
      'pip is not available here.',
    ]);
    expect(ResultFrameSchema.parse(frame).notices).toBeUndefined();
  });

  it('ignores a malformed or oversized list instead of refusing the frame', () => {
    expect(ResultFrameSchema.parse({ ...frame, notices: 'not a list' }).notices).toBeUndefined();
    expect(ResultFrameSchema.parse({ ...frame, notices: ['x'.repeat(2_001)] }).notices).toBeUndefined();
    expect(ResultFrameSchema.parse({ ...frame, notices: Array.from({ length: 11 }, () => 'n') }).notices).toBeUndefined();
    expect(ResultFrameSchema.parse({ ...frame, notices: [1, 2] }).outcome).toBe('error');
  });
});
