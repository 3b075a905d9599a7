/** How one execution result reads in a chat: text sections, image blocks, typed fields, isError. */
import { describe, expect, it } from 'vitest';
import { boundChangedFiles } from '../../../src/engine/changed-files-listing.js';
import type { ExecutionResult } from '../../../src/engine/types.js';
import { OutputCapture } from '../../../src/executor/output-capture.js';
import { ExecutionOutputSchema, renderExecutionResult as renderWithBudget } from '../../../src/interfaces/mcp/render-result.js';

const PNG_BASE64 = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]).toString('base64');

function result(overrides: Partial<ExecutionResult> = {}): ExecutionResult {
  return {
    sessionId: '11111111-2222-4333-8444-555555555555',
    language: 'python',
    status: 'ok',
    exitCode: 0,
    stdout: { text: 'hello\n', truncatedChars: 0 },
    stderr: { text: '', truncatedChars: 0 },
    value: null,
    error: null,
    images: [],
    imagesOmitted: 0,
    displays: [],
    files: [],
    unlistedFiles: { folded: [], omitted: [] },
    notCarried: [],
    stateSaved: true,
    notice: null,
    durationMs: 1234,
    queuedMs: 5,
    ...overrides,
  };
}

/** The default budget (CODECELL_MAX_RESULT_CHARS). */
const renderExecutionResult = (full: ExecutionResult) => renderWithBudget(full, 24_000);

function textOf(rendered: ReturnType<typeof renderExecutionResult>): string {
  const first = rendered.content[0];
  if (first?.type !== 'text') throw new Error('first block is not text');
  return first.text;
}

/** `text` as a run's output capture of `limitChars` keeps it. */
function capturedOf(text: string, limitChars: number): ExecutionResult['stdout'] {
  const capture = new OutputCapture(limitChars);
  capture.append(text);
  return capture.result();
}

describe('renderExecutionResult', () => {
  it('names the session and shows only the parts that have something in them', () => {
    const rendered = renderExecutionResult(result());
    const text = textOf(rendered);
    expect(text).toContain('Session 11111111-2222-4333-8444-555555555555 · python · ok · 1.23 s');
    expect(text).toContain('[stdout]\nhello');
    expect(text).not.toContain('[stderr]');
    expect(text).not.toContain('[value]');
    expect(text).not.toContain('[error]');
    expect(rendered.isError).toBe(false);
    expect(rendered.content).toHaveLength(1);
  });

  it('puts every section in one text block and each plot in its own image block', () => {
    const rendered = renderExecutionResult(
      result({
        stdout: capturedOf(`${'h'.repeat(10)}${'m'.repeat(5000)}${'t'.repeat(10)}`, 20),
        stderr: { text: 'warning: x', truncatedChars: 0 },
        value: '42',
        notice: 'State from before was kept.',
        images: [
          { name: 'figure-1.png', mimeType: 'image/png', base64: PNG_BASE64, width: 640, height: 480 },
          { name: 'figure-2.png', mimeType: 'image/png', base64: PNG_BASE64, width: 100, height: 50 },
        ],
        imagesOmitted: 3,
        files: [
          { path: 'out/data.csv', size: 2048, mimeType: 'text/csv', change: 'created', kind: 'file', downloadUrl: 'https://cc.example/v1/files/signed/abc' },
          { path: 'link', size: 0, mimeType: 'application/octet-stream', change: 'created', kind: 'symlink' },
        ],
        notCarried: [{ name: 'gen', type: 'generator', reason: 'generators cannot be saved' }],
      }),
    );
    const text = textOf(rendered);
    // One word of the cut, where it was cut (not a second line after the text).
    expect(text).toContain('[stdout]\nhhhhhhhhhh\n… [5000 characters cut; the output was 5020 characters] …\ntttttttttt');
    expect(text.match(/characters cut/g)).toHaveLength(1);
    expect(text).toContain('[stderr]\nwarning: x');
    expect(text).toContain('[value]\n42');
    expect(text).toContain('[notice]\nState from before was kept.');
    expect(text).toContain('- created /mnt/data/out/data.csv (2 KiB, text/csv) — download: https://cc.example/v1/files/signed/abc');
    expect(text).toContain('- created /mnt/data/link (symlink; links are not served)');
    expect(text).toContain('- gen (generator): generators cannot be saved');
    expect(text).toContain('2 images attached. 3 more were left out');
    expect(text).toContain('save figures to files in /mnt/data (plt.savefig) to keep them');
    expect(rendered.content.slice(1)).toEqual([
      { type: 'image', data: PNG_BASE64, mimeType: 'image/png' },
      { type: 'image', data: PNG_BASE64, mimeType: 'image/png' },
    ]);
  });

  it('fills structuredContent with the same facts, valid against the declared output schema', () => {
    const rendered = renderExecutionResult(
      result({
        files: [{ path: 'a.txt', size: 3, mimeType: 'text/plain', change: 'modified', kind: 'file' }],
        images: [{ name: 'figure-1.png', mimeType: 'image/png', base64: PNG_BASE64, width: 640, height: 480 }],
      }),
    );
    const structured = ExecutionOutputSchema.parse(rendered.structuredContent);
    expect(structured.session_id).toBe('11111111-2222-4333-8444-555555555555');
    expect(structured.stdout).toBe('hello\n');
    expect(structured.files).toEqual([
      { path: 'a.txt', size: 3, mime_type: 'text/plain', change: 'modified', kind: 'file', download_url: null },
    ]);
    // Image bytes travel once, in the image block; the typed field only describes them.
    expect(structured.images).toEqual([{ name: 'figure-1.png', mime_type: 'image/png', width: 640, height: 480, full_size: null }]);
  });

  it.each(['error', 'timeout', 'oom', 'killed'] as const)('marks a %s run as an error', (status) => {
    const rendered = renderExecutionResult(result({ status, exitCode: status === 'error' ? 1 : null }));
    expect(rendered.isError).toBe(true);
  });

  it('shows the error name, message and traceback', () => {
    const text = textOf(
      renderExecutionResult(
        result({
          status: 'error',
          exitCode: 1,
          error: { name: 'ZeroDivisionError', message: 'division by zero', traceback: '  File "<cell>", line 1\n' },
        }),
      ),
    );
    expect(text).toContain('error, exit code 1');
    expect(text).toContain('[error]\nZeroDivisionError: division by zero\n  File "<cell>", line 1');
  });

  it('does not repeat the error line when the traceback already ends with it', () => {
    const traceback = 'Traceback (most recent call last):\n  File "<cell>", line 1, in <module>\nZeroDivisionError: division by zero\n';
    const text = textOf(
      renderExecutionResult(
        result({ status: 'error', exitCode: 1, error: { name: 'ZeroDivisionError', message: 'division by zero', traceback } }),
      ),
    );
    expect(text).toContain(`[error]\n${traceback.trimEnd()}`);
    expect(text.match(/ZeroDivisionError: division by zero/g)).toHaveLength(1);
  });

  it('does not repeat the error line when the traceback starts with it (V8 stacks: JavaScript, TypeScript)', () => {
    const traceback = 'ExitStatus: process.exit(2) was called\n    at <cell>:1:9\n';
    const text = textOf(
      renderExecutionResult(
        result({ status: 'error', exitCode: 2, error: { name: 'ExitStatus', message: 'process.exit(2) was called', traceback } }),
      ),
    );
    expect(text).toContain(`[error]\n${traceback.trimEnd()}`);
    expect(text.match(/process\.exit\(2\) was called/g)).toHaveLength(1);
  });

  it('does not repeat the error line an uncaught JavaScript throw shows after its source line and caret', () => {
    const traceback = "<cell>:2\no.b.c.d = 2;\n    ^\n\nTypeError: Cannot read properties of undefined (reading 'c')\n    at <cell>:2:5\n";
    const error = { name: 'TypeError', message: "Cannot read properties of undefined (reading 'c')", traceback };
    const text = textOf(renderExecutionResult(result({ status: 'error', exitCode: 1, error })));
    expect(text).toContain(`[error]\n${traceback.trimEnd()}`);
    expect(text.match(/TypeError: Cannot read/g)).toHaveLength(1);
    // Only a whole line counts: a longer line that merely starts with it does not name this error.
    const partial = { name: 'Error', message: 'boom', traceback: 'Error: boom and more\n    at x\n' };
    expect(textOf(renderExecutionResult(result({ status: 'error', exitCode: 1, error: partial })))).toContain('[error]\nError: boom\nError: boom and more');
  });

  it("does not repeat a Python SyntaxError whose traceback ends with the message before its place", () => {
    const traceback = '  File "<cell>", line 2\n    return x +\n              ^\nSyntaxError: invalid syntax\n';
    const error = { name: 'SyntaxError', message: 'invalid syntax (<cell>, line 2)', traceback };
    const text = textOf(renderExecutionResult(result({ status: 'error', exitCode: 1, error })));
    expect(text).toContain(`[error]\n${traceback.trimEnd()}`);
    expect(text.match(/SyntaxError/g)).toHaveLength(1);
  });
});

describe('the result size budget', () => {
  const sizeOf = (rendered: ReturnType<typeof renderExecutionResult>): number =>
    textOf(rendered).length + JSON.stringify(rendered.structuredContent).length;
  const change = (path: string) => ({
    path,
    size: 2048,
    mimeType: 'text/plain',
    change: 'created' as const,
    kind: 'file' as const,
    downloadUrl: `https://codecell.example/files/signed/${'x'.repeat(150)}/${path}`,
  });

  it('leaves a result that fits as it is', () => {
    const rendered = renderExecutionResult(result({ files: [change('a.txt')] }));
    expect((rendered.structuredContent as { cut_to_fit: string[] }).cut_to_fit).toEqual([]);
    expect(textOf(rendered)).not.toContain('cut to fit');
  });

  it('cuts the file list, the not-carried list and the middle of the output, and says so', () => {
    const bounded = boundChangedFiles(Array.from({ length: 3000 }, (_, i) => change(`out/f${i}.txt`)), 50);
    const full = result({
      stdout: { text: `${'a'.repeat(5000)}${'b'.repeat(5000)}`, truncatedChars: 0 },
      stderr: { text: 'w'.repeat(10_000), truncatedChars: 0 },
      files: bounded.listed,
      unlistedFiles: bounded.unlisted,
      notCarried: Array.from({ length: 300 }, (_, i) => ({ name: `v${i}`, type: 'generator', reason: 'cannot be pickled' })),
    });
    const unbounded = renderWithBudget(full, 100_000_000);
    expect(sizeOf(unbounded)).toBeGreaterThan(60_000);
    const rendered = renderExecutionResult(full);
    expect(sizeOf(rendered)).toBeLessThanOrEqual(24_000);
    const output = ExecutionOutputSchema.parse(rendered.structuredContent);
    expect(output.files_total).toBe(3000);
    expect(output.files).toHaveLength(10);
    expect(output.files_unlisted.omitted).toEqual([{ directory: 'out/', directories: 1, files: 2990, bytes: 2990 * 2048 }]);
    expect(output.not_carried.length).toBeLessThanOrEqual(10);
    // Head and tail of the output survive; the cut is counted.
    expect(output.stdout.startsWith('aaa')).toBe(true);
    expect(output.stdout.endsWith('bbb')).toBe(true);
    expect(output.stdout_truncated_chars + output.stdout.length).toBe(10_000);
    expect(output.cut_to_fit).toContain('40 changed files are counted per directory instead of listed');
    expect(textOf(rendered)).toContain('[cut to fit the result size limit]');
    expect(textOf(rendered)).toContain('+ 2,990 more files in /mnt/data/out/ (5.8 MiB)');
  });

  it('drops displays first, from the end, keeping those that fit, before anything else is cut', () => {
    const table = {
      type: 'table' as const,
      columns: ['n'],
      index: null,
      indexNames: null,
      columnNames: null,
      rows: Array.from({ length: 200 }, (_, i) => [i * 1000 + 0.5]),
      totalRows: 200,
      totalColumns: 1,
      truncated: false,
      stdoutSpan: [0, 6] as const,
    };
    const html = { type: 'html' as const, html: `<p>${'h'.repeat(30_000)}</p>`, stdoutSpan: null };
    const full = result({ displays: [table, html, table], files: [change('a.txt')] });
    const rendered = renderWithBudget(full, 24_000);
    const output = ExecutionOutputSchema.parse(rendered.structuredContent);
    expect(output.displays).toEqual([
      {
        type: 'table',
        columns: ['n'],
        index: null,
        index_names: null,
        column_names: null,
        rows: table.rows,
        total_rows: 200,
        total_columns: 1,
        truncated: false,
        stdout_span: [0, 6],
      },
    ]);
    expect(output.cut_to_fit).toEqual(['2 of 3 displays (tables, HTML) are left out; their text is in the output']);
    expect(output.files).toHaveLength(1);
    expect(output.stdout).toBe('hello\n');
    expect(sizeOf(rendered)).toBeLessThanOrEqual(24_000);
  });

  it('keeps displays and their exact snake_case shape when the result fits', () => {
    const rendered = renderExecutionResult(
      result({
        displays: [
          {
            type: 'table',
            columns: ['a', 'b'],
            index: ['x'],
            indexNames: ['k'],
            columnNames: [null, 'c'],
            rows: [['t', null]],
            totalRows: 3,
            totalColumns: 60,
            truncated: true,
            stdoutSpan: [0, 3],
          },
          { type: 'html', html: '<b>x</b>', stdoutSpan: null },
        ],
      }),
    );
    expect(ExecutionOutputSchema.parse(rendered.structuredContent).displays).toEqual([
      {
        type: 'table',
        columns: ['a', 'b'],
        index: ['x'],
        index_names: ['k'],
        column_names: [null, 'c'],
        rows: [['t', null]],
        total_rows: 3,
        total_columns: 60,
        truncated: true,
        stdout_span: [0, 3],
      },
      { type: 'html', html: '<b>x</b>', stdout_span: null },
    ]);
    expect(textOf(rendered)).not.toContain('<b>x</b>');
  });

  it('gives no stdout_span once stdout is cut: its offsets no longer hold', () => {
    const rendered = renderExecutionResult(
      result({
        stdout: { text: 'head…tail', truncatedChars: 5000 },
        displays: [{ type: 'html', html: '<b>x</b>', stdoutSpan: [0, 4] }],
      }),
    );
    expect(ExecutionOutputSchema.parse(rendered.structuredContent).displays).toEqual([{ type: 'html', html: '<b>x</b>', stdout_span: null }]);
  });
});
