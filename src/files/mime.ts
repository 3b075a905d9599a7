/**
 * Content types from file extensions, from the mime-db table (package mime-types) with the few
 * overrides below; anything unknown is application/octet-stream. Never sniffed from content for
 * serving: files come from untrusted code, and downloads are sent with nosniff.
 */
import mime from 'mime-types';

export const DEFAULT_MIME_TYPE = 'application/octet-stream';

/**
 * Where a code interpreter's files differ from the web's table: extensions mime-db does not know
 * (the runtimes' own sources, data-science formats), and two it reads the other way (.ts is
 * TypeScript here, not an MPEG transport stream; .cjs is JavaScript text, not "application/node").
 */
const CODECELL_TYPES: Readonly<Record<string, string>> = {
  ts: 'text/x-typescript; charset=utf-8',
  cjs: 'text/javascript; charset=utf-8',
  py: 'text/x-python; charset=utf-8',
  r: 'text/x-r; charset=utf-8',
  jsonl: 'application/x-ndjson',
  ndjson: 'application/x-ndjson',
  tgz: 'application/gzip',
  parquet: 'application/vnd.apache.parquet',
  feather: 'application/vnd.apache.arrow.file',
  arrow: 'application/vnd.apache.arrow.file',
  sqlite: 'application/vnd.sqlite3',
  db: 'application/vnd.sqlite3',
};

/** Image types a chat client can show inline (what MCP image content is used for). */
const INLINE_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

const TEXT_APPLICATION_TYPES = new Set([
  'application/json',
  'application/x-ndjson',
  'application/xml',
  'application/yaml',
  'application/toml',
  'application/x-tex',
  'application/sql',
  'application/x-ipynb+json',
  'application/x-sh',
  'image/svg+xml',
]);

export function mimeTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  if (dot <= 0 || dot === fileName.length - 1) return DEFAULT_MIME_TYPE;
  const extension = fileName.slice(dot + 1).toLowerCase();
  if (Object.hasOwn(CODECELL_TYPES, extension)) return CODECELL_TYPES[extension] ?? DEFAULT_MIME_TYPE;
  // contentType adds "; charset=utf-8" to text types, as the table above writes them.
  const type = mime.lookup(extension);
  return type === false ? DEFAULT_MIME_TYPE : mime.contentType(type) || type;
}

export function isInlineImage(mimeType: string): boolean {
  return INLINE_IMAGE_TYPES.has(essence(mimeType));
}

/** True for types whose content is text (so a model can read it as such). */
export function isTextMimeType(mimeType: string): boolean {
  const bare = essence(mimeType);
  return bare.startsWith('text/') || TEXT_APPLICATION_TYPES.has(bare);
}

/** The type without parameters: 'text/csv; charset=utf-8' → 'text/csv'. */
function essence(mimeType: string): string {
  return (mimeType.split(';', 1)[0] ?? '').trim().toLowerCase();
}
