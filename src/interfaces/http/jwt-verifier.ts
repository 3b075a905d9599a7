/**
 * Verifies the short-lived tokens LibreChat mints for its Code API (packages/api/src/auth/codeapi.ts
 * in LibreChat, CODEAPI_AUTH_PROVIDER=librechat-jwt): a compact JWS signed with the key whose
 * public half Codecell holds, `iss`/`aud` as configured, `sub` = LibreChat's user id, `tenant_id`
 * naming the tenant ("legacy" on a single-tenant LibreChat), `exp` at most a few minutes after `iat`.
 *
 * A failure carries its reason for the log only; callers answer every failure the same way.
 */
import { errors, jwtVerify } from 'jose';
import type { JwtSettings } from '../../config/settings.js';
import { USER_ID_PATTERN } from '../../sessions/principal.js';

/**
 * LibreChat lets an admin name its single tenant freely (CODEAPI_JWT_SINGLE_TENANT_ID): spaces and
 * any script are fine, since the tenant is only ever part of a hashed principal; control characters
 * (NUL separates the principal's parts) are not.
 */
const TENANT_ID_PATTERN = /^[^\p{Cc}]{1,200}$/u;

/** Who a valid token speaks for. */
export interface TokenIdentity {
  readonly subject: string;
  /** `tenant_id`, or '' when the token carries none. */
  readonly tenant: string;
  readonly issuer: string;
}

export type TokenVerdict = { readonly ok: true; readonly identity: TokenIdentity } | { readonly ok: false; readonly reason: string };

export type JwtVerifier = (token: string) => Promise<TokenVerdict>;

/** LibreChat's tokens are well under 2 KiB; a longer one is refused before any parsing. */
const MAX_TOKEN_CHARS = 8192;

/** Three base64url parts: what a compact JWS looks like, told apart from an API key by shape alone. */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

export function looksLikeJwt(value: string): boolean {
  return value.length <= MAX_TOKEN_CHARS && COMPACT_JWS.test(value);
}

/** The algorithm names the configured key may verify: LibreChat writes "EdDSA"; RFC 9864 names the same as "Ed25519". */
function acceptedAlgorithms(settings: JwtSettings): string[] {
  return settings.algorithm === 'EdDSA' ? ['EdDSA', 'Ed25519'] : ['RS256'];
}

function reasonOf(error: unknown): string {
  if (error instanceof errors.JOSEError) return `${error.code}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

function refused(reason: string): TokenVerdict {
  return { ok: false, reason };
}

/** `now` is for tests that check the skew; the server uses the clock. */
export function createJwtVerifier(settings: JwtSettings, now: () => Date = () => new Date()): JwtVerifier {
  const algorithms = acceptedAlgorithms(settings);
  return async (token) => {
    if (!looksLikeJwt(token)) return refused('not a compact JWS');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, settings.key, {
        algorithms,
        issuer: settings.issuer,
        audience: settings.audience,
        clockTolerance: settings.clockSkewSeconds,
        requiredClaims: ['exp', 'iat', 'sub'],
        maxTokenAge: settings.maxTtlSeconds,
        currentDate: now(),
      }));
    } catch (error) {
      return refused(reasonOf(error));
    }
    const { exp, iat, sub } = payload;
    if (exp === undefined || iat === undefined || sub === undefined) return refused('exp, iat and sub are required');
    if (exp - iat > settings.maxTtlSeconds) return refused(`the token lives ${exp - iat} s (exp - iat); at most ${settings.maxTtlSeconds} s are accepted`);
    // jose does not check the type of sub, and RegExp.test() would coerce 12345 or ["a"] to a string.
    if (typeof sub !== 'string' || !USER_ID_PATTERN.test(sub)) return refused('sub is not 1 to 200 printable ASCII characters');
    const tenant = payload['tenant_id'] ?? '';
    if (typeof tenant !== 'string' || (tenant !== '' && !TENANT_ID_PATTERN.test(tenant))) return refused('tenant_id is not 1 to 200 characters without control characters');
    return { ok: true, identity: { subject: sub, tenant, issuer: settings.issuer } };
  };
}
