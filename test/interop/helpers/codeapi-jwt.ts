/**
 * Tokens as LibreChat's packages/api/src/auth/codeapi.ts mints them (mintCodeApiToken), written here
 * from its documented behaviour: header {alg, typ: "JWT", kid}, claims iss/aud/sub/iat/nbf/exp/jti,
 * tenant_id, role, principal_source and auth_context_hash, signed with node:crypto (EdDSA or RS256),
 * configured by the same CODEAPI_JWT_* variables LibreChat reads. Plus the forgeries a Code API must refuse.
 */
import { createHash, createHmac, createPrivateKey, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';

export type CodeApiJwtAlg = 'EdDSA' | 'RS256';

export interface CodeApiKeyPair {
  alg: CodeApiJwtAlg;
  privatePem: string;
  publicPem: string;
}

/** A key pair made at test time, PEM-encoded the way an admin would paste it into .env files. */
export function makeKeyPair(alg: CodeApiJwtAlg): CodeApiKeyPair {
  const pair = alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    alg,
    privatePem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicPem: pair.publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}

/** LibreChat's .env for JWT mode: the private key inline with escaped newlines, as one .env line holds it. */
export function libreChatJwtEnv(pair: CodeApiKeyPair, kid = 'lc-codeapi-interop'): Record<string, string> {
  return {
    CODEAPI_AUTH_PROVIDER: 'librechat-jwt',
    CODEAPI_JWT_PRIVATE_KEY: pair.privatePem.trim().replace(/\n/g, '\\n'),
    CODEAPI_JWT_ALGORITHM: pair.alg,
    CODEAPI_JWT_KID: kid,
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
  const raw = env.CODEAPI_JWT_PRIVATE_KEY;
  if (raw === undefined || raw.trim() === '') throw new Error('CODEAPI_JWT_PRIVATE_KEY is not set');
  const ttl = Number(env.CODEAPI_JWT_TTL_SECONDS);
  return {
    alg: env.CODEAPI_JWT_ALGORITHM === 'RS256' ? 'RS256' : 'EdDSA',
    kid: env.CODEAPI_JWT_KID ?? 'lc-codeapi-2026-05',
    iss: env.CODEAPI_JWT_ISSUER ?? 'librechat',
    aud: env.CODEAPI_JWT_AUDIENCE ?? 'codeapi',
    ttl: Number.isFinite(ttl) && ttl > 0 ? Math.min(Math.floor(ttl), 300) : 300,
    key: createPrivateKey(raw.replace(/\\n/g, '\n').trim()),
  };
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
