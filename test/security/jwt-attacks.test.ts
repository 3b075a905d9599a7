/**
 * Red-team attacks on LibreChat's JWT mode (CODEAPI_AUTH_PROVIDER=librechat-jwt), from outside,
 * on a real server on loopback: forgeries test/librechat-code-api/jwt-auth.test.ts does not try
 * (other HMAC sizes, `none` spellings, PS256 with the RSA key, HMAC with the JWK or DER as secret,
 * embedded keys, crit, b64:false, claim types, duplicate headers), a validly signed token whose
 * `sub` is not a string, and whether one tenant's token users can take the whole server from the
 * API key's users. Every forgery must be 401 with the one generic body, and the server must keep
 * serving.
 */
import { createHmac, createPublicKey, KeyObject, randomUUID, sign } from 'node:crypto';
import net from 'node:net';
import { exportJWK } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INVALID_CREDENTIALS_MESSAGE } from '../../src/interfaces/http/auth.js';
import { libreChatClaims, mintKeys, mintToken, type MintAlgorithm, type MintKeys } from '../helpers/librechat-jwt.js';
import { multipartBody } from '../unit/files/helpers.js';
import { startTestServer, TEST_KEY, type TestServer } from '../interfaces/helpers/test-server.js';

const NO_POOLS = { CODECELL_POOL_PYTHON: '0', CODECELL_POOL_PYTHON_LEAN: '0', CODECELL_POOL_NODE: '0', CODECELL_POOL_BASH: '0' };

/** A JWT-mode server (a fresh `algorithm` key) for the describe block around it; `use` hands it and its keys to the tests. */
function withJwtServer(algorithm: MintAlgorithm, env: Record<string, string>, use: (server: TestServer, keys: MintKeys) => void): void {
  let server: TestServer | undefined;
  beforeAll(async () => {
    const keys = await mintKeys(algorithm);
    server = await startTestServer({ env: { ...NO_POOLS, ...env, CODECELL_JWT_PUBLIC_KEY: keys.publicPem } });
    use(server, keys);
  });
  afterAll(async () => {
    await server?.close();
  });
}
const UNAUTHORIZED_BODY = JSON.stringify({ error: 'unauthorized', message: INVALID_CREDENTIALS_MESSAGE });
/** A well-formed session id nobody holds: an authenticated caller gets 404 for it, anyone else 401. */
const NO_SUCH_SESSION = '/v1/files/AAAAAAAAAAAAAAAAAAAAA';

function b64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

function json(value: unknown): string {
  return b64url(JSON.stringify(value));
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Signs any header and payload text as-is with the real private key (jose would refuse to build some of these). */
function signRaw(keys: MintKeys, header: string, payload: string, pss = false): string {
  const input = `${header}.${payload}`;
  const privateKey = keys.privateKey instanceof KeyObject ? keys.privateKey : KeyObject.from(keys.privateKey);
  const signature =
    keys.algorithm === 'EdDSA'
      ? sign(null, Buffer.from(input), privateKey)
      : sign('sha256', Buffer.from(input), pss ? { key: privateKey, padding: 6 /* RSA_PKCS1_PSS_PADDING */ } : privateKey);
  return `${input}.${b64url(signature)}`;
}

function signedClaims(keys: MintKeys, claims: Record<string, unknown>, header: Record<string, unknown> = {}): string {
  return signRaw(keys, json({ alg: keys.algorithm, typ: 'JWT', ...header }), json(claims));
}

function hmac(alg: 'HS256' | 'HS384' | 'HS512', secret: string | Buffer): string {
  const input = `${json({ alg, typ: 'JWT' })}.${json(libreChatClaims())}`;
  return `${input}.${createHmac(`sha${alg.slice(2)}`, secret).update(input).digest('base64url')}`;
}

async function statusOf(server: TestServer, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const response = await fetch(`${server.url}${NO_SUCH_SESSION}`, { headers });
  return { status: response.status, body: await response.text() };
}

/** One raw HTTP/1.1 request, so a header can be sent twice. Returns the status code. */
async function rawStatus(server: TestServer, headerLines: readonly string[]): Promise<number> {
  const { hostname, port } = new URL(server.url);
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = net.connect(Number(port), hostname, () => {
      socket.write(`GET ${NO_SUCH_SESSION} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nConnection: close\r\n${headerLines.map((line) => `${line}\r\n`).join('')}\r\n`);
    });
    let text = '';
    socket.on('data', (chunk: Buffer) => (text += chunk.toString('latin1')));
    socket.on('end', () => resolve(text));
    socket.on('error', reject);
  });
  return Number(/^HTTP\/1\.1 (\d{3})/.exec(answer)?.[1] ?? '0');
}

describe('JWT mode (Ed25519 key) against forgeries the interop tests do not try', () => {
  let server: TestServer;
  let keys: MintKeys;
  withJwtServer('EdDSA', {}, (started, made) => {
    server = started;
    keys = made;
  });

  it('refuses every forgery and claim trick with 401 and the one body, and still accepts a real token', async () => {
    const now = nowSeconds();
    const claims = (overrides: Record<string, unknown>): Record<string, unknown> => ({ ...libreChatClaims(), ...overrides });
    const stranger = await mintKeys('EdDSA');
    const strangerJwk = await exportJWK(stranger.publicKey);
    const der = createPublicKey(keys.publicPem).export({ format: 'der', type: 'spki' });
    const jwkText = JSON.stringify(createPublicKey(keys.publicPem).export({ format: 'jwk' }));
    const forgeries: Record<string, string> = {
      'HS256, PEM without its newline': hmac('HS256', keys.publicPem.trim()),
      'HS384 with the PEM': hmac('HS384', keys.publicPem),
      'HS512 with the PEM': hmac('HS512', keys.publicPem),
      'HS256 with the JWK text': hmac('HS256', jwkText),
      'HS256 with the DER bytes': hmac('HS256', der),
      'alg None': `${json({ alg: 'None' })}.${json(libreChatClaims())}.`,
      'alg NONE': `${json({ alg: 'NONE' })}.${json(libreChatClaims())}.`,
      'alg eddsa (lower case)': signRaw(keys, json({ alg: 'eddsa' }), json(libreChatClaims())),
      'stranger signs and embeds its own jwk': signedClaims(stranger, libreChatClaims(), { jwk: strangerJwk }),
      'stranger signs and points jku at itself': signedClaims(stranger, libreChatClaims(), { jku: 'http://127.0.0.1:1/jwks.json', kid: 'x' }),
      'unknown crit extension': signedClaims(keys, libreChatClaims(), { crit: ['exp2'], exp2: 1 }),
      'b64: false': signedClaims(keys, libreChatClaims(), { crit: ['b64'], b64: false }),
      'iss as an array': signedClaims(keys, claims({ iss: ['librechat'] })),
      'exp as a string': signedClaims(keys, claims({ exp: String(now + 100) })),
      'exp far in the future': signedClaims(keys, claims({ exp: 1e20 })),
      'iat beyond the skew in the future': signedClaims(keys, claims({ iat: now + 200, nbf: now, exp: now + 400 })),
      'lives longer than the max TTL': signedClaims(keys, claims({ exp: now + 3000 })),
      'expired beyond the skew': signedClaims(keys, claims({ iat: now - 400, nbf: now - 400, exp: now - 100 })),
      'no iat': signedClaims(keys, claims({ iat: undefined })),
      'sub with a NUL': signedClaims(keys, claims({ sub: 'alice\u0000bob' })),
      'sub with a space': signedClaims(keys, claims({ sub: 'agent x' })),
      'sub in unicode': signedClaims(keys, claims({ sub: 'ålice' })),
      'sub of 201 characters': signedClaims(keys, claims({ sub: 'a'.repeat(201) })),
      'tenant_id as a number': signedClaims(keys, claims({ tenant_id: 7 })),
      'tenant_id with a NUL': signedClaims(keys, claims({ tenant_id: 'legacy\u0000x' })),
    };
    // Not shaped like a token (more than three parts, or too long): judged as keys, so only a key beside them helps.
    const notTokens: Record<string, string> = {
      'many dots': `${'a.'.repeat(2000)}a`,
      'longer than 8 KiB': `${json({ alg: 'EdDSA' })}.${'A'.repeat(9000)}.sig`,
    };
    for (const [name, value] of Object.entries(notTokens)) {
      expect(await statusOf(server, { Authorization: `Bearer ${value}` }), name).toEqual({ status: 401, body: UNAUTHORIZED_BODY });
    }
    for (const [name, token] of Object.entries(forgeries)) {
      const variants: Array<Record<string, string>> = [{ Authorization: `Bearer ${token}` }, { Authorization: `Bearer ${token}`, 'X-API-Key': TEST_KEY }];
      for (const headers of variants) {
        const answer = await statusOf(server, headers);
        expect(answer.status, name).toBe(401);
        expect(answer.body, name).toBe(UNAUTHORIZED_BODY);
      }
    }
    expect((await statusOf(server, { Authorization: `Bearer ${await mintToken(keys)}` })).status).toBe(404);
  });

  it('a second Authorization header neither rescues a bad token nor spoils a good one: the first one counts', async () => {
    const good = await mintToken(keys);
    const bad = await mintToken(keys, { audience: 'not-codeapi' });
    expect(await rawStatus(server, [`Authorization: Bearer ${bad}`, `Authorization: Bearer ${good}`])).toBe(401);
    expect(await rawStatus(server, [`Authorization: Bearer ${bad}`, `Authorization: Bearer ${TEST_KEY}`])).toBe(401);
    expect(await rawStatus(server, [`Authorization: Bearer ${good}`, `Authorization: Bearer ${bad}`])).toBe(404);
    // A token is never a key: not in X-API-Key, not as Basic's user name.
    expect(await rawStatus(server, [`X-API-Key: ${good}`])).toBe(401);
    expect(await rawStatus(server, [`Authorization: Basic ${Buffer.from(`${good}:`).toString('base64')}`])).toBe(401);
  });

  // Hole: jose does not check the type of `sub`, and USER_ID_PATTERN.test() coerces it to a string,
  // so 12345, ["alice"] and true pass the check and then crash principalFor() (hash.update) with a 500.
  it('answers 401, not 500, for a validly signed token whose sub is not a string', async () => {
    for (const sub of [12345, ['alice'], true]) {
      const token = signedClaims(keys, { ...libreChatClaims(), sub, jti: randomUUID() });
      const answer = await statusOf(server, { Authorization: `Bearer ${token}` });
      expect(answer.status, JSON.stringify(sub)).toBe(401);
      expect(answer.body, JSON.stringify(sub)).toBe(UNAUTHORIZED_BODY);
    }
    expect((await statusOf(server, { Authorization: `Bearer ${await mintToken(keys)}` })).status).toBe(404);
  });
});

describe('JWT mode: shared and MCP sessions stay inside their tenant', () => {
  let server: TestServer;
  let keys: MintKeys;
  withJwtServer('EdDSA', {}, (started, made) => {
    server = started;
    keys = made;
  });

  const bearer = async (sub: string, tenantId = 'acme'): Promise<Record<string, string>> => ({ Authorization: `Bearer ${await mintToken(keys, { sub, tenantId })}` });

  async function upload(headers: Record<string, string>, fields: Record<string, string>, name: string): Promise<{ session: string; fileId: string }> {
    const parts = [...Object.entries(fields).map(([field, content]) => ({ name: field, content })), { name: 'file', filename: name, content: `secret ${name}` }];
    const { body, contentType } = multipartBody(parts);
    const response = await fetch(`${server.url}/v1/upload`, { method: 'POST', headers: { ...headers, 'Content-Type': contentType }, body: new Uint8Array(body) });
    expect(response.status).toBe(200);
    const answer = (await response.json()) as { storage_session_id: string; files: Array<{ fileId: string }> };
    return { session: answer.storage_session_id, fileId: answer.files[0]?.fileId ?? '' };
  }

  async function download(path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
    const response = await fetch(`${server.url}/v1${path}`, { headers });
    return { status: response.status, body: await response.text() };
  }

  it('an agent upload and an entity_id upload are read inside the tenant only, never by another tenant or the key', async () => {
    const agent = await upload(await bearer('alice'), { kind: 'agent', id: 'agent-1' }, 'agent.txt');
    const entity = await upload(await bearer('alice'), { entity_id: 'entity-1' }, 'entity.txt');
    const agentPath = `/download/${agent.session}/${agent.fileId}?kind=agent&id=agent-1`;
    const entityPath = `/download/${entity.session}/${entity.fileId}`;
    // Shared within tenant acme, as with one key.
    expect(await download(agentPath, await bearer('bob'))).toEqual({ status: 200, body: 'secret agent.txt' });
    expect(await download(entityPath, await bearer('bob'))).toEqual({ status: 200, body: 'secret entity.txt' });
    const outsiders: Record<string, Record<string, string>> = {
      'the same sub in another tenant': await bearer('alice', 'globex'),
      'no tenant': { Authorization: `Bearer ${await mintToken(keys, { sub: 'alice', tenantId: undefined })}` },
      'the API key naming no user (the LibreChat server itself)': { 'X-API-Key': TEST_KEY },
      'the API key naming alice': { 'X-API-Key': TEST_KEY, 'X-User-Id': 'alice' },
    };
    for (const [who, headers] of Object.entries(outsiders)) {
      expect((await download(agentPath, headers)).status, who).toBe(404);
      expect((await download(entityPath, headers)).status, who).toBe(404);
      expect((await download(`/sessions/${entity.session}/objects/${entity.fileId}`, headers)).status, who).toBe(404);
      expect((await download(`/files/${entity.session}?detail=full`, headers)).status, who).toBe(404);
    }
  });

  it('an MCP session opened with one token is not found for another sub, another tenant or the key', async () => {
    const mcp = async (headers: Record<string, string>, message: unknown, sessionId?: string): Promise<Response> =>
      fetch(`${server.url}/mcp`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          Accept: 'application/json, text/event-stream',
          ...(sessionId === undefined ? {} : { 'Mcp-Session-Id': sessionId, 'Mcp-Protocol-Version': '2025-06-18' }),
          ...headers,
        },
        body: JSON.stringify(message),
      });
    const opened = await mcp(await bearer('alice'), { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'rev-jwt', version: '1' } } });
    expect(opened.status).toBe(200);
    await opened.text();
    const sessionId = opened.headers.get('mcp-session-id') ?? '';
    expect(sessionId).not.toBe('');
    const list = { jsonrpc: '2.0', id: 2, method: 'tools/list' };
    const strangers: Record<string, Record<string, string>> = {
      'another sub': await bearer('bob'),
      'another tenant': await bearer('alice', 'globex'),
      'the key naming alice': { 'X-API-Key': TEST_KEY, 'X-User-Id': 'alice' },
    };
    for (const [who, headers] of Object.entries(strangers)) {
      const answer = await mcp(headers, list, sessionId);
      expect(answer.status, who).toBe(404);
      await answer.text();
    }
    // Alice's next token (a new jti) still reaches her session.
    const mine = await mcp(await bearer('alice'), list, sessionId);
    expect(mine.status).toBe(200);
    expect(await mine.text()).toContain('execute_python_code');
  });
});

describe('JWT mode (RSA key) against algorithm confusion', () => {
  let server: TestServer;
  let keys: MintKeys;
  withJwtServer('RS256', { CODECELL_API_KEYS: '' }, (started, made) => {
    server = started;
    keys = made;
  });

  it('accepts RS256 only: PS256 and RS512 signed by the real key, EdDSA, and HMAC with the PEM, JWK or DER are 401', async () => {
    const der = createPublicKey(keys.publicPem).export({ format: 'der', type: 'spki' });
    const jwkText = JSON.stringify(createPublicKey(keys.publicPem).export({ format: 'jwk' }));
    const forgeries: Record<string, string> = {
      'PS256 with the real key': signRaw(keys, json({ alg: 'PS256', typ: 'JWT' }), json(libreChatClaims()), true),
      'RS512 header over an RS256 signature': signRaw(keys, json({ alg: 'RS512', typ: 'JWT' }), json(libreChatClaims())),
      'EdDSA from an Ed25519 key': await mintToken(await mintKeys('EdDSA')),
      'HS256 with the PEM': hmac('HS256', keys.publicPem),
      'HS256 with the JWK text': hmac('HS256', jwkText),
      'HS256 with the DER bytes': hmac('HS256', der),
      'alg none': `${json({ alg: 'none' })}.${json(libreChatClaims())}.`,
    };
    for (const [name, token] of Object.entries(forgeries)) {
      const answer = await statusOf(server, { Authorization: `Bearer ${token}` });
      expect(answer.status, name).toBe(401);
      expect(answer.body, name).toBe(UNAUTHORIZED_BODY);
    }
    expect((await statusOf(server, { Authorization: `Bearer ${await mintToken(keys)}` })).status).toBe(404);
  });
});

// Hole: the per-key session cap is the whole server when there is one API key (or none), because
// only CODECELL_API_KEYS is counted. A JWT tenant is one more "key" (its own keyId), so with one key
// beside JWT mode, LibreChat's token users can hold every session and the key's users get 429.
describe('per-key session cap with an API key beside JWT mode', () => {
  let server: TestServer;
  let keys: MintKeys;
  withJwtServer('EdDSA', { MAX_SESSIONS: '2' }, (started, made) => {
    server = started;
    keys = made;
  });

  async function upload(headers: Record<string, string>, name: string): Promise<number> {
    const { body, contentType } = multipartBody([{ name: 'file', filename: name, content: `content of ${name}` }]);
    const response = await fetch(`${server.url}/v1/upload`, { method: 'POST', headers: { ...headers, 'Content-Type': contentType }, body: new Uint8Array(body) });
    await response.arrayBuffer();
    return response.status;
  }

  it('leaves the key users their share when one tenant’s token users fill up first', async () => {
    const tenantStatuses = [
      await upload({ Authorization: `Bearer ${await mintToken(keys, { sub: 'token-user-1' })}` }, 'one.txt'),
      await upload({ Authorization: `Bearer ${await mintToken(keys, { sub: 'token-user-2' })}` }, 'two.txt'),
    ];
    expect(tenantStatuses[0]).toBe(200);
    // The tenant holds at most half of MAX_SESSIONS=2, as a second API key would.
    expect(tenantStatuses.filter((status) => status === 200)).toHaveLength(1);
    expect(await upload({ 'X-API-Key': TEST_KEY, 'X-User-Id': 'key-user' }, 'three.txt')).toBe(200);
  });
});
