/**
 * OOM kills as the Docker engine reports them: a child process killed for memory while the runner
 * lives on and sends its result is still an `oom` run, and a child killed by anything else is not.
 * (test/deploy/server-in-container.test.ts checks the same with the server itself in a container.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { CHILD_MEMORY_BOMB } from '../helpers/oom-code.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ CODECELL_MEMORY_MB: '256' });
});

afterAll(async () => {
  await t?.close();
});

function python(code: string, sessionId?: string): Promise<ExecutionResult> {
  return t.engine.execute({ principal: t.principal, sessionId, language: 'python', code });
}

describe('OOM kills from the engine’s events', () => {
  it('reports a child killed for memory while the runner survives and answers', async () => {
    const session = (await t.engine.createSession(t.principal)).id;
    await python('kept = 41', session);
    const result = await python(CHILD_MEMORY_BOMB, session);
    expect(result.stdout.text).toContain('runner alive, child exit -9');
    expect(result.status).toBe('oom');
    expect(result.notice).toMatch(/out of memory \(limit 256 MiB\): a process of this run was killed/);
    expect((await python('kept + 1', session)).value).toBe('42');
  });

  it('does not call a child killed by a signal an OOM kill', async () => {
    const result = await python(
      "import subprocess\nchild = subprocess.run(['sh', '-c', 'kill -9 $$'])\nprint('child exit', child.returncode)",
    );
    expect(result.stdout.text).toContain('child exit -9');
    expect(result.status).toBe('ok');
    expect(result.notice).toBeNull();
  });
});
