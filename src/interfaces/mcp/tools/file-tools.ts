/**
 * File tools for the model: put a small file it has in context into /mnt/data, see what is there,
 * and look at a file (text as text, images as images, anything else as a download link). Bigger
 * files go through the REST upload route; code reaches all of them at /mnt/data/<path>.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { CodecellError } from '../../../errors.js';
import { formatBytes } from '../../../files/byte-size.js';
import type { FileEntry, FileService } from '../../../files/file-service.js';
import { isInlineImage, isTextMimeType } from '../../../files/mime.js';
import { SANDBOX_DATA_DIR } from '../../../files/safe-path.js';
import { notUtf8Note } from '../../../files/text-encoding.js';
import { createLogger, type Logger } from '../../../logger.js';
import type { Principal } from '../../../sessions/principal.js';
import { requestDownloadLink } from '../../download-links.js';
import { restFilePath } from '../../http/file-routes.js';
import type { ToolExtra } from '../progress.js';
import { sessionIdFrom } from '../../session-word.js';
import { guardTool, OPTIONAL_SESSION_ID } from '../tool-errors.js';

export interface FileToolDeps {
  readonly files: FileService;
  readonly principal: Principal;
  /** Where unexpected failures are logged; without it they are only reported (by id) to the model. */
  readonly logger?: Logger;
}

/** Text shown to the model is cut here: more would crowd its context; code can read the rest. */
export const READ_TEXT_MAX_BYTES = 100 * 1024;
/** Bigger images are offered as links: an image block is base64 in the model's context. */
export const READ_IMAGE_MAX_BYTES = 5 * 1024 * 1024;
/** Listings longer than this are cut (the count says how many there are). */
const LIST_MAX_ENTRIES = 500;

const FileOutputSchema = z.object({
  path: z.string(),
  kind: z.enum(['file', 'symlink', 'hardlink', 'other']),
  size: z.number().int().min(0),
  mtime: z.string(),
  mime_type: z.string(),
});

let silentLogger: Logger | undefined;

const sessionIdParameter = z
  .string()
  .max(200)
  .optional()
  .describe('Session whose files to use, from create_execution_session or an earlier result. Leave it out for your default session.');

const pathParameter = z
  .string()
  .min(1)
  .max(1100)
  .describe(`Path relative to ${SANDBOX_DATA_DIR}, e.g. "data/sales.csv" ("${SANDBOX_DATA_DIR}/data/sales.csv" works too).`);

export function registerFileTools(server: McpServer, deps: FileToolDeps): void {
  const { files, principal } = deps;
  const loggerFor = (tool: string, extra: ToolExtra): Logger =>
    (deps.logger ?? (silentLogger ??= createLogger('silent'))).child({
      tool,
      mcpSession: extra.sessionId,
      userId: principal.userId ?? undefined,
    });

  server.registerTool(
    'upload_file',
    {
      title: 'Upload a file',
      description:
        `Save a file you have in the conversation (a small CSV, JSON, script, or base64 bytes) into the session, so code can ` +
        `open it at ${SANDBOX_DATA_DIR}/<filename>. Folders in the name are created; an existing file is replaced. ` +
        `Up to ${formatBytes(files.maxFileBytes)} per file (as base64, ${formatBytes(Math.ceil(files.maxFileBytes / 3) * 4)} of text).`,
      inputSchema: {
        filename: pathParameter,
        content: z.string().describe('The file content: plain text, or base64 when encoding is "base64".'),
        encoding: z
          .enum(['text', 'base64'])
          .default('text')
          .describe('"text" (default) stores content as UTF-8; "base64" decodes it first (for binary files).'),
        session_id: sessionIdParameter,
      },
      outputSchema: z.object({ session_id: z.string(), path: z.string(), sandbox_path: z.string(), size: z.number().int().min(0), mime_type: z.string() }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guardTool(loggerFor('upload_file', extra), async () => {
        const bytes = args.encoding === 'base64' ? decodeBase64(args.content) : Buffer.from(args.content, 'utf8');
        const stored = await files.write(principal, sessionIdFrom(args.session_id), args.filename, bytes);
        const sandboxPath = `${SANDBOX_DATA_DIR}/${stored.path}`;
        return {
          content: [
            {
              type: 'text',
              text:
                `Stored ${stored.path} (${formatBytes(stored.size)}, ${stored.mimeType}) in session ${stored.sessionId}. ` +
                `Code sees it at ${sandboxPath}.` +
                (args.encoding === 'base64' ? prefixed(notUtf8Note(stored.mimeType, bytes)) : ''),
            },
          ],
          structuredContent: {
            session_id: stored.sessionId,
            path: stored.path,
            sandbox_path: sandboxPath,
            size: stored.size,
            mime_type: stored.mimeType,
          },
        };
      }, OPTIONAL_SESSION_ID),
  );

  server.registerTool(
    'list_files',
    {
      title: 'List files',
      description: `List the files in the session's ${SANDBOX_DATA_DIR}, with sizes and types, including everything code has written there.`,
      inputSchema: { session_id: sessionIdParameter },
      outputSchema: z.object({
        session_id: z.string(),
        files: z.array(FileOutputSchema),
        total: z.number().int().min(0).describe('How many files there are; more than listed when the list was cut.'),
      }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guardTool(loggerFor('list_files', extra), async () => {
        const listing = await files.list(principal, sessionIdFrom(args.session_id));
        const shown = listing.files.slice(0, LIST_MAX_ENTRIES);
        const lines = shown.map(describeEntry);
        if (listing.files.length > shown.length) lines.push(`… and ${listing.files.length - shown.length} more`);
        if (listing.truncated) lines.push('The session holds more entries than one listing shows.');
        if (listing.skippedNames > 0) {
          lines.push(`${listing.skippedNames} entries are not listed: their names are not valid UTF-8 or not usable paths. Rename them in code.`);
        }
        const { usage } = listing;
        lines.push(
          `The session uses ${formatBytes(usage.bytes)} of its ${formatBytes(usage.quotaBytes)} quota ` +
            `(saved variables: ${formatBytes(usage.snapshotBytes)}) and ${usage.entries} of ${usage.maxEntries} entries.`,
        );
        const header =
          listing.files.length === 0
            ? `No files in ${SANDBOX_DATA_DIR} of session ${listing.sessionId}.`
            : `${listing.files.length} file${listing.files.length === 1 ? '' : 's'} in ${SANDBOX_DATA_DIR} of session ${listing.sessionId}:`;
        return {
          content: [{ type: 'text', text: [header, ...lines].join('\n') }],
          structuredContent: {
            session_id: listing.sessionId,
            files: shown.map(({ path, kind, size, mtime, mimeType }) => ({ path, kind, size, mtime, mime_type: mimeType })),
            total: listing.files.length,
          },
        };
      }, OPTIONAL_SESSION_ID),
  );

  server.registerTool(
    'read_file',
    {
      title: 'Read a file',
      description:
        `Show a file from the session's ${SANDBOX_DATA_DIR}: text files as text (the first ${formatBytes(READ_TEXT_MAX_BYTES)}), ` +
        'PNG/JPEG/GIF/WebP images as images, anything else as a download link. To analyse data, prefer running code on it.',
      inputSchema: { path: pathParameter, session_id: sessionIdParameter },
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guardTool(
        loggerFor('read_file', extra),
        () => readFileForModel(files, principal, sessionIdFrom(args.session_id), args.path),
        OPTIONAL_SESSION_ID,
      ),
  );
}

async function readFileForModel(
  files: FileService,
  principal: Principal,
  sessionId: string | undefined,
  requestedPath: string,
): Promise<CallToolResult> {
  const stat = await files.stat(principal, sessionId, requestedPath);
  const showAsImage = isInlineImage(stat.mimeType) && stat.size <= READ_IMAGE_MAX_BYTES;
  // Reading is also the check that this is a real file: links and special files are refused here.
  const head = await files.readHead(principal, stat.sessionId, stat.path, showAsImage ? READ_IMAGE_MAX_BYTES : READ_TEXT_MAX_BYTES);
  const about = `${head.path} (${formatBytes(head.size)}, ${head.mimeType}) in session ${head.sessionId}`;

  if (showAsImage && head.bytes.length === head.size) {
    return {
      content: [
        { type: 'text', text: `${about}:` },
        { type: 'image', data: head.bytes.toString('base64'), mimeType: head.mimeType },
      ],
    };
  }

  if (!isInlineImage(head.mimeType)) {
    const cut = head.size > head.bytes.length;
    const text = asText(head.bytes, isTextMimeType(head.mimeType), cut);
    if (text !== null) {
      const note = cut
        ? `\n\n[Showing the first ${formatBytes(head.bytes.length)} of ${formatBytes(head.size)}. Read the rest with code at ${SANDBOX_DATA_DIR}/${head.path}.]`
        : '';
      return { content: [{ type: 'text', text: `${about}:\n\n${text.length === 0 ? '(empty file)' : text}${note}` }] };
    }
  }

  // Binary, or an image too big to show inline.
  const url = requestDownloadLink(files)(head.sessionId, head.path);
  const where = `Code can open it at ${SANDBOX_DATA_DIR}/${head.path}.`;
  const text =
    url !== undefined
      ? `${about} is not shown inline. Download link (valid for ${Math.round(files.downloadLinkTtlMs / 60_000)} min): ${url}\n${where}`
      : `${about} is not shown inline. There is no direct link here (no CODECELL_PUBLIC_URL, no HTTP request to link back to): ` +
        `fetch it with GET ${restFilePath(head.sessionId, head.path)} and the API key. ${where}`;
  return { content: [{ type: 'text', text }] };
}

/**
 * The bytes as text, or null when they look binary. Declared text types are decoded leniently;
 * others count as text only when valid UTF-8 without NUL bytes. A cut may split the last character.
 */
function asText(bytes: Buffer, declaredText: boolean, cut: boolean): string | null {
  const whole = cut ? bytes.subarray(0, completeUtf8Length(bytes)) : bytes;
  if (declaredText) return new TextDecoder('utf-8').decode(whole);
  if (whole.includes(0)) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(whole);
  } catch {
    return null;
  }
}

/** Length of `bytes` without a UTF-8 sequence cut off at the end. */
function completeUtf8Length(bytes: Buffer): number {
  for (let back = 1; back <= Math.min(4, bytes.length); back += 1) {
    const byte = bytes[bytes.length - back] ?? 0;
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead byte
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return needed > back ? bytes.length - back : bytes.length;
  }
  return bytes.length;
}

function describeEntry(entry: FileEntry): string {
  switch (entry.kind) {
    case 'symlink':
      return `- ${entry.path} (symbolic link: never read or served)`;
    case 'hardlink':
      return `- ${entry.path} (${formatBytes(entry.size)}, hard link: never read or served)`;
    case 'other':
      return `- ${entry.path} (special file: fifo, socket or device)`;
    case 'file':
      return `- ${entry.path} (${formatBytes(entry.size)}, ${entry.mimeType}, modified ${entry.mtime})`;
  }
}

/** Strict base64 (standard or URL-safe, whitespace and a data: URL prefix allowed). */
function decodeBase64(content: string): Buffer {
  const body = content.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(body) || body.replace(/=+$/, '').length % 4 === 1) {
    throw new CodecellError('INVALID_INPUT', 'content is not valid base64; send encoding "text" for plain text');
  }
  return Buffer.from(body.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
}

function prefixed(sentence: string | null): string {
  return sentence === null ? '' : ` ${sentence}`;
}
