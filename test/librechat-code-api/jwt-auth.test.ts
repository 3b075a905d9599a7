/**
 * LibreChat's JWT mode (CODEAPI_AUTH_PROVIDER=librechat-jwt) on a real Codecell server (loopback,
 * real Docker), with tokens minted as LibreChat mints them: a valid token runs code, its `sub` is
 * the user (nothing else in the request can change that), two users and two tenants stay apart,
 * every forgery is 401 with one body, and the server keeps serving. API keys keep working beside it.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INVALID_CREDENTIALS_MESSAGE } from '../../src/interfaces/http/auth.js';
import { multipartBody } from '../unit/files/helpers.js';
import { callTool, connectStreamable, textOf } from '../interfaces/helpers/mcp-client.js';
import { startTestServer, TEST_KEY, type TestServer } from '../interfaces/helpers/test-server.js';
import { TESTS_USE_DOCKER } from '../helpers/engine.js';
import {
  hmacWithPublicKey,
  mintKeys,
  mintToken,
  tamperedClaims,
  tamperedSignature,
  unsignedToken,
  type MintKeys,
  type MintOptions,
} from '../helpers/librechat-jwt.js';

interface ExecResult {
  session_id: string;
  stdout: string;
  stderr: string;
  files: Array<{ id: string; name: string; storage_session_id?: string }>;
  status: string;
}

type Headers = Record<string, string>;

/** Closes a test server and, on Docker, checks none of its containers is left (the process executor's leftovers are its own suite's business). */
async function closeAndCheck(server: TestServer | undefined): Promise<void> {
  if (server === undefined) return;
  const instance = createHash('sha256').update(server.dataDir).digest('hex').slice(0, 16);
  await server.close();
  if (TESTS_USE_DOCKER) expect(execFileSync('docker', ['ps', '-aq', '--filter', `label=codecell.instance=${instance}`], { encoding: 'utf8' }).trim()).toBe('');
}

describe('LibreChat JWT mode', () => {
  let server: TestServer;
  let keys: MintKeys;
  let stranger: MintKeys;

  beforeAll(async () => {
    keys = await mintKeys('EdDSA');
    stranger = await mintKeys('EdDSA');
    // Both modes at once: LibreChat with JWT, and an older client with the key.
    server = await startTestServer({ env: { CODECELL_JWT_PUBLIC_KEY: keys.publicPem } });
  });

  afterAll(async () => {
    await closeAndCheck(server);
  });

  const bearer = async (options: MintOptions = {}): Promise<Headers> => ({ Authorization: `Bearer ${await mintToken(keys, options)}` });

  async function post(path: string, body: unknown, headers: Headers): Promise<Response> {
    return fetch(`${server.url}/v1${path}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'User-Agent': 'LibreChat/1.0', ...headers },
      body: JSON.stringify(body),
    });
  }

  async function exec(body: Record<string, unknown>, headers: Headers): Promise<ExecResult> {
    const response = await post('/exec', body, headers);
    const text = await response.text();
    expect(response.status, text).toBe(200);
    return JSON.parse(text) as ExecResult;
  }

  async function get(path: string, headers: Headers): Promise<Response> {
    return fetch(`${server.url}/v1${path}`, { headers });
  }

  it('runs code for a valid token, as LibreChat sends it (user_id and the profile header in tow)', async () => {
    const result = await exec(
      { lang: 'py', code: 'print(6 * 7)', user_id: 'user-a', files: [], codeSessionKey: 'execute_code' },
      { ...(await bearer({ sub: 'user-a' })), 'X-CodeAPI-Expected-Profile': 'default' },
    );
    expect(result.stdout).toBe('42\n');
    expect(result.status).toBe('ok');
  });

  it('keeps two subs apart: files, downloads, listings, sessions and hints', async () => {
    const alice = await bearer({ sub: 'alice-0001' });
    const bob = await bearer({ sub: 'bob-0002' });
    // Stateful mode as LibreChat sends it: a hint and the profile header (which Codecell accepts and ignores).
    const stateful = { 'X-CodeAPI-Expected-Profile': 'stateful' };
    const written = await exec({ lang: 'py', code: 'open("secret.txt", "w").write("alice only")\nx = 7', runtime_session_hint: 'thread-1' }, { ...alice, ...stateful });
    const file = written.files.find((entry) => entry.name === 'secret.txt');
    if (file === undefined) throw new Error(`secret.txt not listed: ${JSON.stringify(written.files)}`);
    const download = `/download/${written.session_id}/${file.id}`;

    const mine = await get(download, alice);
    expect(mine.status).toBe(200);
    expect(await mine.text()).toBe('alice only');
    // Bob's token, however he names the user, never reaches alice's session.
    for (const attempt of [bob, { ...bob, 'User-Id': 'alice-0001' }, { ...bob, 'X-User-Id': 'alice-0001' }]) {
      expect((await get(download, attempt)).status).toBe(404);
      expect((await get(`${download}?kind=user&id=alice-0001`, attempt)).status).toBe(404);
      expect((await get(`/files/${written.session_id}?detail=full`, attempt)).status).toBe(404);
      expect((await get(`/sessions/${written.session_id}/objects/${file.id}`, attempt)).status).toBe(404);
    }
    const bobRun = await exec({ lang: 'py', code: 'import os\nprint(os.path.exists("secret.txt"), "x" in globals())', session_id: written.session_id, user_id: 'alice-0001' }, bob);
    expect(bobRun.session_id).not.toBe(written.session_id);
    expect(bobRun.stdout).toBe('False False\n');
    const bobHint = await exec({ lang: 'py', code: 'print("x" in globals())', runtime_session_hint: 'thread-1' }, { ...bob, ...stateful });
    expect(bobHint.session_id).not.toBe(written.session_id);
    expect(bobHint.stdout).toBe('False\n');
    // Alice's next token (a fresh jti) is still alice: the hint brings her own session back.
    const again = await exec({ lang: 'py', code: 'print(x + 1)', runtime_session_hint: 'thread-1' }, { ...(await bearer({ sub: 'alice-0001' })), ...stateful });
    expect(again.session_id).toBe(written.session_id);
    expect(again.stdout).toBe('8\n');
    // A request that names another user in the body or headers is still alice.
    const renamed = await exec({ lang: 'py', code: 'print(open("secret.txt").read())', session_id: written.session_id, user_id: 'bob-0002' }, { ...alice, 'X-User-Id': 'bob-0002' });
    expect(renamed.stdout).toBe('alice only\n');
  });

  it('keeps the same sub in two tenants apart, and token users apart from key users of the same name', async () => {
    const acme = await exec({ lang: 'bash', code: 'echo acme > t.txt' }, await bearer({ sub: 'same-user', tenantId: 'acme' }));
    const file = acme.files.find((entry) => entry.name === 't.txt');
    if (file === undefined) throw new Error('t.txt not listed');
    const download = `/download/${acme.session_id}/${file.id}`;
    expect((await get(download, await bearer({ sub: 'same-user', tenantId: 'acme' }))).status).toBe(200);
    expect((await get(download, await bearer({ sub: 'same-user', tenantId: 'globex' }))).status).toBe(404);
    expect((await get(download, await bearer({ sub: 'same-user', tenantId: undefined }))).status).toBe(404);
    expect((await get(download, { 'X-API-Key': TEST_KEY, 'X-User-Id': 'same-user' })).status).toBe(404);
    expect((await get(`${download}?kind=user&id=same-user`, { 'X-API-Key': TEST_KEY })).status).toBe(404);
  });

  it('uploads, probes and runs with an uploaded file under one token user, as LibreChat primes files', async () => {
    const alice = await bearer({ sub: 'alice-0001' });
    const { body, contentType } = multipartBody([
      { name: 'kind', content: 'user' },
      { name: 'id', content: 'alice-0001' },
      { name: 'file', filename: 'data.csv', content: 'a,b\n1,2\n' },
    ]);
    const uploaded = await fetch(`${server.url}/v1/upload`, { method: 'POST', headers: { ...alice, 'Content-Type': contentType, 'User-Id': 'alice-0001' }, body: new Uint8Array(body) });
    expect(uploaded.status).toBe(200);
    const { storage_session_id: storage, files } = (await uploaded.json()) as { storage_session_id: string; files: Array<{ fileId: string }> };
    const fileId = files[0]?.fileId ?? '';
    expect((await get(`/sessions/${storage}/objects/${fileId}?kind=user&id=alice-0001`, alice)).status).toBe(200);
    expect((await get(`/sessions/${storage}/objects/${fileId}?kind=user&id=alice-0001`, await bearer({ sub: 'bob-0002' }))).status).toBe(404);
    const ran = await exec({ lang: 'py', code: 'print(open("data.csv").read().split()[1])', files: [{ id: fileId, resource_id: fileId, name: 'data.csv', storage_session_id: storage, kind: 'user' }] }, alice);
    expect(ran.stdout).toBe('1,2\n');
    const bobRan = await exec({ lang: 'py', code: 'import os\nprint(os.path.exists("data.csv"))', files: [{ id: fileId, resource_id: fileId, name: 'data.csv', storage_session_id: storage, kind: 'user' }] }, await bearer({ sub: 'bob-0002' }));
    expect(bobRan.stdout).toBe('False\n');
  });

  it('answers every forgery 401 with one generic body, and keeps serving', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forgeries: Record<string, string> = {
      'signed by another key': await mintToken(stranger),
      'signature changed': tamperedSignature(await mintToken(keys)),
      'sub changed after signing': tamperedClaims(await mintToken(keys, { sub: 'alice-0001' }), 'bob-0002'),
      'wrong issuer': await mintToken(keys, { issuer: 'evil' }),
      'wrong audience': await mintToken(keys, { audience: 'other' }),
      expired: await mintToken(keys, { now: now - 600 }),
      'not yet valid': await mintToken(keys, { claims: { nbf: now + 600 } }),
      'alg none': unsignedToken(),
      'HS256 with the public key as secret': hmacWithPublicKey(keys.publicPem),
      'RS256 from an unknown RSA key': await mintToken(await mintKeys('RS256')),
      garbage: 'eyJhbGciOiJFZERTQSJ9.bm90IGpzb24.c2ln',
    };
    const bodies = new Set<string>();
    for (const [name, token] of Object.entries(forgeries)) {
      const variants: Headers[] = [{ Authorization: `Bearer ${token}` }, { Authorization: `Bearer ${token}`, 'X-API-Key': TEST_KEY }];
      for (const headers of variants) {
        const response = await post('/exec', { lang: 'py', code: 'print("ran")' }, headers);
        expect(response.status, name).toBe(401);
        expect(response.headers.get('www-authenticate'), name).toMatch(/^Bearer realm="codecell"/);
        bodies.add(await response.text());
      }
      expect((await get('/files/AAAAAAAAAAAAAAAAAAAAA', { Authorization: `Bearer ${token}` })).status, name).toBe(401);
    }
    expect([...bodies]).toEqual([JSON.stringify({ error: 'unauthorized', message: INVALID_CREDENTIALS_MESSAGE })]);
    // A wrong API key gets the very same body: nothing tells a token failure from a key failure.
    expect(await (await post('/exec', {}, { 'X-API-Key': 'wrong-key-000000' })).text()).toBe([...bodies][0]);
    // No credential at all says what to send.
    const bare = await post('/exec', { lang: 'py', code: 'print(1)' }, {});
    expect(bare.status).toBe(401);
    expect(((await bare.json()) as { message: string }).message).toContain('Bearer <JWT>');
    // Still serving, for tokens and keys alike.
    expect((await exec({ lang: 'py', code: 'print("alive")' }, await bearer())).stdout).toBe('alive\n');
    expect((await exec({ lang: 'py', code: 'print("key")' }, { 'X-API-Key': TEST_KEY })).stdout).toBe('key\n');
  });

  it('accepts the token on MCP too, as the same user', async () => {
    const client = await connectStreamable(server.url, { apiKey: await mintToken(keys, { sub: 'mcp-user' }) });
    try {
      const result = await callTool(client, 'execute_python_code', { code: 'print(2 ** 10)' });
      expect(textOf(result)).toContain('1024');
    } finally {
      await client.close();
    }
    await expect(connectStreamable(server.url, { apiKey: unsignedToken({ sub: 'mcp-user' }) })).rejects.toThrow(/401|nauthorized/);
  });
});

describe('private network without auth (LibreChat >= 0.8.6 without JWT mode)', () => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startTestServer({ env: { CODECELL_API_KEYS: '' } });
  });

  afterAll(async () => {
    await closeAndCheck(server);
  });

  it('runs with no auth header, and keeps the users LibreChat names apart', async () => {
    const post = async (body: unknown): Promise<ExecResult> => {
      const response = await fetch(`${server.url}/v1/exec`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      expect(response.status).toBe(200);
      return (await response.json()) as ExecResult;
    };
    const carol = await post({ lang: 'py', code: 'open("c.txt", "w").write("carol")', user_id: 'carol' });
    const file = carol.files.find((entry) => entry.name === 'c.txt');
    if (file === undefined) throw new Error('c.txt not listed');
    expect((await fetch(`${server.url}/v1/download/${carol.session_id}/${file.id}?kind=user&id=carol`)).status).toBe(200);
    expect((await fetch(`${server.url}/v1/download/${carol.session_id}/${file.id}?kind=user&id=dave`)).status).toBe(404);
  });
});
