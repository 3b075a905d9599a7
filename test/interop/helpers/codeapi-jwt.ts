/**
 * Tokens as LibreChat's packages/api/src/auth/codeapi.ts mints them (mintCodeApiToken), written here
 * from its documented behaviour: header {alg, typ: "JWT", kid}, claims iss/aud/sub/iat/nbf/exp/jti,
 * tenant_id, role, principal_source and auth_context_hash, signed with node:crypto (EdDSA or RS256),
 * configured by the same CODEAPI_JWT_* variables LibreChat reads. Plus the forgeries a Code API must refuse.
 */
import { execFileSync } from 'node:child_process';
import { createHash, createHmac, createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';

export type CodeApiJwtAlg = 'EdDSA' | 'RS256';

export interface CodeApiKeyPair {
  alg: CodeApiJwtAlg;
  privatePem: string;
  publicPem: string;
  privatePemFile: string;
  /** Where the public key is written, for CODECELL_JWT_PUBLIC_KEY_FILE. */
  publicPemFile: string;
}

/**
 * A key pair made at test time with the openssl commands the JWT recipe gives
 * (`openssl genpkey …` then `openssl pkey -pubout`), into `dir`.
 */
export function makeKeyPair(alg: CodeApiJwtAlg, dir: string): CodeApiKeyPair {
  const privateFile = path.join(dir, `codeapi-private-${alg}-${randomUUID()}.pem`);
  const publicPemFile = privateFile.replace('private', 'public');
  const keyType = alg === 'EdDSA' ? ['-algorithm', 'ed25519'] : ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'];
  execFileSync('openssl', ['genpkey', ...keyType, '-out', privateFile]);
  execFileSync('openssl', ['pkey', '-in', privateFile, '-pubout', '-out', publicPemFile]);
  return { alg, privatePem: readFileSync(privateFile, 'utf8'), publicPem: readFileSync(publicPemFile, 'utf8'), privatePemFile: privateFile, publicPemFile };
}

/** The signing variables of a LibreChat that holds `pair` (to forge with a key Codecell does not know). */
export function signingEnvFor(pair: CodeApiKeyPair): Record<string, string> {
  return {
    CODEAPI_JWT_PRIVATE_KEY_BASE64: Buffer.from(pair.privatePem).toString('base64'),
    ...(pair.alg === 'RS256' ? { CODEAPI_JWT_ALGORITHM: 'RS256' } : {}),
  };
}

export interface ClaimOverrides {
  [claim: string]: unknown;
}

interface MintOptions {
  /** Replaces the header (for alg:none and HS256 forgeries). */
  header?: Record<string, unknown>;
  claims?: ClaimOverrides;
  /** Seconds added to "now" (negative: a token minted in the past). */
  shiftSeconds?: number;
}

const b64url = (value: Buffer | string): string => Buffer.from(value).toString('base64url');

/** The environment LibreChat's minter reads, with its defaults. */
function signingSettings(env: NodeJS.ProcessEnv): { alg: CodeApiJwtAlg; kid: string; iss: string; aud: string; ttl: number; key: KeyObject } {
  const ttl = Number(env.CODEAPI_JWT_TTL_SECONDS);
  return {
    alg: env.CODEAPI_JWT_ALGORITHM === 'RS256' ? 'RS256' : 'EdDSA',
    kid: env.CODEAPI_JWT_KID ?? 'lc-codeapi-2026-05',
    iss: env.CODEAPI_JWT_ISSUER ?? 'librechat',
    aud: env.CODEAPI_JWT_AUDIENCE ?? 'codeapi',
    ttl: Number.isFinite(ttl) && ttl > 0 ? Math.min(Math.floor(ttl), 300) : 300,
    key: signingKey(env),
  };
}

/** The private key from the first of LibreChat's three variables that is set (inline PEM, base64 PEM, JWK JSON). */
function signingKey(env: NodeJS.ProcessEnv): KeyObject {
  const present = (value: string | undefined): value is string => value !== undefined && value.trim() !== '';
  if (present(env.CODEAPI_JWT_PRIVATE_KEY)) return createPrivateKey(env.CODEAPI_JWT_PRIVATE_KEY.replace(/\\n/g, '\n').trim());
  if (present(env.CODEAPI_JWT_PRIVATE_KEY_BASE64)) return createPrivateKey(Buffer.from(env.CODEAPI_JWT_PRIVATE_KEY_BASE64, 'base64').toString('utf8').trim());
  if (present(env.CODEAPI_JWT_PRIVATE_JWK_JSON)) return createPrivateKey({ key: JSON.parse(env.CODEAPI_JWT_PRIVATE_JWK_JSON), format: 'jwk' } as Parameters<typeof createPrivateKey>[0]);
  throw new Error('Code API JWT signing key is not configured');
}

/** The claims LibreChat puts in a token for a plain user (role USER, single tenant "legacy"). */
function userClaims(userId: string, settings: ReturnType<typeof signingSettings>, now: number): Record<string, unknown> {
  const tenant = 'legacy';
  const role = 'USER';
  const principalSource = 'librechat_jwt';
  const canonical = { chc_user_id: '', org_id: '', principal_source: principalSource, role, service_id: '', sub: userId, tenant_id: tenant };
  return {
    iss: settings.iss,
    aud: settings.aud,
    sub: userId,
    iat: now,
    nbf: now,
    exp: now + settings.ttl,
    jti: randomUUID(),
    tenant_id: tenant,
    role,
    principal_source: principalSource,
    auth_context_hash: createHash('sha256').update(JSON.stringify(canonical)).digest('hex'),
  };
}

/** A token for `userId`, signed with the key in `env` (LibreChat's CODEAPI_JWT_* variables). */
export function mintCodeApiToken(userId: string, env: NodeJS.ProcessEnv = process.env, options: MintOptions = {}): string {
  const settings = signingSettings(env);
  const now = Math.floor(Date.now() / 1000) + (options.shiftSeconds ?? 0);
  const header = options.header ?? { alg: settings.alg, typ: 'JWT', kid: settings.kid };
  const claims = { ...userClaims(userId, settings, now), ...options.claims };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  if (header.alg === 'none') return `${input}.`;
  if (header.alg === 'HS256') throw new Error('use hs256WithPublicKey for the HMAC forgery');
  const signature = sign(settings.alg === 'RS256' ? 'RSA-SHA256' : null, Buffer.from(input), settings.key);
  return `${input}.${b64url(signature)}`;
}

/** The classic key-confusion forgery: a well-formed token "signed" with HS256, using the public key PEM as the secret. */
export function hs256WithPublicKey(userId: string, publicPem: string, env: NodeJS.ProcessEnv = process.env): string {
  const settings = signingSettings(env);
  const now = Math.floor(Date.now() / 1000);
  const header = { alg: 'HS256', typ: 'JWT', kid: settings.kid };
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(userClaims(userId, settings, now)))}`;
  return `${input}.${b64url(createHmac('sha256', publicPem).update(input).digest())}`;
}

/** getCodeApiAuthHeaders as LibreChat's handleTools passes it: `{Authorization: "Bearer <token>"}`. */
export function bearer(token: string): Record<string, string> {
  return { Authorization: `Bearer ${token}` };
}
