/**
 * LibreChat's Code API shares some sessions between users of one key: an agent's or a skill's
 * uploads (`kind=agent|skill`), and uploads made with `entity_id`. Attacks through /v1/exec,
 * /v1/upload and the file routes: a shared session must be a read-only source, never a place where
 * runs happen; a user must never become an agent by naming itself like one; and a failed /exec
 * must not leave its session behind.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSessionId } from '../../src/interfaces/http/librechat-code-api/ids.js';
import { headersFor, sessionCountOf } from '../interfaces/helpers/mcp-client.js';
import { Harness, random } from './helpers/harness.js';
import { LibreChatApi } from './helpers/librechat-api.js';

let h: Harness;
let api: LibreChatApi;

beforeAll(async () => {
  h = await Harness.start({ pools: { pythonLean: 1, bash: 1 } });
  api = new LibreChatApi(h.server.url);
});

afterAll(async () => {
  await h?.close();
});

const LIST_PROGRAM = [
  'import json, os',
  'names = sorted(os.path.relpath(os.path.join(d, f), ".") for d, _, fs in os.walk(".") for f in fs)',
  'data = open("data.txt").read() if os.path.exists("data.txt") else None',
  'print(json.dumps({"files": names, "data": data, "alice_var": "alice_var" in globals()}))',
].join('\n');

describe('a shared upload named as session_id', () => {
  it('is copied from, never run in: another user sees neither the first user’s files nor variables, and the upload stays as uploaded', async () => {
    const agent = random('agent');
    const agentFile = await api.upload({ kind: 'agent', id: agent }, 'data.txt', 'agent original', { 'User-Id': 'alice' });
    const alicePrivate = await api.upload({ kind: 'user', id: 'alice' }, 'secret.txt', 'alice private upload', { 'User-Id': 'alice' });

    // Alice's run names the agent's storage session as session_id (LibreChat does that with a
    // primed file), brings her private upload, sets a variable and overwrites the agent's file.
    const byAlice = await api.exec({
      lang: 'py',
      user_id: 'alice',
      session_id: agentFile.session,
      files: [{ id: alicePrivate.fileId, storage_session_id: alicePrivate.session, name: 'secret.txt', kind: 'user', resource_id: 'alice' }],
      code: `alice_var = 1\nopen("data.txt", "w").write("tampered by alice")\nopen("alice-note.txt", "w").write("note")\n${LIST_PROGRAM}`,
    });
    expect(byAlice.status, byAlice.stderr).toBe('ok');
    // Her run saw the agent's file (copied in) and her own upload.
    const aliceSaw = JSON.parse(byAlice.stdout) as { files: string[]; data: string };
    expect(aliceSaw.files).toEqual(['alice-note.txt', 'data.txt', 'secret.txt']);
    expect(byAlice.session_id).not.toBe(agentFile.session);

    // Bob names the same session: he gets the agent's file as uploaded, and nothing of Alice's.
    const byBob = await api.exec({ lang: 'py', user_id: 'bob', session_id: agentFile.session, code: LIST_PROGRAM });
    expect(byBob.status, byBob.stderr).toBe('ok');
    expect(JSON.parse(byBob.stdout)).toEqual({ files: ['data.txt'], data: 'agent original', alice_var: false });
    expect(byBob.stdout).not.toContain('alice private upload');
    expect(byBob.session_id).not.toBe(agentFile.session);
    expect(byBob.session_id).not.toBe(byAlice.session_id);

    // The same through files[] (the newer shape): the agent's file comes in as uploaded.
    const viaFiles = await api.exec({
      lang: 'bash',
      user_id: 'bob',
      files: [{ id: agentFile.fileId, storage_session_id: agentFile.session, name: 'data.txt', kind: 'agent', resource_id: agent }],
      code: 'cat data.txt',
    });
    expect(viaFiles.stdout).toBe('agent original');

    // The upload itself is unchanged and holds only its file.
    expect(await api.downloadText(agentFile, `?kind=agent&id=${agent}`)).toBe('agent original');
    const listing = (await (await api.call('GET', `/files/${agentFile.session}?detail=full&kind=agent&id=${agent}`)).json()) as unknown[];
    expect(listing).toHaveLength(1);

    await h.stillServing();
  });

  it('an entity_id upload is readable by every user of the key and changed by none but its owner', async () => {
    const shared = await api.upload({ entity_id: random('agent') }, 'shared.txt', 'as uploaded', { 'User-Id': 'carol' });

    // Another user may read it (LibreChat's old shared files), not delete it.
    expect(await api.downloadText(shared, '', { 'User-Id': 'dave' })).toBe('as uploaded');
    expect((await api.call('DELETE', `/files/${shared.session}/${shared.fileId}`, { 'User-Id': 'dave' })).status).toBe(404);
    expect((await api.call('DELETE', `/sessions/${shared.session}/objects/${shared.fileId}`, { 'User-Id': 'dave' })).status).toBe(404);

    // Not even its owner's runs change it: they work on copies in the owner's own session.
    const run = await api.exec({ lang: 'bash', user_id: 'carol', session_id: shared.session, code: 'cat shared.txt; echo changed > shared.txt' });
    expect(run.stdout).toBe('as uploaded');
    expect(run.session_id).not.toBe(shared.session);
    expect(await api.downloadText(shared, '', { 'User-Id': 'carol' })).toBe('as uploaded');

    // The owner (and the LibreChat server, which names no user) still may delete it.
    expect((await api.call('DELETE', `/files/${shared.session}/${shared.fileId}`, { 'User-Id': 'carol' })).status).toBe(200);
    await h.stillServing();
  });

  it('a user’s own run session still keeps its state when named again (LibreChat’s stateful mode)', async () => {
    const first = await api.exec({ lang: 'py', user_id: 'erin', code: 'x = 41\nopen("state.txt", "w").write("kept")' });
    const second = await api.exec({ lang: 'py', user_id: 'erin', session_id: first.session_id, code: 'print(x + 1, open("state.txt").read())' });
    expect(second.session_id).toBe(first.session_id);
    expect(second.stdout).toBe('42 kept\n');
  });
});

describe('a user named like an agent', () => {
  it('is a user: X-User-Id "agent:<id>" reaches none of the agent’s sessions, through LibreChat’s routes, /v1 files or MCP', async () => {
    const agent = random('agent');
    const agentFile = await api.upload({ kind: 'agent', id: agent }, 'tool.py', 'print("agent tool")', { 'User-Id': 'frank' });
    const impostor = { 'X-User-Id': `agent:${agent}` };
    const uuid = decodeSessionId(agentFile.session) ?? '';

    // Its own sessions (none) are all MCP shows it.
    expect(await sessionCountOf(h.server.url, `agent:${agent}`)).toBe(0);
    // Codecell's own file routes: the agent's session is not its session.
    const listed = await fetch(`${h.server.url}/v1/sessions/${uuid}/files`, { headers: headersFor({ userId: `agent:${agent}` }) });
    expect(listed.status).toBe(404);
    const filesRoute = await api.call('DELETE', `/sessions/${uuid}/files/tool.py`, impostor);
    expect(filesRoute.status).toBe(404);
    // LibreChat's routes: it may read the shared file like any user of the key, never change it.
    expect((await api.call('DELETE', `/files/${agentFile.session}/${agentFile.fileId}`, impostor)).status).toBe(404);
    const run = await api.exec({ lang: 'bash', session_id: agentFile.session, code: 'echo "print(1)" > tool.py; cat tool.py' }, impostor);
    expect(run.session_id).not.toBe(agentFile.session);
    expect(await api.downloadText(agentFile, `?kind=agent&id=${agent}`)).toBe('print("agent tool")');
    await h.stillServing();
  });
});

describe('a failed /exec', () => {
  it('leaves no session (and no copied bytes) behind', async () => {
    const user = random('leaky');
    // 12 MiB, copied twice, is over the 20 MiB session quota: the copy fails after the session was made.
    const big = await api.upload({ kind: 'agent', id: random('agent') }, 'big.bin', randomBytes(12 * 1024 * 1024), { 'User-Id': 'frank' });
    const entry = (name: string): Record<string, string> => ({ id: big.fileId, session_id: big.session, name });
    const over = await api.execRaw({ lang: 'bash', user_id: user, code: 'ls', files: [entry('one.bin'), entry('two.bin')] });
    expect(over.status, await over.text()).toBe(413);
    // A files[] entry with a name that escapes /mnt/data is refused before anything is made.
    const escaping = await api.execRaw({ lang: 'bash', user_id: user, code: 'ls', files: [{ name: '../../escape.txt', content: 'x' }] });
    expect(escaping.status).toBe(400);
    expect(await sessionCountOf(h.server.url, user)).toBe(0);

    // The same user's next, proper run works.
    const fine = await api.exec({ lang: 'bash', user_id: user, code: 'ls', files: [entry('one.bin')] });
    expect(fine.stdout).toBe('one.bin\n');
    expect(await sessionCountOf(h.server.url, user)).toBe(1);
    await h.stillServing();
  });
});
