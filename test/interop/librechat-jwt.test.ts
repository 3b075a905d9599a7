/**
 * LibreChat's JWT mode against a real Codecell: tokens minted the way codeapi.ts mints them (with a
 * key pair made here, given to Codecell as the JWT recipe says) and sent the way the client sends
 * them (authHeaders on every tool call, and on LibreChat's server-side upload and download). Forged
 * tokens are refused, and the model reads LibreChat's "not authorized" text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCodecell, type CodecellProcess, type LogEntry } from './helpers/codecell-process.js';
import { bearer, hs256WithPublicKey, makeKeyPair, mintCodeApiToken, signingEnvFor, type CodeApiJwtAlg } from './helpers/codeapi-jwt.js';
import { LibreChatCodeTools, downloadAsLibreChat, uploadAsLibreChat, type AuthHeaders } from './helpers/librechat.js';
import { applyLibreChatEnv, contextsFromEnv, jwtRecipe, pointAt } from './helpers/recipes.js';

/** The one body Codecell gives every refused credential (the reason goes to its log). */
const UNAUTHORIZED_BODY = { error: 'unauthorized', message: 'the API key or token is not valid for this server' };

const keyDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-interop-keys-'));
afterAll(() => rmSync(keyDir, { recursive: true, force: true }));

/** What the model reads when the Code API answers 401 or 403 (the ToolNode's error wrapping included). */
const REFUSED = 'Error: Execution error:\n\nCode execution is not authorized. Verify access before trying again.\n Please fix your mistakes.';

// EdDSA (LibreChat's default) with the key given as a file; RS256 with the key given as PEM text.
describe.each<[CodeApiJwtAlg, string]>([
  ['EdDSA', 'file'],
  ['RS256', 'text'],
])('recipe 1 (JWT mode), %s, public key as %s', (alg) => {
  const pair = makeKeyPair(alg, keyDir);
  let server: CodecellProcess;
  let restoreEnv: () => void;

  beforeAll(async () => {
    const recipe = jwtRecipe(pair);
    server = await startCodecell(recipe.codecell);
    restoreEnv = applyLibreChatEnv(pointAt(recipe.libreChat, server.codeBaseUrl));
  });

  afterAll(async () => {
    restoreEnv?.();
    await server?.stop();
  });

  /** getCodeApiAuthHeaders(req) for a signed-in user: a fresh token per call. */
  const signedIn = (userId: string): AuthHeaders => async () => bearer(mintCodeApiToken(userId));

  function tools(userId: string, authHeaders: AuthHeaders, profile: 'default' | 'stateful' = 'default', bodyUserId = userId): LibreChatCodeTools {
    const contexts = contextsFromEnv(userId);
    const context = profile === 'default' ? contexts.default : contexts.stateful;
    if (context === undefined) throw new Error('LIBRECHAT_CODE_BASEURL_STATEFUL is not set');
    return new LibreChatCodeTools(bodyUserId, context, authHeaders);
  }

  it('runs code for a signed-in user', async () => {
    const result = await tools('jwt-alice', signedIn('jwt-alice')).executeCode({ lang: 'py', code: 'print(2**20)' });
    expect(result.content).toBe('stdout:\n1048576');
  });

  it('uploads and downloads with the token, as LibreChat\'s server does, and a run reads the upload', async () => {
    const userId = 'jwt-files';
    const authHeaders = bearer(mintCodeApiToken(userId));
    const uploaded = await uploadAsLibreChat(server.codeBaseUrl, { userId, filename: 'n.txt', bytes: Buffer.from('12345\n'), authHeaders });
    const fileId = uploaded.files[0]?.fileId ?? '';
    const userTools = tools(userId, signedIn(userId));
    userTools.primeFiles([{ id: fileId, resource_id: fileId, name: 'n.txt', storage_session_id: uploaded.storage_session_id, kind: 'user' }]);
    const result = await userTools.executeCode({ lang: 'py', code: 'n = int(open("/mnt/data/n.txt").read())\nopen("/mnt/data/double.txt", "w").write(str(2 * n))\nprint(n + 1)' });
    expect(result.content).toContain('stdout:\n12346');
    const double = result.artifact?.files?.find((file) => file.name === 'double.txt');
    expect(double).toBeDefined();
    const download = await downloadAsLibreChat(server.codeBaseUrl, {
      sessionId: double?.storage_session_id ?? result.artifact?.session_id ?? '',
      fileId: double?.id ?? '',
      userId,
      authHeaders: bearer(mintCodeApiToken(userId)),
    });
    expect(download.status).toBe(200);
    expect(download.bytes.toString()).toBe('24690');
  });

  it('keeps users apart by the token\'s subject, whatever user_id the body names', async () => {
    const alice = tools('jwt-owner', signedIn('jwt-owner'), 'stateful');
    await alice.executeCode({ lang: 'py', code: 'secret = 7 * 6' });
    expect((await alice.executeCode({ lang: 'py', code: 'print(secret)' })).content).toBe('stdout:\n42');
    // Mallory's LibreChat build claims to be jwt-owner in the body and reuses the owner's stateful hint.
    const contexts = contextsFromEnv('jwt-owner');
    if (contexts.stateful === undefined) throw new Error('no stateful context');
    const mallory = new LibreChatCodeTools('jwt-owner', contexts.stateful, signedIn('jwt-mallory'));
    expect((await mallory.executeCode({ lang: 'py', code: 'print(secret)' })).content).toContain("NameError: name 'secret' is not defined");
  });

  const otherPair = makeKeyPair(alg, keyDir);
  /** Each forgery, and what Codecell's log must give as the reason (never the answer). */
  const forgeries: Array<[string, () => string, RegExp | null]> = [
    ['no token at all', () => '', null],
    ['a signature by another key', () => mintCodeApiToken('jwt-victim', { ...process.env, ...signingEnvFor(otherPair) }), /signature/i],
    ['a wrong issuer', () => mintCodeApiToken('jwt-victim', process.env, { claims: { iss: 'not-librechat' } }), /"iss"/],
    ['a wrong audience', () => mintCodeApiToken('jwt-victim', process.env, { claims: { aud: 'another-api' } }), /"aud"/],
    ['an expired token', () => mintCodeApiToken('jwt-victim', process.env, { shiftSeconds: -3600 }), /"exp"/],
    ['a token not valid yet', () => mintCodeApiToken('jwt-victim', process.env, { shiftSeconds: 3600 }), /"nbf"|"iat"/],
    ['alg none', () => mintCodeApiToken('jwt-victim', process.env, { header: { alg: 'none', typ: 'JWT' } }), /alg/i],
    ['HS256 with the public key as the secret', () => hs256WithPublicKey('jwt-victim', pair.publicPem), /alg/i],
  ];

  it.each(forgeries)('refuses %s, and the model reads LibreChat\'s "not authorized"', async (_name, forge, reason) => {
    const token = forge();
    const logStart = server.log.length;
    const result = await tools('jwt-victim', async () => (token === '' ? {} : bearer(token))).executeCode({ lang: 'bash', code: 'echo ran' });
    expect(result.status).toBe('error');
    expect(result.content).toBe(REFUSED);

    const raw = await fetch(`${server.codeBaseUrl}/exec`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', ...(token === '' ? {} : bearer(token)) },
      body: JSON.stringify({ lang: 'bash', code: 'echo ran', user_id: 'jwt-victim' }),
    });
    expect(raw.status).toBe(401);
    const body = (await raw.json()) as { error: string; message: string };
    if (reason === null) {
      // No credential at all: the answer says what to send.
      expect(body.error).toBe('unauthorized');
      expect(body.message).toContain('Authorization: Bearer <JWT>');
      return;
    }
    expect(body).toEqual(UNAUTHORIZED_BODY);
    // Two refusals logged (the tool's call and the raw one), each with the reason; awaiting both keeps the next case's log apart.
    const isRefusal = (entry: LogEntry): boolean => entry.msg === 'refused a LibreChat Code API token';
    const first = await server.logEntry(isRefusal, logStart);
    const second = await server.logEntry(isRefusal, server.log.indexOf(first) + 1);
    expect(String(first.reason)).toMatch(reason);
    expect(String(second.reason)).toMatch(reason);
  });
});
