/**
 * Admission before work on LibreChat's /v1/exec: a request the server is too busy to run is
 * answered 429 before it makes a session or copies a byte of its files[]. One slot and one waiting
 * place (CODECELL_CONCURRENCY=1, CODECELL_QUEUE_LIMIT=1) make "busy" cheap to reach.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectStreamable } from '../interfaces/helpers/mcp-client.js';
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

async function sessionCount(userId: string): Promise<number> {
  const client = await connectStreamable(h.server.url, { userId });
  try {
    return Number((await callTool(client, 'list_execution_sessions')).structuredContent?.count);
  } finally {
    await client.close();
  }
}

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
    expect(await sessionCount(user)).toBe(0);

    await waiting.cancel();
    await holding.cancel();
    // Once there is room, the same request runs with all its files.
    const ran = await api.exec({ lang: 'bash', user_id: user, code: 'ls | wc -l', files });
    expect(ran.stdout.trim()).toBe('8');
    expect(await sessionCount(user)).toBe(1);
    await h.stillServing();
  });
});
