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

const NO_STDOUT = { text: '', truncatedChars: 0 };

describe('displays in the result frame', () => {
  it('reads tables and HTML and turns them into the engine shape', () => {
    const emoji = '😀'.repeat(1_000); // 1,000 code points as the runner counts, 2,000 UTF-16 units
    const parsed = ResultFrameSchema.parse(
      frame([
        { type: 'table', columns: [emoji], index: null, rows: [[1, 'x', true, null]], total_rows: 1, total_columns: 4, truncated: false },
        { type: 'html', html: '<i>x</i>' },
      ]),
    );
    expect(displaysOf(parsed.displays, NO_STDOUT)).toEqual([
      {
        type: 'table',
        columns: [emoji],
        index: null,
        indexNames: null,
        columnNames: null,
        rows: [[1, 'x', true, null]],
        totalRows: 1,
        totalColumns: 4,
        truncated: false,
        stdoutSpan: null,
      },
      { type: 'html', html: '<i>x</i>', stdoutSpan: null },
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
      expect(displaysOf(parsed.displays, NO_STDOUT)).toEqual([]);
    }
  });
});

describe('stdout spans of displays', () => {
  const table = (stdoutText?: string) => ({
    type: 'table',
    columns: ['v'],
    index: null,
    rows: [[1]],
    total_rows: 1,
    total_columns: 1,
    truncated: false,
    ...(stdoutText === undefined ? {} : { stdout_text: stdoutText }),
  });
  const spansOf = (displays: unknown[], stdout: { text: string; truncatedChars: number }) =>
    displaysOf(ResultFrameSchema.parse(frame(displays)).displays, stdout).map((display) => display.stdoutSpan);

  it('finds each display text in order, in UTF-16 units, past text printed by others in between', () => {
    // 😀 is one code point for Python, two units for JavaScript: the span is in the latter.
    const first = '   v\n0  😀\n';
    const second = '   v\n0  2\n';
    const stdout = `héllo 😀😀\n${first}sub\n${second}${second}end\n`;
    const spans = spansOf([table(first), table(second), table(second), table()], { text: stdout, truncatedChars: 0 });
    expect(spans).toEqual([
      [11, 11 + first.length],
      [11 + first.length + 4, 11 + first.length + 4 + second.length],
      [11 + first.length + 4 + second.length, 11 + first.length + 4 + 2 * second.length],
      null,
    ]);
    for (const [i, text] of [first, second, second].entries()) {
      const span = spans[i]!;
      expect(stdout.slice(span[0], span[1])).toBe(text);
    }
  });

  it('gives no span when stdout was cut or the text is not there', () => {
    expect(spansOf([table('x\n')], { text: 'x\n', truncatedChars: 5 })).toEqual([null]);
    expect(spansOf([table('x\n'), { type: 'html', html: '<b>', stdout_text: 'y\n' }], { text: 'y\n', truncatedChars: 0 })).toEqual([null, [0, 2]]);
  });
});
