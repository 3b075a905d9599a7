/**
 * Tokens as LibreChat mints them for its Code API (CODEAPI_AUTH_PROVIDER=librechat-jwt): header
 * {alg, typ: "JWT", kid}, claims iss/aud/sub/iat/nbf/exp/jti/tenant_id/role/principal_source/
 * auth_context_hash, a 300 s life. Keys are made with jose at test time; forgeries are built by hand.
 */
import { createHash, createHmac, randomUUID, type KeyObject } from 'node:crypto';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';

export type MintAlgorithm = 'EdDSA' | 'RS256';

export interface MintKeys {
  readonly algorithm: MintAlgorithm;
  readonly privateKey: CryptoKey | KeyObject;
  readonly publicKey: CryptoKey | KeyObject;
  /** SPKI PEM of the public key: what Codecell is given. */
  readonly publicPem: string;
}

export async function mintKeys(algorithm: MintAlgorithm = 'EdDSA'): Promise<MintKeys> {
  const { privateKey, publicKey } = await generateKeyPair(algorithm, { extractable: true });
  return { algorithm, privateKey, publicKey, publicPem: await exportSPKI(publicKey) };
}

export interface MintOptions {
  readonly sub?: string;
  readonly tenantId?: string | undefined;
  readonly issuer?: string;
  readonly audience?: string;
  /** Seconds since the epoch; default now. */
  readonly now?: number;
  readonly ttlSeconds?: number;
  /** Overrides on the claims (undefined removes one). */
  readonly claims?: Record<string, unknown>;
  readonly kid?: string;
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** The claims LibreChat's buildClaims() puts in a token, with `options` on top. */
export function libreChatClaims(options: MintOptions = {}): Record<string, unknown> {
  const now = options.now ?? nowSeconds();
  const sub = options.sub ?? 'user-a';
  const tenantId = 'tenantId' in options ? options.tenantId : 'legacy';
  const claims: Record<string, unknown> = {
    iss: options.issuer ?? 'librechat',
    aud: options.audience ?? 'codeapi',
    sub,
    iat: now,
    nbf: now,
    exp: now + (options.ttlSeconds ?? 300),
    jti: randomUUID(),
    ...(tenantId === undefined ? {} : { tenant_id: tenantId }),
    role: 'USER',
    principal_source: 'librechat_jwt',
    auth_context_hash: createHash('sha256').update(JSON.stringify({ sub, tenant_id: tenantId })).digest('hex'),
  };
  for (const [name, value] of Object.entries(options.claims ?? {})) {
    if (value === undefined) delete claims[name];
    else claims[name] = value;
  }
  return claims;
}

/** A token signed as LibreChat signs it. */
export async function mintToken(keys: MintKeys, options: MintOptions = {}): Promise<string> {
  return new SignJWT(libreChatClaims(options))
    .setProtectedHeader({ alg: keys.algorithm, typ: 'JWT', kid: options.kid ?? 'lc-codeapi-2026-05' })
    .sign(keys.privateKey);
}

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/** An unsigned token (`alg: none`) with LibreChat's claims. */
export function unsignedToken(options: MintOptions = {}): string {
  return `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify(libreChatClaims(options)))}.`;
}

/** The classic key-confusion forgery: HS256 with the public key's PEM text as the HMAC secret. */
export function hmacWithPublicKey(publicPem: string, options: MintOptions = {}): string {
  const input = `${b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))}.${b64url(JSON.stringify(libreChatClaims(options)))}`;
  return `${input}.${createHmac('sha256', publicPem).update(input).digest('base64url')}`;
}

/** A valid token with one character of its signature changed. */
export function tamperedSignature(token: string): string {
  const dot = token.lastIndexOf('.');
  const signature = token.slice(dot + 1);
  const flipped = signature[5] === 'A' ? 'B' : 'A';
  return `${token.slice(0, dot + 1)}${signature.slice(0, 5)}${flipped}${signature.slice(6)}`;
}

/** A valid token whose claims were changed after signing (sub swapped for another user). */
export function tamperedClaims(token: string, sub: string): string {
  const [header = '', payload = '', signature = ''] = token.split('.');
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  return `${header}.${b64url(JSON.stringify({ ...claims, sub }))}.${signature}`;
}
