/**
 * Download links that need no API key: the link itself is the permission. A token names one file
 * of one session and an expiry, and carries an HMAC-SHA256 over exactly those, so it can neither be
 * pointed at another file nor extended. Chat clients (LibreChat) fetch these links without headers.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { errnoOf } from '../errno.js';

export interface SignedTarget {
  readonly sessionId: string;
  /** Relative path inside the session's files, as parseRelativePath returns it. */
  readonly path: string;
  readonly expiresAtMs: number;
}

export type TokenCheck =
  | { readonly ok: true; readonly target: SignedTarget }
  | { readonly ok: false; readonly reason: 'malformed' | 'bad-signature' | 'expired' };

const KEY_FILE_NAME = 'signing.key';
// Keeps this key's MACs apart from anything else an operator's CODECELL_SIGNING_KEY might sign.
const KEY_PURPOSE = 'codecell/download-link/v1';
const MAC_BYTES = 32;
const TOKEN_PATTERN = /^([A-Za-z0-9_-]{1,4096})\.([A-Za-z0-9_-]{43})$/;

const PayloadSchema = z.object({
  s: z.string().min(1).max(100),
  p: z.string().min(1).max(4096),
  e: z.number().int().nonnegative(),
});

export class DownloadSigner {
  private readonly key: Buffer;

  constructor(
    masterKey: Uint8Array,
    private readonly now: () => number = Date.now,
  ) {
    this.key = createHmac('sha256', masterKey).update(KEY_PURPOSE).digest();
  }

  /** A URL-safe token for `path` in `sessionId`, valid for `ttlMs` from now. */
  sign(sessionId: string, relativePath: string, ttlMs: number): string {
    const payload = Buffer.from(
      JSON.stringify({ s: sessionId, p: relativePath, e: Math.floor(this.now() + ttlMs) }),
    ).toString('base64url');
    return `${payload}.${this.mac(payload).toString('base64url')}`;
  }

  verify(token: string): TokenCheck {
    const match = TOKEN_PATTERN.exec(token);
    if (!match?.[1] || !match[2]) return { ok: false, reason: 'malformed' };
    const [, payload, signature] = match;
    const given = Buffer.from(signature, 'base64url');
    const expected = this.mac(payload);
    // The 43rd character carries 2 spare bits: only the canonical spelling of a MAC is accepted, so a
    // token has exactly one valid form.
    const canonical = given.toString('base64url') === signature;
    if (!canonical || given.length !== MAC_BYTES || !timingSafeEqual(given, expected)) {
      return { ok: false, reason: 'bad-signature' };
    }
    let fields: z.infer<typeof PayloadSchema>;
    try {
      fields = PayloadSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    } catch {
      return { ok: false, reason: 'malformed' }; // signed by us, so only a format change gets here
    }
    if (this.now() > fields.e) return { ok: false, reason: 'expired' };
    return { ok: true, target: { sessionId: fields.s, path: fields.p, expiresAtMs: fields.e } };
  }

  private mac(payload: string): Buffer {
    return createHmac('sha256', this.key).update(payload).digest();
  }
}

/**
 * The key download links are signed with: CODECELL_SIGNING_KEY when set, else a random key kept at
 * `<dataDir>/signing.key` (mode 0600), so links handed out before a restart keep working.
 * Synchronous because it runs once at start-up, before anything can be served.
 */
export function loadSigningKey(options: { readonly signingKey: string | undefined; readonly dataDir: string }): Buffer {
  if (options.signingKey !== undefined) return Buffer.from(options.signingKey, 'utf8');
  const keyFile = path.join(options.dataDir, KEY_FILE_NAME);
  mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx' fails when the file exists, so two processes starting together keep one key.
    writeFileSync(keyFile, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if (errnoOf(error) !== 'EEXIST') throw error;
  }
  const text = readFileSync(keyFile, 'utf8').trim();
  if (!/^[0-9a-f]{64}$/.test(text)) {
    throw new Error(
      `${keyFile} is not a signing key (64 hex characters). Delete it to make a new one ` +
        '(download links given out before then stop working), or set CODECELL_SIGNING_KEY.',
    );
  }
  return Buffer.from(text, 'hex');
}
