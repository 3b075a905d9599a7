/**
 * An ExecutionResult as an MCP tool result that chats render well. LibreChat concatenates `text`
 * parts, shows `image` parts inline (and hands them to vision models), and reads
 * `structuredContent` only when `content` is empty; so: one concise text block, one image block
 * per plot, and the same facts typed in `structuredContent` for clients that use it. Field names
 * are snake_case like the tools' own parameters (session_id).
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { EXECUTION_STATUSES, LANGUAGES, type ExecutionResult } from '../../engine/types.js';
import { formatExecutionText } from '../execution-text.js';

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
    .array(z.object({ name: z.string(), mime_type: z.literal('image/png'), width: z.number(), height: z.number() }))
    .describe('Plots, in the order of the image content blocks.'),
  images_omitted: z.number().int().min(0),
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
  not_carried: z
    .array(z.object({ name: z.string(), type: z.string(), reason: z.string() }))
    .describe('Variables that will not exist in the next call.'),
  state_saved: z.boolean(),
  notice: z.string().nullable(),
  duration_ms: z.number().min(0),
  queued_ms: z.number().min(0),
});
export type ExecutionOutput = z.infer<typeof ExecutionOutputSchema>;

export function toExecutionOutput(result: ExecutionResult): ExecutionOutput {
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
    })),
    images_omitted: result.imagesOmitted,
    files: result.files.map((file) => ({
      path: file.path,
      size: file.size,
      mime_type: file.mimeType,
      change: file.change,
      kind: file.kind,
      download_url: file.downloadUrl ?? null,
    })),
    not_carried: result.notCarried.map((value) => ({ ...value })),
    state_saved: result.stateSaved,
    notice: result.notice,
    duration_ms: result.durationMs,
    queued_ms: result.queuedMs,
  };
}

export function renderExecutionResult(result: ExecutionResult): CallToolResult {
  return {
    content: [
      { type: 'text', text: formatExecutionText(result) },
      ...result.images.map((image) => ({ type: 'image' as const, data: image.base64, mimeType: image.mimeType })),
    ],
    structuredContent: toExecutionOutput(result),
    isError: result.status !== 'ok',
  };
}
