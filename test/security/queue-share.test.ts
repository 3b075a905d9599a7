/**
 * One principal cannot fill the run queue: each waiting call is an open request of its principal,
 * and a principal has at most CODECELL_REQUESTS_PER_USER of those. So with a queue of 3 and a
 * budget of 2, a principal firing six long calls gets two places and four 429s, and another user's
 * call still gets a place and runs.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStreamable, headersFor } from '../interfaces/helpers/mcp-client.js';
import { Harness } from './helpers/harness.js';

const CALLS = 6;

let harness: Harness;

beforeAll(async () => {
  harness = await Harness.start({
    env: { CODECELL_CONCURRENCY: '1', CODECELL_QUEUE_LIMIT: '3', CODECELL_REQUESTS_PER_USER: '2' },
  });
});

afterAll(async () => {
  await harness?.close();
});

/** Running and waiting runs, from /healthz's details (the test server has a key, which this sends). */
async function queueLength(): Promise<number> {
  const response = await fetch(new URL('/healthz', harness.server.url), { headers: headersFor({}) });
  const report = (await response.json()) as { queue: { running: number; waiting: number } };
  return report.queue.running + report.queue.waiting;
}

describe('the run queue is shared between principals', () => {
  it("one principal's flood of calls leaves a place in the queue for another user", async () => {
    const hog = await connectStreamable(harness.server.url, { userId: 'queue-hog' });
    try {
      // Separate sessions, so that the calls wait in the queue rather than on one session's lock.
      const sessions: string[] = [];
      for (let index = 0; index < CALLS; index += 1) sessions.push(await harness.newSession(hog));
      let settled = 0;
      const calls = sessions.map((session) =>
        harness
          .run('python', 'import time\ntime.sleep(600)', { session, client: hog, timeout: harness.budget(2) })
          .finally(() => (settled += 1)),
      );
      const outcomes = Promise.allSettled(calls);
      // Every call is either in the engine (running or waiting) or already answered.
      while ((await queueLength()) + settled < CALLS) await new Promise((resolve) => setImmediate(resolve));

      const victim = await harness.exec('python', 'print(6 * 7)', { session: await harness.newSession() });
      expect(victim.status, victim.stderr).toBe('ok');
      expect(victim.stdout).toBe('42\n');

      const results = await outcomes;
      const refused = results.filter((result) => result.status === 'rejected');
      expect(refused).toHaveLength(CALLS - 2);
      for (const result of refused) expect(String((result as PromiseRejectedResult).reason)).toMatch(/429|CODECELL_REQUESTS_PER_USER/);
    } finally {
      await hog.close();
    }
    await harness.stillServing();
  });
});
