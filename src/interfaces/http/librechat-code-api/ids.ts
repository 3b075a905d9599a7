/**
 * The ids the LibreChat Code API hands out. LibreChat checks both halves of a code-output
 * download link (`/api/files/code/download/:session_id/:fileId`) against /^[A-Za-z0-9_-]{21}$/,
 * and older clients cut a file id at its first '.', so both ids here are exactly 21 URL-safe
 * characters, and neither needs a lookup table:
 *
 * - a session id is the session's UUID v4 written in 21 base64url characters: the UUID's 122
 *   random bits (its version nibble and variant bits are fixed) fit in 126, so it decodes back
 *   exactly; the plain UUID is accepted too.
 * - a file id is the first 126 bits of a SHA-256 of the file's path in its session. It is found
 *   again by hashing the session's listed paths (see findFileById), so an id can only ever name a
 *   file that is really in that session: nothing is decoded into a path.
 */
import { createHash } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
export const ID_LENGTH = 21;
export const SHORT_ID_PATTERN = /^[A-Za-z0-9_-]{21}$/;
const UUID_V4_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function bitsToBase64Url(bits: string): string {
  let out = '';
  for (let index = 0; index < bits.length; index += 6) out += ALPHABET[Number.parseInt(bits.slice(index, index + 6), 2)];
  return out;
}

function base64UrlToBits(text: string): string {
  let bits = '';
  for (const char of text) bits += ALPHABET.indexOf(char).toString(2).padStart(6, '0');
  return bits;
}

/** A Codecell session id (UUID v4) as the 21-character id LibreChat accepts. */
export function encodeSessionId(uuid: string): string {
  if (!UUID_V4_PATTERN.test(uuid)) throw new Error(`not a UUID v4: ${uuid}`);
  const hex = uuid.replace(/-/g, '');
  // Hex digit 12 is the version ('4'); the top two bits of digit 16 are the variant ('10').
  const variantLow = (Number.parseInt(hex[16] ?? '8', 16) & 0b11).toString(2).padStart(2, '0');
  const rest = hex.slice(0, 12) + hex.slice(13, 16) + hex.slice(17);
  let bits = '0000';
  for (const digit of rest) bits += Number.parseInt(digit, 16).toString(2).padStart(4, '0');
  bits += variantLow;
  return bitsToBase64Url(bits);
}

/** The session UUID a LibreChat session id names, or null when it names none. Accepts plain UUIDs too. */
export function decodeSessionId(id: string): string | null {
  const lower = id.toLowerCase();
  if (UUID_V4_PATTERN.test(lower)) return lower;
  if (!SHORT_ID_PATTERN.test(id)) return null;
  const bits = base64UrlToBits(id);
  if (!bits.startsWith('0000')) return null;
  const body = bits.slice(4, 4 + 120);
  const variantLow = bits.slice(124, 126);
  let rest = '';
  for (let index = 0; index < body.length; index += 4) rest += Number.parseInt(body.slice(index, index + 4), 2).toString(16);
  const variant = (0b1000 | Number.parseInt(variantLow, 2)).toString(16);
  const hex = `${rest.slice(0, 12)}4${rest.slice(12, 15)}${variant}${rest.slice(15)}`;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The file id of a path in a session: stable, 21 URL-safe characters, no '.'. */
export function fileIdFor(relativePath: string): string {
  const digest = createHash('sha256').update('codecell-librechat-file\0').update(relativePath, 'utf8').digest();
  // 16 bytes = 128 bits; 21 characters carry the first 126.
  let bits = '';
  for (const byte of digest.subarray(0, 16)) bits += byte.toString(2).padStart(8, '0');
  return bitsToBase64Url(bits.slice(0, ID_LENGTH * 6));
}

/** The entry among `entries` whose path has this file id, if any. */
export function findFileById<T extends { readonly path: string }>(entries: readonly T[], fileId: string): T | undefined {
  if (!SHORT_ID_PATTERN.test(fileId)) return undefined;
  return entries.find((entry) => fileIdFor(entry.path) === fileId);
}
