/**
 * Who is calling. A principal is the API key used (or "open" when the server runs without keys)
 * plus the optional X-User-Id header. Sessions belong to exactly one principal.
 * The id is a hash: keys never reach the disk.
 */
import { createHash } from 'node:crypto';

export interface Principal {
  /** Stable, opaque, 32 hex chars: sha256(key-or-"open" + NUL + userId). */
  readonly id: string;
  /** For logs only: the user id as given, or null. */
  readonly userId: string | null;
  /** The API key's share of the per-key budgets: 32 hex chars of sha256(key), or "open" without keys. */
  readonly keyId: string;
}

/** X-User-Id values are untrusted: printable, bounded. */
export const USER_ID_PATTERN = /^[\x21-\x7e]{1,200}$/;

export function principalFor(apiKey: string | null, userId: string | null): Principal {
  const hash = createHash('sha256')
    .update(apiKey === null ? 'open' : `key:${apiKey}`)
    .update('\0')
    .update(userId ?? '')
    .digest('hex')
    .slice(0, 32);
  const keyId = apiKey === null ? 'open' : createHash('sha256').update(`key:${apiKey}`).digest('hex').slice(0, 32);
  return { id: hash, userId, keyId };
}

/** The principal used by the local CLI (`codecell exec`). */
export const LOCAL_PRINCIPAL: Principal = principalFor(null, 'local-cli');
