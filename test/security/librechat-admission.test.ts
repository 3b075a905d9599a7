/**
 * Admission before work on LibreChat's /v1/exec: a request the server is too busy to run is
 * answered 429 before it makes a session or copies a byte of its files[], also in a burst, while
 * requests admitted before it are still copying. One slot and one waiting place
 * (CODECELL_CONCURRENCY=1, CODECELL_QUEUE_LIMIT=1) make "busy" cheap to reach.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSessionId, fileIdFor } from '../../src/interfaces/http/librechat-code-api/ids.js';
import { callTool, sessionCountOf } from '../interfaces/helpers/mcp-client.js';
import { MAX_RUN_SECONDS } from './helpers/budget.js';
import { Harness, random } from './helpers/harness.js';
import { LibreChatApi } from './helpers/librechat-api.js';

let h: Harness;
let api: LibreChatApi;

beforeAll(async () => {
  h = await Harness.start({ pools: { pythonLean: 1, bash: 1 }, env: { CODECELL_CONCURRENCY: '1', CODECELL_QUEUE_LIMIT: '1' } });
  api = new LibreChatApi(h.server.url);
});

afterAll(async () => {
  await h?.close();
});

describe('/v1/exec on a busy server', () => {
  it('answers 429 before making a session or copying files[]', async () => {
    const big = await api.upload({ kind: 'agent', id: random('agent') }, 'big.bin', randomBytes(2 * 1024 * 1024), { 'User-Id': 'owner' });
    const files = Array.from({ length: 8 }, (_, index) => ({ id: big.fileId, session_id: big.session, name: `copy-${index}.bin` }));
    const user = random('flood');

    // One run holds the only slot, a second waits in the only waiting place.
    const holding = h.start('bash', 'echo holding; sleep 100000', { session: await h.newSession(), timeout: MAX_RUN_SECONDS });
    await holding.printed('holding');
    const waiting = h.start('bash', 'echo waited', { session: await h.newSession() });
    // Each look is a real round trip to the engine; the loop ends once the second run is queued.
    while ((await h.server.running.engine.health()).queue.waiting < 1) {
      if (waiting.ended) throw new Error('the second run did not wait');
    }

    for (let attempt = 0; attempt < 4; attempt += 1) {
      const refused = await api.execRaw({ lang: 'bash', user_id: user, code: 'ls', files });
      expect(refused.status, await refused.text()).toBe(429);
    }
    // Nothing was made for the refused requests: no session, so no copied bytes.
    expect(await sessionCountOf(h.server.url, user)).toBe(0);

    await waiting.cancel();
    await holding.cancel();
    // Once there is room, the same request runs with all its files.
    const ran = await api.exec({ lang: 'bash', user_id: user, code: 'ls | wc -l', files });
    expect(ran.stdout.trim()).toBe('8');
    expect(await sessionCountOf(h.server.url, user)).toBe(1);
    await h.stillServing();
  });

  it('holds an admitted request’s place while it copies: a burst behind it is refused without making sessions', async () => {
    // The harness's MCP client is the user "attacker": its session H holds a file, and a run in H
    // holds H's lock, so an /exec that copies from H waits there, admitted but not yet queued.
    const mcpSessions = async (): Promise<number> => Number((await callTool(h.client, 'list_execution_sessions')).structuredContent?.count);
    const source = await h.newSession();
    expect((await h.exec('bash', 'echo from-h > x.txt', { session: source })).status).toBe('ok');
    const before = await mcpSessions();
    const holding = h.start('bash', 'echo holding; sleep 100000', { session: source, timeout: MAX_RUN_SECONDS });
    await holding.printed('holding');

    const request = { lang: 'bash', user_id: 'attacker', code: 'ls', files: [{ id: fileIdFor('x.txt'), storage_session_id: encodeSessionId(source), name: 'x.txt' }] };
    const first = api.execRaw(request);
    first.catch(() => undefined); // if the test fails before awaiting it, the server closes under it
    // The first request has its session once it is admitted; then it waits for H's lock.
    while ((await mcpSessions()) < before + 1);

    // Room was for one more run (one waiting place): it is the first request's, though not queued yet.
    const burst = Promise.all([1, 2, 3].map(() => api.execRaw(request)));
    burst.catch(() => undefined);
    let watching = true;
    const sessionsGrew = (async (): Promise<'grew' | 'stopped'> => {
      while (watching) if ((await mcpSessions()) > before + 1) return 'grew';
      return 'stopped';
    })();
    const outcome = await Promise.race([burst.then(() => 'answered' as const), sessionsGrew]);
    watching = false;
    await sessionsGrew;
    expect(outcome, 'the burst made sessions (and waited to copy into them) instead of being refused').toBe('answered');
    for (const refused of await burst) expect(refused.status, await refused.text()).toBe(429);
    expect(await mcpSessions()).toBe(before + 1);

    await holding.cancel();
    expect((await first).status).toBe(200);
    await h.stillServing();
  });
});

