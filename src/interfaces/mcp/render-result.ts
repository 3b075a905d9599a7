/**
 * An ExecutionResult as an MCP tool result that chats render well. LibreChat concatenates `text`
 * parts, shows `image` parts inline (and hands them to vision models), and reads
 * `structuredContent` only when `content` is empty; so: one concise text block, one image block
 * per plot, and the same facts typed in `structuredContent` for clients that use it. Field names
 * are snake_case like the tools' own parameters (session_id). Text and structuredContent together
 * stay under CODECELL_MAX_RESULT_CHARS (result-budget.ts).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { EXECUTION_STATUSES, LANGUAGES } from '../../domain/types.js';
import { type ExecutionResult } from '../../engine/types.js';
import { unlistedCount } from '../../engine/changed-files-listing.js';
import { formatExecutionText } from '../execution-text.js';
import { fitResultBudget } from './result-budget.js';

const FileGroupFields = {
  directory: z.string().nullable().describe('Relative to /mnt/data, ending in "/" ("" for the top level); null: several other directories.'),
  directories: z.number().int().min(0),
  files: z.number().int().min(0),
  bytes: z.number().int().min(0),
};

const TableCellSchema = z.union([z.string(), z.number(), z.boolean(), z.null()]);

const StdoutSpanSchema = z
  .tuple([z.number().int().min(0), z.number().int().min(0)])
  .nullable()
  .describe(
    'Where display() printed this display\'s text in stdout: [start, end) in UTF-16 code units (JavaScript string indices); null when unknown or when stdout was cut.',
  );

const DisplaySchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('table'),
    columns: z.array(z.string()),
    index: z.array(z.string()).nullable().describe('Row labels; null for the default 0, 1, 2… index.'),
    index_names: z
      .array(z.string().nullable())
      .nullable()
      .describe('Names of the row index levels (e.g. ["region"] after groupby("region")); null when none is named.'),
    column_names: z
      .array(z.string().nullable())
      .nullable()
      .describe('Names of the column levels (one per MultiIndex level); null when none is named.'),
    rows: z.array(z.array(TableCellSchema)).describe('At most 200 rows of at most 50 cells; null is a missing value.'),
    total_rows: z.number().int().min(0),
    total_columns: z.number().int().min(0),
    truncated: z.boolean().describe('The table had more rows or columns than shown.'),
    stdout_span: StdoutSpanSchema,
  }),
  z.object({
    type: z.literal('html'),
    html: z.string().describe('Raw HTML from user code: untrusted; render it only in a sandboxed frame.'),
    stdout_span: StdoutSpanSchema,
  }),
]);

export const ExecutionOutputSchema = z.object({
  session_id: z.string().describe('The session this ran in; pass it as session_id to continue there.'),
  language: z.enum(LANGUAGES),
  status: z.enum(EXECUTION_STATUSES).describe('ok, or why it failed: error, timeout, oom (out of memory), killed.'),
  exit_code: z.number().int().nullable(),
  stdout: z.string(),
  stderr: z.string(),
  stdout_truncated_chars: z.number().int().min(0),
  stderr_truncated_chars: z.number().int().min(0),
  value: z.string().nullable().describe('Repr of the trailing expression, if any.'),
  error: z.object({ name: z.string(), message: z.string(), traceback: z.string() }).nullable(),
  images: z
    .array(
      z.object({
        name: z.string(),
        mime_type: z.literal('image/png'),
        width: z.number(),
        height: z.number(),
        full_size: z
          .object({ width: z.number(), height: z.number(), bytes: z.number(), path: z.string().nullable() })
          .nullable()
          .describe('Set when the image block is a downscaled copy: the original, and its file in /mnt/data (null: not kept).'),
      }),
    )
    .describe('Plots, in the order of the image content blocks.'),
  images_omitted: z.number().int().min(0),
  displays: z
    .array(DisplaySchema)
    .describe('Tables (pandas) and HTML the code displayed, in output order; stdout and value say the same as text.'),
  files: z.array(
    z.object({
      path: z.string().describe('Relative to /mnt/data.'),
      size: z.number().int().min(0),
      mime_type: z.string(),
      change: z.enum(['created', 'modified']),
      kind: z.enum(['file', 'symlink', 'hardlink']),
      download_url: z.string().nullable(),
    }),
  ),
  files_unlisted: z
    .object({
      folded: z
        .array(z.object({ label: z.string(), ...FileGroupFields }))
        .describe('VCS and cache folders (.git/, __pycache__/, node_modules/…), one entry each.'),
      omitted: z.array(z.object(FileGroupFields)).describe('Changed files past the listing limit, counted per top-level folder.'),
    })
    .describe('Changed files counted, not listed; list_files shows them all.'),
  files_total: z.number().int().min(0).describe('Changed files in all, listed or not.'),
  not_carried: z
    .array(z.object({ name: z.string(), type: z.string(), reason: z.string() }))
    .describe('Variables that will not exist in the next call.'),
  state_saved: z.boolean(),
  notice: z.string().nullable(),
  duration_ms: z.number().min(0),
  queued_ms: z.number().min(0),
  cut_to_fit: z.array(z.string()).describe('What was left out so the result stays within its size limit.'),
});
export type ExecutionOutput = z.infer<typeof ExecutionOutputSchema>;

export function toExecutionOutput(result: ExecutionResult, cuts: readonly string[] = []): ExecutionOutput {
  return {
    session_id: result.sessionId,
    language: result.language,
    status: result.status,
    exit_code: result.exitCode,
    stdout: result.stdout.text,
    stderr: result.stderr.text,
    stdout_truncated_chars: result.stdout.truncatedChars,
    stderr_truncated_chars: result.stderr.truncatedChars,
    value: result.value,
    error: result.error === null ? null : { ...result.error },
    images: result.images.map((image) => ({
      name: image.name,
      mime_type: image.mimeType,
      width: image.width,
      height: image.height,
      full_size:
        image.fullSize === undefined
          ? null
          : { width: image.fullSize.width, height: image.fullSize.height, bytes: image.fullSize.bytes, path: image.fullSize.path },
    })),
    images_omitted: result.imagesOmitted,
    displays: result.displays.map((display) => {
      // The budget may have cut stdout since the spans were found: their offsets no longer hold.
      const stdout_span = display.stdoutSpan === null || result.stdout.truncatedChars > 0 ? null : ([...display.stdoutSpan] as [number, number]);
      return display.type === 'html'
        ? { type: 'html' as const, html: display.html, stdout_span }
        : {
            type: 'table' as const,
            columns: [...display.columns],
            index: display.index === null ? null : [...display.index],
            index_names: display.indexNames === null ? null : [...display.indexNames],
            column_names: display.columnNames === null ? null : [...display.columnNames],
            rows: display.rows.map((row) => [...row]),
            total_rows: display.totalRows,
            total_columns: display.totalColumns,
            truncated: display.truncated,
            stdout_span,
          };
    }),
    files: result.files.map((file) => ({
      path: file.path,
      size: file.size,
      mime_type: file.mimeType,
      change: file.change,
      kind: file.kind,
      download_url: file.downloadUrl ?? null,
    })),
    files_unlisted: {
      folded: result.unlistedFiles.folded.map((group) => ({ ...group })),
      omitted: result.unlistedFiles.omitted.map((group) => ({ ...group })),
    },
    files_total: result.files.length + unlistedCount(result.unlistedFiles),
    not_carried: result.notCarried.map((value) => ({ ...value })),
    state_saved: result.stateSaved,
    notice: result.notice,
    duration_ms: result.durationMs,
    queued_ms: result.queuedMs,
    cut_to_fit: [...cuts],
  };
}

function textOf(result: ExecutionResult, cuts: readonly string[]): string {
  const text = formatExecutionText(result);
  if (cuts.length === 0) return text;
  return `${text}\n\n[cut to fit the result size limit]\n${cuts.map((cut) => `- ${cut}`).join('\n')}`;
}

/** The characters a rendered result takes, text and structuredContent together (images apart). */
export function resultChars(result: ExecutionResult, cuts: readonly string[] = []): number {
  return textOf(result, cuts).length + JSON.stringify(toExecutionOutput(result, cuts)).length;
}

export function renderExecutionResult(full: ExecutionResult, maxResultChars: number): CallToolResult {
  const { result, cuts } = fitResultBudget(full, maxResultChars, resultChars);
  return {
    content: [
      { type: 'text', text: textOf(result, cuts) },
      ...result.images.map((image) => ({ type: 'image' as const, data: image.base64, mimeType: image.mimeType })),
    ],
    structuredContent: toExecutionOutput(result, cuts),
    isError: result.status !== 'ok',
  };
}
