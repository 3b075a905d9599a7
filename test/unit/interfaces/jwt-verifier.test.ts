/**
 * LibreChat's Code API tokens: what the verifier accepts and every forgery it refuses. Keys are
 * made with jose at test time and given to Codecell the way an admin would (PEM in the settings).
 */
import { describe, expect, it } from 'vitest';
import { loadSettings, type JwtSettings } from '../../../src/config/settings.js';
import { createJwtVerifier, type TokenVerdict } from '../../../src/interfaces/http/jwt-verifier.js';
import {
  hmacWithPublicKey,
  mintKeys,
  mintToken,
  tamperedClaims,
  tamperedSignature,
  unsignedToken,
  type MintKeys,
} from '../../helpers/librechat-jwt.js';

function jwtSettings(publicPem: string, env: Record<string, string> = {}): JwtSettings {
  const settings = loadSettings({ CODECELL_JWT_PUBLIC_KEY: publicPem, ...env });
  if (settings.jwt === null) throw new Error('JWT mode is off');
  return settings.jwt;
}

function reasonOf(verdict: TokenVerdict): string {
  return verdict.ok ? 'accepted' : verdict.reason;
}

const now = () => Math.floor(Date.now() / 1000);

describe.each(['EdDSA', 'RS256'] as const)('a %s key', (algorithm) => {
  let keys: MintKeys;
  let other: MintKeys;
  const verifier = async (env: Record<string, string> = {}) => createJwtVerifier(jwtSettings(keys.publicPem, env));

  it('is read from PEM with the algorithm its type allows', async () => {
    keys = await mintKeys(algorithm);
    other = await mintKeys(algorithm);
    expect(jwtSettings(keys.publicPem).algorithm).toBe(algorithm);
  });

  it('accepts a token minted as LibreChat mints it, and names its user and tenant', async () => {
    const verdict = await (await verifier())(await mintToken(keys, { sub: '665f1c0ffee0000000000001', tenantId: 'acme' }));
    expect(verdict).toEqual({ ok: true, identity: { subject: '665f1c0ffee0000000000001', tenant: 'acme', issuer: 'librechat' } });
  });

  it('takes a tenant name an admin chose freely (spaces, any script)', async () => {
    const verdict = await (await verifier())(await mintToken(keys, { tenantId: 'Équipe Données 2' }));
    expect(verdict.ok && verdict.identity.tenant).toBe('Équipe Données 2');
  });

  it('takes a token without tenant_id as tenant ""', async () => {
    const verdict = await (await verifier())(await mintToken(keys, { tenantId: undefined }));
    expect(verdict.ok && verdict.identity.tenant).toBe('');
  });

  it('refuses each forgery with a reason', async () => {
    const verify = await verifier();
    const forgeries: Record<string, [string, RegExp]> = {
      'signed by another key': [await mintToken(other), /SIGNATURE_VERIFICATION_FAILED/],
      'signature changed': [tamperedSignature(await mintToken(keys)), /SIGNATURE_VERIFICATION_FAILED/],
      'sub changed after signing': [tamperedClaims(await mintToken(keys, { sub: 'user-a' }), 'user-b'), /SIGNATURE_VERIFICATION_FAILED/],
      'wrong issuer': [await mintToken(keys, { issuer: 'someone-else' }), /"iss"/],
      'wrong audience': [await mintToken(keys, { audience: 'other-api' }), /"aud"/],
      expired: [await mintToken(keys, { now: now() - 400, ttlSeconds: 300 }), /"exp"/],
      'not yet valid (nbf)': [await mintToken(keys, { claims: { nbf: now() + 120 } }), /"nbf"/],
      'issued in the future (iat)': [await mintToken(keys, { now: now() + 120, claims: { nbf: undefined } }), /"iat"/],
      'no exp': [await mintToken(keys, { claims: { exp: undefined } }), /missing required "exp"/],
      'no iat': [await mintToken(keys, { claims: { iat: undefined } }), /"iat"/],
      'no sub': [await mintToken(keys, { claims: { sub: undefined } }), /missing required "sub"/],
      'sub with spaces': [await mintToken(keys, { sub: 'agent x' }), /sub is not/],
      'sub a number (jose does not check its type)': [await mintToken(keys, { claims: { sub: 12345 } }), /sub is not/],
      'sub an array': [await mintToken(keys, { claims: { sub: ['user-a'] } }), /sub is not/],
      'tenant_id not a string': [await mintToken(keys, { claims: { tenant_id: 42 } }), /tenant_id/],
      'tenant_id with a control character': [await mintToken(keys, { claims: { tenant_id: 'acme\u0007' } }), /tenant_id/],
      'lives too long (exp - iat)': [await mintToken(keys, { ttlSeconds: 3600 }), /lives 3600 s/],
      'alg none': [unsignedToken(), /ALG_NOT_ALLOWED/],
      'HS256 with the public key as secret': [hmacWithPublicKey(keys.publicPem), /ALG_NOT_ALLOWED/],
      garbage: ['eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.c2ln', /^ERR_J/],
      'not a JWT at all': ['lc-test-key-123456', /not a compact JWS/],
      'far too long': [`${'a'.repeat(9000)}.b.c`, /not a compact JWS/],
    };
    for (const [name, [token, reason]] of Object.entries(forgeries)) {
      expect(reasonOf(await verify(token)), name).toMatch(reason);
    }
  });

  it('honours the configured issuer and audience (LibreChat CODEAPI_JWT_ISSUER / _AUDIENCE)', async () => {
    const verify = await verifier({ CODECELL_JWT_ISSUER: 'lc-prod', CODECELL_JWT_AUDIENCE: 'codecell' });
    expect((await verify(await mintToken(keys, { issuer: 'lc-prod', audience: 'codecell' }))).ok).toBe(true);
    expect((await verify(await mintToken(keys))).ok).toBe(false);
  });
});

describe('clock skew', () => {
  it('accepts a token expired 20 s ago with 30 s of skew, refuses it with 5 s', async () => {
    const keys = await mintKeys('EdDSA');
    const token = await mintToken(keys, { now: now() - 320, ttlSeconds: 300 });
    const lenient = createJwtVerifier(jwtSettings(keys.publicPem, { CODECELL_JWT_CLOCK_SKEW_SECONDS: '30' }));
    const strict = createJwtVerifier(jwtSettings(keys.publicPem, { CODECELL_JWT_CLOCK_SKEW_SECONDS: '5' }));
    expect(reasonOf(await lenient(token))).toBe('accepted');
    expect(reasonOf(await strict(token))).toMatch(/exp/);
  });

  it('accepts a token from a clock 20 s ahead with 30 s of skew, refuses it with 5 s', async () => {
    const keys = await mintKeys('EdDSA');
    const token = await mintToken(keys, { now: now() + 20 });
    const lenient = createJwtVerifier(jwtSettings(keys.publicPem, { CODECELL_JWT_CLOCK_SKEW_SECONDS: '30' }));
    const strict = createJwtVerifier(jwtSettings(keys.publicPem, { CODECELL_JWT_CLOCK_SKEW_SECONDS: '5' }));
    expect(reasonOf(await lenient(token))).toBe('accepted');
    expect(reasonOf(await strict(token))).toMatch(/nbf|iat/);
  });

  it('uses the verifier clock it is given', async () => {
    const keys = await mintKeys('EdDSA');
    const token = await mintToken(keys);
    const later = createJwtVerifier(jwtSettings(keys.publicPem), () => new Date(Date.now() + 10 * 60_000));
    expect(reasonOf(await later(token))).toMatch(/exp/);
  });
});

describe('a token for the other algorithm', () => {
  it('is refused: an Ed25519 key verifies EdDSA only, an RSA key RS256 only', async () => {
    const ed = await mintKeys('EdDSA');
    const rsa = await mintKeys('RS256');
    expect((await createJwtVerifier(jwtSettings(ed.publicPem))(await mintToken(rsa))).ok).toBe(false);
    expect((await createJwtVerifier(jwtSettings(rsa.publicPem))(await mintToken(ed))).ok).toBe(false);
  });
});
