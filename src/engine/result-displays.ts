/** The result frame's displays (snake_case, as the runner writes them) as the engine's ResultDisplay. */
import type { CapturedText } from '../domain/types.js';
import type { DisplayFrame } from '../executor/runner-protocol.js';
import type { ResultDisplay, StdoutSpan } from './types.js';

export function displaysOf(frames: readonly DisplayFrame[] | undefined, stdout: CapturedText): ResultDisplay[] {
  const spans = stdoutSpans(frames ?? [], stdout);
  return (frames ?? []).map((frame, i): ResultDisplay => {
    const stdoutSpan = spans[i] ?? null;
    return frame.type === 'html'
      ? { type: 'html', html: frame.html, stdoutSpan }
      : {
          type: 'table',
          columns: frame.columns,
          index: frame.index,
          indexNames: frame.index_names,
          columnNames: frame.column_names,
          rows: frame.rows,
          totalRows: frame.total_rows,
          totalColumns: frame.total_columns,
          truncated: frame.truncated,
          stdoutSpan,
        };
  });
}

/**
 * Each display's text found in stdout, in output order (a search from the end of the previous one,
 * so output of subprocesses in between does not shift it). Offsets are JavaScript string indices
 * (UTF-16 units) of `stdout.text`, found here rather than counted in the runner. A cut stdout has
 * a marker in the middle and a moved tail: no span is given then.
 */
export function stdoutSpans(frames: readonly DisplayFrame[], stdout: CapturedText): StdoutSpan[] {
  let from = 0;
  return frames.map((frame) => {
    const text = frame.stdout_text;
    if (stdout.truncatedChars > 0 || text === undefined || text.length === 0) return null;
    const start = stdout.text.indexOf(text, from);
    if (start < 0) return null;
    from = start + text.length;
    return [start, from] as const;
  });
}
