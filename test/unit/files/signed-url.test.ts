import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DownloadSigner, loadSigningKey } from '../../../src/files/signed-url.js';

const SESSION = '0b6f8a52-2c1e-4c7e-9a4f-3d2b1c0e9f8a';

describe('DownloadSigner', () => {
  const clock = { now: 1_700_000_000_000 };
  const signer = new DownloadSigner(Buffer.alloc(32, 7), () => clock.now);

  it('round-trips the session, path and expiry', () => {
    const token = signer.sign(SESSION, 'out/résumé ☃.pdf', 60_000);
    expect(token).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    expect(signer.verify(token)).toEqual({
      ok: true,
      target: { sessionId: SESSION, path: 'out/résumé ☃.pdf', expiresAtMs: clock.now + 60_000 },
    });
  });

  it('refuses a token after its expiry', () => {
    const token = signer.sign(SESSION, 'a.txt', 1000);
    clock.now += 1001;
    expect(signer.verify(token)).toEqual({ ok: false, reason: 'expired' });
  });

  it('refuses a token pointed at another file or session, or extended', () => {
    const token = signer.sign(SESSION, 'a.txt', 60_000);
    const [payload, mac] = token.split('.') as [string, string];
    const fields = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
    for (const forged of [
      { ...fields, p: 'b.txt' },
      { ...fields, s: '11111111-2222-4333-8444-555555555555' },
      { ...fields, e: Number(fields.e) + 10_000_000 },
    ]) {
      const forgedToken = `${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${mac}`;
      expect(signer.verify(forgedToken)).toEqual({ ok: false, reason: 'bad-signature' });
    }
  });

  it('accepts only the canonical spelling of a MAC (its last character carries 2 spare bits)', () => {
    const token = signer.sign(SESSION, 'a.txt', 60_000);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const accepted = [...alphabet].filter((last) => signer.verify(`${token.slice(0, -1)}${last}`).ok);
    expect(accepted).toEqual([token.slice(-1)]);
  });

  it('refuses tokens signed with another key and malformed tokens', () => {
    const other = new DownloadSigner(Buffer.alloc(32, 8), () => clock.now);
    expect(signer.verify(other.sign(SESSION, 'a.txt', 60_000))).toEqual({ ok: false, reason: 'bad-signature' });
    for (const junk of ['', 'abc', 'a.b', `${'a'.repeat(10)}.${'b'.repeat(44)}`, '../../etc/passwd']) {
      expect(signer.verify(junk).ok).toBe(false);
    }
  });
});

describe('loadSigningKey', () => {
  let dataDir: string;
  beforeEach(async () => {
    dataDir = await mkdtemp(path.join(tmpdir(), 'codecell-key-'));
  });
  afterEach(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  it('makes a random key once, mode 0600, and keeps it across restarts', async () => {
    const first = loadSigningKey({ signingKey: undefined, dataDir });
    const second = loadSigningKey({ signingKey: undefined, dataDir });
    expect(first).toHaveLength(32);
    expect(second.equals(first)).toBe(true);
    expect((await stat(path.join(dataDir, 'signing.key'))).mode & 0o777).toBe(0o600);
  });

  it('uses CODECELL_SIGNING_KEY when set, and touches no file', async () => {
    const key = loadSigningKey({ signingKey: 'k'.repeat(40), dataDir });
    expect(key.toString('utf8')).toBe('k'.repeat(40));
    await expect(stat(path.join(dataDir, 'signing.key'))).rejects.toThrow();
  });

  it('refuses to start with a damaged key file', async () => {
    await writeFile(path.join(dataDir, 'signing.key'), 'not a key');
    expect(() => loadSigningKey({ signingKey: undefined, dataDir })).toThrow(/not a signing key/);
  });
});
