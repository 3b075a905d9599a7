/**
 * Rich displays (tables and HTML) from real Python runs through the engine: their exact shape, the
 * caps of the runner, and that the text a model reads stays as it was.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '60' });
});

afterAll(async () => {
  await t?.close();
});

async function runPython(code: string, sessionId?: string): Promise<ExecutionResult> {
  const session = sessionId ?? (await t.engine.createSession(t.principal)).id;
  return t.engine.execute({ principal: t.principal, sessionId: session, language: 'python', code });
}

describe('rich displays through the engine', () => {
  it('turns a trailing DataFrame into a table display and keeps its text as the value', async () => {
    const result = await runPython(
      [
        'import pandas as pd',
        'df = pd.DataFrame({"name": ["a", "b", None], "n": [1, 2, 3], "x": [0.5, float("nan"), 2.25], "ok": [True, False, True]})',
        'df',
      ].join('\n'),
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.value).toContain('name  n     x     ok');
    expect(result.displays).toEqual([
      {
        type: 'table',
        columns: ['name', 'n', 'x', 'ok'],
        index: null,
        indexNames: null,
        columnNames: null,
        rows: [
          ['a', 1, 0.5, true],
          ['b', 2, null, false],
          [null, 3, 2.25, true],
        ],
        totalRows: 3,
        totalColumns: 4,
        truncated: false,
        stdoutSpan: null,
      },
    ]);
  });

  it('gives tables for display() of a DataFrame with a named index and of a Series, in order, with stdout as before', async () => {
    const result = await runPython(
      [
        'import pandas as pd',
        'from IPython.display import display',
        'df = pd.DataFrame({"v": [10, 20]}, index=["x", "y"])',
        'display(df)',
        'print("between")',
        'display(pd.Series([1.5, 2.5], name="s"))',
      ].join('\n'),
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.stdout.text).toBe('    v\nx  10\ny  20\nbetween\n0    1.5\n1    2.5\nName: s, dtype: float64\n');
    expect(result.displays).toEqual([
      { type: 'table', columns: ['v'], index: ['x', 'y'], indexNames: null, columnNames: null, rows: [[10], [20]], totalRows: 2, totalColumns: 1, truncated: false, stdoutSpan: [0, 18] },
      { type: 'table', columns: ['s'], index: null, indexNames: null, columnNames: null, rows: [[1.5], [2.5]], totalRows: 2, totalColumns: 1, truncated: false, stdoutSpan: [26, 68] },
    ]);
  });

  it('caps a large table at 200 rows and 50 columns and keeps the totals', async () => {
    const result = await runPython(
      ['import numpy as np, pandas as pd', 'pd.DataFrame(np.arange(1000 * 60).reshape(1000, 60))'].join('\n'),
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    const [table] = result.displays;
    if (table?.type !== 'table') throw new Error(`expected a table, got ${JSON.stringify(table)}`);
    expect(table.columns).toHaveLength(50);
    expect(table.columns[49]).toBe('49');
    expect(table.rows).toHaveLength(200);
    expect(table.rows[199]).toHaveLength(50);
    expect(table.rows[199]![49]).toBe(199 * 60 + 49);
    expect({ totalRows: table.totalRows, totalColumns: table.totalColumns, truncated: table.truncated }).toEqual({
      totalRows: 1000,
      totalColumns: 60,
      truncated: true,
    });
  });

  it('gives HTML displays for IPython.display.HTML and _repr_html_ objects, and none for plain values', async () => {
    const result = await runPython(
      [
        'from IPython.display import HTML, display',
        'class Card:',
        '    def _repr_html_(self):',
        '        return "<b>card</b>"',
        'display(HTML("<script>alert(1)</script><i>hi</i>"))',
        'x = 41 + 1',
        'Card()',
      ].join('\n'),
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.displays).toEqual([
      // display() printed the source (its span); the trailing value's text is the value, not stdout.
      { type: 'html', html: '<script>alert(1)</script><i>hi</i>', stdoutSpan: [0, 35] },
      { type: 'html', html: '<b>card</b>', stdoutSpan: null },
    ]);
    const plain = await runPython('print(1)\n[1, 2]');
    expect(plain.displays).toEqual([]);
  });

  it('leaves out HTML over 256 KB and displays past 20 per run, and says so in the notice', async () => {
    const result = await runPython(
      [
        'from IPython.display import HTML, display',
        'display(HTML("<p>" + "x" * (300 * 1024) + "</p>"))',
        'for i in range(25):',
        '    display(HTML(f"<p>{i}</p>"))',
      ].join('\n'),
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.displays).toHaveLength(20);
    // 300 KB of printed HTML source cut stdout in the middle: no span holds.
    expect(result.stdout.truncatedChars).toBeGreaterThan(0);
    expect(result.displays[19]).toEqual({ type: 'html', html: '<p>19</p>', stdoutSpan: null });
    expect(result.notice).toContain('5 more tables or HTML displays were not kept (at most 20 per run)');
    expect(result.notice).toContain('1 HTML displays were larger than 256 KB');
  });
});
