/** The JWT public key setting: what starts the server, and the start-up error each bad key gets. */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';

const pem = { type: 'spki', format: 'pem' } as const;
const privatePem = { type: 'pkcs8', format: 'pem' } as const;
const ed = generateKeyPairSync('ed25519', { publicKeyEncoding: pem, privateKeyEncoding: privatePem });

function tempFile(content: string): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'codecell-jwt-key-')), 'key.pem');
  writeFileSync(file, content);
  return file;
}

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version']);
    return true;
  } catch {
    return false;
  }
}

describe('CODECELL_JWT_PUBLIC_KEY', () => {
  it('is off when unset or blank', () => {
    expect(loadSettings({}).jwt).toBeNull();
    expect(loadSettings({ CODECELL_JWT_PUBLIC_KEY: '  ' }).jwt).toBeNull();
  });

  it('takes PEM text, also with "\\n" written as two characters, with the defaults LibreChat mints for', () => {
    const escaped = ed.publicKey.trim().replace(/\n/g, '\\n');
    const jwt = loadSettings({ CODECELL_JWT_PUBLIC_KEY: escaped }).jwt;
    expect(jwt).toMatchObject({ algorithm: 'EdDSA', issuer: 'librechat', audience: 'codeapi', clockSkewSeconds: 30, maxTtlSeconds: 300 });
  });

  it('takes a file', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048, publicKeyEncoding: pem, privateKeyEncoding: privatePem });
    expect(loadSettings({ CODECELL_JWT_PUBLIC_KEY_FILE: tempFile(rsa.publicKey) }).jwt?.algorithm).toBe('RS256');
  });

  it.skipIf(!hasOpenssl())('takes the public key made by the openssl commands in the docs, and refuses the private one', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'codecell-jwt-openssl-'));
    const privateFile = path.join(dir, 'codeapi-private.pem');
    const publicFile = path.join(dir, 'codeapi-public.pem');
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', privateFile]);
    execFileSync('openssl', ['pkey', '-in', privateFile, '-pubout', '-out', publicFile]);
    expect(loadSettings({ CODECELL_JWT_PUBLIC_KEY_FILE: publicFile }).jwt?.algorithm).toBe('EdDSA');
    expect(() => loadSettings({ CODECELL_JWT_PUBLIC_KEY_FILE: privateFile })).toThrow(/holds a private key/);
  });

  it('takes a public JWK', () => {
    const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
    expect(loadSettings({ CODECELL_JWT_PUBLIC_KEY: JSON.stringify(jwk) }).jwt?.algorithm).toBe('EdDSA');
  });

  it.each([
    ['a private PEM key', { CODECELL_JWT_PUBLIC_KEY: ed.privateKey }, /holds a private key.*openssl pkey/],
    ['a private JWK', { CODECELL_JWT_PUBLIC_KEY: JSON.stringify(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })) }, /private JWK/],
    ['an EC key', { CODECELL_JWT_PUBLIC_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256', publicKeyEncoding: pem, privateKeyEncoding: privatePem }).publicKey }, /is a ec key; LibreChat signs with Ed25519/],
    ['a 1024-bit RSA key', { CODECELL_JWT_PUBLIC_KEY: generateKeyPairSync('rsa', { modulusLength: 1024, publicKeyEncoding: pem, privateKeyEncoding: privatePem }).publicKey }, /1024-bit RSA key; at least 2048/],
    ['text that is no key', { CODECELL_JWT_PUBLIC_KEY: 'not-a-key' }, /not a PEM public key/],
    ['a broken PEM', { CODECELL_JWT_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----' }, /not a readable PEM public key/],
    ['broken JSON', { CODECELL_JWT_PUBLIC_KEY: '{"kty":' }, /not valid JSON/],
    ['a missing file', { CODECELL_JWT_PUBLIC_KEY_FILE: '/nonexistent/codeapi.pem' }, /CODECELL_JWT_PUBLIC_KEY_FILE \(\/nonexistent\/codeapi.pem\) cannot be read/],
    ['both text and file', { CODECELL_JWT_PUBLIC_KEY: ed.publicKey, CODECELL_JWT_PUBLIC_KEY_FILE: tempFile(ed.publicKey) }, /not both/],
    ['a skew beyond 300 s', { CODECELL_JWT_PUBLIC_KEY: ed.publicKey, CODECELL_JWT_CLOCK_SKEW_SECONDS: '301' }, /CODECELL_JWT_CLOCK_SKEW_SECONDS/],
  ])('refuses %s at start-up with a message that says what to do', (_name, env, message) => {
    expect(() => loadSettings(env)).toThrow(message);
  });
});
