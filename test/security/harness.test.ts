/**
 * The harness's own promise, checked against the real server: a probe cut by its time limit is
 * inconclusive and fails its test, even when what it printed before would read as "attack failed".
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './helpers/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await Harness.start({ pools: { pythonLean: 1, bash: 1 } });
});

afterAll(async () => {
  await h?.close();
});

describe('a probe that runs out of time', () => {
  it('is never judged on its partial report (JSON probe)', async () => {
    const probe = h.probe('python', `import json, time\nprint(json.dumps({'found': []}), flush=True)\ntime.sleep(600)`, { timeout: 1 });
    await expect(probe).rejects.toThrow(/^inconclusive: the probe ran out of time/);
  });

  it('is never judged on its partial report (marker probe)', async () => {
    const probe = h.finish('bash', 'echo "nothing found so far"; echo done; sleep 600', 'done', { timeout: 1 });
    await expect(probe).rejects.toThrow(/^inconclusive: the probe ran out of time/);
    await h.stillServing();
  });
});
