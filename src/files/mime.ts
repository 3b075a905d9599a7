/**
 * Content types from file extensions. A small fixed table of what code interpreters produce and
 * consume; anything else is application/octet-stream. Never sniffed from content for serving:
 * files come from untrusted code, and downloads are sent with nosniff.
 */

export const DEFAULT_MIME_TYPE = 'application/octet-stream';

const BY_EXTENSION: Readonly<Record<string, string>> = {
  // text and data
  txt: 'text/plain; charset=utf-8',
  log: 'text/plain; charset=utf-8',
  md: 'text/markdown; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
  tsv: 'text/tab-separated-values; charset=utf-8',
  json: 'application/json',
  jsonl: 'application/x-ndjson',
  ndjson: 'application/x-ndjson',
  xml: 'application/xml',
  yaml: 'application/yaml',
  yml: 'application/yaml',
  toml: 'application/toml',
  ini: 'text/plain; charset=utf-8',
  html: 'text/html; charset=utf-8',
  htm: 'text/html; charset=utf-8',
  css: 'text/css; charset=utf-8',
  tex: 'application/x-tex',
  sql: 'application/sql',
  // source code
  py: 'text/x-python; charset=utf-8',
  ipynb: 'application/x-ipynb+json',
  js: 'text/javascript; charset=utf-8',
  mjs: 'text/javascript; charset=utf-8',
  cjs: 'text/javascript; charset=utf-8',
  ts: 'text/x-typescript; charset=utf-8',
  sh: 'application/x-sh',
  r: 'text/x-r; charset=utf-8',
  // images
  png: 'image/png',
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  gif: 'image/gif',
  webp: 'image/webp',
  bmp: 'image/bmp',
  tif: 'image/tiff',
  tiff: 'image/tiff',
  ico: 'image/vnd.microsoft.icon',
  svg: 'image/svg+xml',
  // documents
  pdf: 'application/pdf',
  doc: 'application/msword',
  docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint',
  pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text',
  ods: 'application/vnd.oasis.opendocument.spreadsheet',
  // archives and binary data
  zip: 'application/zip',
  gz: 'application/gzip',
  tgz: 'application/gzip',
  tar: 'application/x-tar',
  bz2: 'application/x-bzip2',
  xz: 'application/x-xz',
  '7z': 'application/x-7z-compressed',
  parquet: 'application/vnd.apache.parquet',
  feather: 'application/vnd.apache.arrow.file',
  arrow: 'application/vnd.apache.arrow.file',
  npy: 'application/octet-stream',
  pkl: 'application/octet-stream',
  sqlite: 'application/vnd.sqlite3',
  db: 'application/vnd.sqlite3',
  // media
  mp3: 'audio/mpeg',
  wav: 'audio/wav',
  mp4: 'video/mp4',
  webm: 'video/webm',
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
  return Object.hasOwn(BY_EXTENSION, extension) ? (BY_EXTENSION[extension] ?? DEFAULT_MIME_TYPE) : DEFAULT_MIME_TYPE;
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
