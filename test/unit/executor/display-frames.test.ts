/** The result frame's displays as the host reads them: bounded, and a malformed list dropped whole. */
import { describe, expect, it } from 'vitest';
import { displaysOf } from '../../../src/engine/result-displays.js';
import { ResultFrameSchema } from '../../../src/executor/runner-protocol.js';

const frame = (displays: unknown) => ({
  type: 'result',
  outcome: 'ok',
  value: null,
  error: null,
  exitCode: 0,
  images: [],
  imagesOmitted: 0,
  notCarried: [],
  stateSaved: true,
  stateError: null,
  loadedModules: [],
  displays,
});

describe('displays in the result frame', () => {
  it('reads tables and HTML and turns them into the engine shape', () => {
    const emoji = '😀'.repeat(1_000); // 1,000 code points as the runner counts, 2,000 UTF-16 units
    const parsed = ResultFrameSchema.parse(
      frame([
        { type: 'table', columns: [emoji], index: null, rows: [[1, 'x', true, null]], total_rows: 1, total_columns: 4, truncated: false },
        { type: 'html', html: '<i>x</i>' },
      ]),
    );
    expect(displaysOf(parsed.displays)).toEqual([
      { type: 'table', columns: [emoji], index: null, rows: [[1, 'x', true, null]], totalRows: 1, totalColumns: 4, truncated: false },
      { type: 'html', html: '<i>x</i>' },
    ]);
  });

  it('drops a malformed or oversized list without failing the frame', () => {
    for (const bad of [
      [{ type: 'table', columns: [], index: null, rows: Array.from({ length: 201 }, () => []), total_rows: 201, total_columns: 0, truncated: true }],
      [{ type: 'html', html: 'x'.repeat(256 * 1024 + 1) }],
      [{ type: 'script', src: 'x' }],
      Array.from({ length: 21 }, () => ({ type: 'html', html: 'x' })),
      'not a list',
    ]) {
      const parsed = ResultFrameSchema.parse(frame(bad));
      expect(parsed.displays).toBeUndefined();
      expect(displaysOf(parsed.displays)).toEqual([]);
    }
  });
});
