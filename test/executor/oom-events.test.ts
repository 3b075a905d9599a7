/**
 * OOM kills, however they are learnt: a child process killed for memory while the runner lives on
 * and sends its result is still an `oom` run, and a child killed by anything else is not. On runc
 * the runner reads the count from its own cgroup; gVisor shows no cgroup files, so there the host
 * waits for the Docker engine's `oom` and `die` events (both runtimes are tested below).
 * (test/deploy/server-in-container.test.ts checks the same with the server itself in a container.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';
import { CHILD_MEMORY_BOMB } from '../helpers/oom-code.js';

describe.each(['runc', 'runsc'])('OOM kills on %s', (runtime) => {
  let t: TestEngine;

  beforeAll(async () => {
    t = await startTestEngine({ CODECELL_MEMORY_MB: '256', CODECELL_RUNTIME: runtime });
  });

  afterAll(async () => {
    await t?.close();
  });

  function python(code: string, sessionId?: string): Promise<ExecutionResult> {
    return t.engine.execute({ principal: t.principal, sessionId, language: 'python', code });
  }

    it('reports a child killed for memory, and the session goes on', async () => {
      const session = (await t.engine.createSession(t.principal)).id;
      await python('kept = 41', session);
      const result = await python(CHILD_MEMORY_BOMB, session);
      expect(result.status).toBe('oom');
      if (runtime === 'runc') {
        expect(result.stdout.text).toContain('runner alive, child exit -9');
        expect(result.notice).toMatch(/out of memory \(limit 256 MiB\): a process of this run was killed/);
      } else {
        // gVisor holds the limit for the whole sandbox: the run ends with its child.
        expect(result.notice).toMatch(/out of memory \(limit 256 MiB\): the run was killed/);
      }
      expect((await python('kept + 1', session)).value).toBe('42');
    });

    it.runIf(runtime === 'runc')('reports a child killed for memory in JavaScript and bash too', async () => {
      const node = await t.engine.execute({
        principal: t.principal,
        language: 'javascript',
        code:
          "const { spawnSync } = require('child_process');\n" +
          "const child = spawnSync('node', ['-e', 'const kept = []; for (;;) kept.push(Buffer.alloc(1 << 24, 1))']);\n" +
          "console.log('runner alive, child signal', child.signal);",
      });
      expect(node.stdout.text).toContain('runner alive, child signal SIGKILL');
      expect(node.status).toBe('oom');
      // tail holds everything before the first newline, and /dev/zero has none.
      const bash = await t.engine.execute({
        principal: t.principal,
        language: 'bash',
        code: 'head -c 2000000000 /dev/zero | tail -n 1 >/dev/null; echo "runner alive, pipeline status ${PIPESTATUS[1]}"',
      });
      expect(bash.stdout.text).toContain('runner alive, pipeline status 137');
      expect(bash.status).toBe('oom');
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
