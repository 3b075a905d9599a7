/** The result frame's displays (snake_case, as the runner writes them) as the engine's ResultDisplay. */
import type { DisplayFrame } from '../executor/runner-protocol.js';
import type { ResultDisplay } from './types.js';

export function displaysOf(frames: readonly DisplayFrame[] | undefined): ResultDisplay[] {
  return (frames ?? []).map((frame): ResultDisplay =>
    frame.type === 'html'
      ? { type: 'html', html: frame.html }
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
        },
  );
}
