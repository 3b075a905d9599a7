/**
 * The public key that verifies LibreChat's Code API tokens (CODEAPI_AUTH_PROVIDER=librechat-jwt).
 * LibreChat signs with an Ed25519 key (EdDSA, its default) or an RSA key (RS256); the key's type
 * decides the one algorithm a token may use, so no token can pick its own (none, HS256, ...).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';

export type JwtAlgorithm = 'EdDSA' | 'RS256';

export interface JwtVerificationKey {
  readonly key: KeyObject;
  /** The only `alg` header a token may carry. */
  readonly algorithm: JwtAlgorithm;
}

/** RSA keys below this size are refused at start-up (NIST SP 800-57: 2048 bits minimum). */
export const MIN_RSA_BITS = 2048;

export class JwtKeyError extends Error {
  override readonly name = 'JwtKeyError';
}

const DERIVE_HINT = 'derive the public key with `openssl pkey -in private.pem -pubout -out codeapi-public.pem`';

/** PEM text from an environment variable may carry "\n" as two characters (as LibreChat's own key variable may). */
function normalizedPem(text: string): string {
  return text.replace(/\\n/g, '\n').trim();
}

function importKey(text: string, source: string): KeyObject {
  if (text.startsWith('{')) {
    let jwk: unknown;
    try {
      jwk = JSON.parse(text);
    } catch {
      throw new JwtKeyError(`${source} starts with "{" but is not valid JSON (a JWK), nor a PEM public key`);
    }
    if (typeof jwk !== 'object' || jwk === null || 'd' in jwk) {
      throw new JwtKeyError(`${source} is a private JWK (it has "d"): give Codecell only the public key; remove "d" (and p, q, dp, dq, qi)`);
    }
    try {
      return createPublicKey({ key: jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
    } catch (error) {
      throw new JwtKeyError(`${source} is not a usable public JWK: ${(error as Error).message}`);
    }
  }
  if (/PRIVATE KEY-----/.test(text)) {
    throw new JwtKeyError(`${source} holds a private key: give Codecell only the public key; ${DERIVE_HINT}`);
  }
  if (!text.includes('-----BEGIN')) {
    throw new JwtKeyError(`${source} is not a PEM public key (it has no "-----BEGIN PUBLIC KEY-----" line)`);
  }
  try {
    return createPublicKey(text);
  } catch (error) {
    throw new JwtKeyError(`${source} is not a readable PEM public key: ${(error as Error).message}`);
  }
}

/** Parses the key and picks its algorithm; throws JwtKeyError with a message an admin can act on. */
export function parseJwtPublicKey(rawText: string, source: string): JwtVerificationKey {
  const text = normalizedPem(rawText);
  if (text === '') throw new JwtKeyError(`${source} is empty`);
  const key = importKey(text, source);
  const type = key.asymmetricKeyType;
  if (type === 'ed25519') return { key, algorithm: 'EdDSA' };
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < MIN_RSA_BITS) throw new JwtKeyError(`${source} is a ${bits}-bit RSA key; at least ${MIN_RSA_BITS} bits are needed`);
    return { key, algorithm: 'RS256' };
  }
  throw new JwtKeyError(
    `${source} is a${type === undefined ? 'n unknown' : ` ${type}`} key; LibreChat signs with Ed25519 (CODEAPI_JWT_ALGORITHM=EdDSA, its default) or RSA (RS256)`,
  );
}
