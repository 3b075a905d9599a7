import { isUtf8 } from 'node:buffer';
import { isTextMimeType } from './mime.js';

/**
 * A sentence for a text file (by its name) whose bytes are not UTF-8, such as a CSV exported from
 * a spreadsheet in Windows-1252: its type says charset=utf-8, so code would read it as UTF-8 and fail.
 */
export function notUtf8Note(mimeType: string, bytes: Uint8Array): string | null {
  if (!isTextMimeType(mimeType) || isUtf8(bytes)) return null;
  return (
    'Its bytes are not valid UTF-8 (likely Windows-1252 or Latin-1): read it with that encoding, ' +
    "e.g. pd.read_csv(path, encoding='cp1252') or open(path, encoding='latin-1')."
  );
}
