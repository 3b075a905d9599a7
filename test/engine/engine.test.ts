/**
 * The execution engine against a real Docker engine and the real images: throwaway containers,
 * state that outlives them, limits that hold.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CodecellError } from '../../src/errors.js';
import type { Language } from '../../src/domain/types.js';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, TESTS_USE_DOCKER, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '20', MAX_OUTPUT_LENGTH: '2000', CODECELL_MEMORY_MB: '256' });
});

afterAll(async () => {
  await t?.close();
});

async function run(language: Language, code: string, sessionId?: string, timeoutMs?: number): Promise<ExecutionResult> {
  return t.engine.execute({ principal: t.principal, sessionId, language, code, timeoutMs });
}

async function newSession(): Promise<string> {
  return (await t.engine.createSession(t.principal)).id;
}

describe('state carried across throwaway containers', () => {
  it('keeps a Python DataFrame, a user-defined function, a class instance and a module alias', async () => {
    const session = await newSession();
    const first = await run(
      'python',
      [
        'import pandas as pd',
        'df = pd.DataFrame({"a": [1, 2, 3], "b": [4.0, 5.0, 6.0]})',
        'def double(x):',
        '    return 2 * x',
        'class Counter:',
        '    def __init__(self): self.n = 0',
        '    def bump(self): self.n += 1; return self.n',
        'c = Counter(); c.bump()',
        'print("first run done")',
      ].join('\n'),
      session,
    );
    expect(first.status).toBe('ok');
    expect(first.stdout.text).toContain('first run done');
    expect(first.stateSaved).toBe(true);

    const second = await run('python', 'print(df["a"].sum(), double(21), c.bump())\ndf.shape', session);
    expect(second.status, JSON.stringify(second.error)).toBe('ok');
    expect(second.stdout.text.trim()).toBe('6 42 2');
    expect(second.value).toBe('(3, 2)');
  });

  it('keeps JavaScript functions and objects, and shares them with TypeScript', async () => {
    const session = await newSession();
    const first = await run(
      'javascript',
      'function greet(name) { return `hi ${name}`; }\nconst config = { retries: 3, tags: ["a", "b"] };\nlet count = 1;',
      session,
    );
    expect(first.status, JSON.stringify(first.error)).toBe('ok');
    const second = await run('javascript', 'count += 1;\nconsole.log(greet("ada"), config.tags.join("+"), count);', session);
    expect(second.status, JSON.stringify(second.error)).toBe('ok');
    expect(second.stdout.text.trim()).toBe('hi ada a+b 2');

    const typed = await run(
      'typescript',
      'interface Box { n: number }\nconst box: Box = { n: count * 10 };\nconsole.log(greet("ts"), box.n);',
      session,
    );
    expect(typed.status, JSON.stringify(typed.error)).toBe('ok');
    expect(typed.stdout.text.trim()).toBe('hi ts 20');
  });

  it('keeps bash variables, exported variables, functions and the working directory', async () => {
    const session = await newSession();
    const first = await run(
      'bash',
      'GREETING=hello\nexport TOKEN=abc\nshout() { echo "${1^^}"; }\nmkdir -p work/inner && cd work/inner',
      session,
    );
    expect(first.status).toBe('ok');
    const second = await run('bash', 'echo "$GREETING $(shout quiet) $(printenv TOKEN) $(pwd)"', session);
    expect(second.status).toBe('ok');
    expect(second.stdout.text.trim()).toBe('hello QUIET abc /mnt/data/work/inner');
  });

  it('reports a TypeScript compile error without running anything', async () => {
    const result = await run('typescript', 'const x: number = ;');
    expect(result.status).toBe('error');
    expect(result.error?.name).toBe('TypeScriptSyntaxError');
  });
});

describe('results', () => {
  it('returns a matplotlib figure as a PNG of the right size', async () => {
    const result = await run(
      'python',
      'import matplotlib.pyplot as plt\nfig = plt.figure(figsize=(4, 3), dpi=100)\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()',
    );
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.images).toHaveLength(1);
    const image = result.images[0]!;
    expect(image.mimeType).toBe('image/png');
    expect(Buffer.from(image.base64, 'base64').subarray(1, 4).toString('latin1')).toBe('PNG');
    // bbox "tight" may trim the margins: the size is at most the figure's 400×300 and close to it.
    expect(image.width).toBeGreaterThan(300);
    expect(image.width).toBeLessThanOrEqual(400);
    expect(image.height).toBeGreaterThan(200);
    expect(image.height).toBeLessThanOrEqual(300);
  });

  it('gives an error with a traceback that holds no runner frames', async () => {
    const result = await run('python', 'def f():\n    return 1 / 0\nf()');
    expect(result.status).toBe('error');
    expect(result.error?.name).toBe('ZeroDivisionError');
    expect(result.error?.traceback).toContain('<cell>');
    expect(result.error?.traceback).not.toMatch(/codecell|runner/i);
  });

  it('names values that cannot be carried over, and keeps the rest', async () => {
    const session = await newSession();
    const result = await run(
      'python',
      'fh = open("/tmp/x.txt", "w")\ngen = (i for i in range(3))\nimport threading\nlock = threading.Lock()\nkeep = 41',
      session,
    );
    expect(result.status).toBe('ok');
    const names = result.notCarried.map((value) => value.name).sort();
    expect(names).toEqual(['fh', 'gen', 'lock']);
    for (const value of result.notCarried) expect(value.reason.length).toBeGreaterThan(5);
    const next = await run('python', 'keep + 1', session);
    expect(next.value).toBe('42');
  });

  it('never loses stderr written just before the run ends (stdout and stderr travel apart)', async () => {
    const programs: Array<[Language, string]> = [
      ['python', 'import sys\nprint("out")\nprint("careful", file=sys.stderr)'],
      ['javascript', 'console.log("out");\nconsole.error("careful");'],
      ['bash', 'echo out; echo careful >&2'],
    ];
    for (const [language, code] of programs) {
      for (let attempt = 0; attempt < 8; attempt += 1) {
        const result = await run(language, code);
        expect(result.stdout.text, `${language} attempt ${attempt}`).toBe('out\n');
        expect(result.stderr.text, `${language} attempt ${attempt}`).toBe('careful\n');
      }
    }
  });

  it('keeps the head and tail of long output and says how much was cut', async () => {
    const result = await run('python', 'for i in range(5000):\n    print(f"line {i}")');
    expect(result.status).toBe('ok');
    expect(result.stdout.truncatedChars).toBeGreaterThan(0);
    expect(result.stdout.text).toContain('line 0\n');
    expect(result.stdout.text).toContain('line 4999');
    expect(result.stdout.text).toMatch(/characters cut/);
    expect(result.stdout.text.length).toBeLessThan(2300);
  });
});

describe('limits', () => {
  it('stops a run at its timeout and keeps the state from before', async () => {
    const session = await newSession();
    await run('python', 'x = 1', session);
    const slow = await run('python', 'x = 2\nimport time\ntime.sleep(30)', session, 1500);
    expect(slow.status).toBe('timeout');
    expect(slow.notice).toMatch(/timed out after 1\.5 s/);
    expect(slow.stateSaved).toBe(false);
    const after = await run('python', 'x', session);
    expect(after.value).toBe('1');
  });

  it('ends a memory bomb as oom and keeps serving', async () => {
    const session = await newSession();
    await run('python', 'survivor = "still here"', session);
    const bomb = await run('python', 'blocks = []\nwhile True:\n    blocks.append(bytearray(16 * 1024 * 1024))', session);
    expect(bomb.status).toBe('oom');
    // The process executor caps each process, and says so ("limit 256 MiB per process").
    expect(bomb.notice).toMatch(/out of memory \(limit 256 MiB( per process)?\)/);
    const after = await run('python', 'survivor', session);
    expect(after.value).toBe("'still here'");
  });

  it('has no network in any language', async () => {
    const python = await run(
      'python',
      'import socket\ntry:\n    socket.create_connection(("1.1.1.1", 53), timeout=2)\n    print("CONNECTED")\nexcept OSError as e:\n    print("blocked", e.errno)',
    );
    expect(python.stdout.text).toMatch(/blocked/);
    const js = await run(
      'javascript',
      'const net = require("net");\nawait new Promise((resolve) => { const s = net.connect(53, "1.1.1.1"); s.on("connect", () => { console.log("CONNECTED"); resolve(); }); s.on("error", (e) => { console.log("blocked", e.code); resolve(); }); });',
    );
    expect(js.stdout.text).toMatch(/blocked/);
    const bash = await run('bash', 'ls /sys/class/net; curl -sS -m 3 http://1.1.1.1 && echo CONNECTED || echo blocked');
    // Only a run with a network namespace of its own (a container) has an interface list to show:
    // the process executor's Landlock mode has none, and there the connections above are what count.
    if (TESTS_USE_DOCKER) expect(bash.stdout.text.trim().split('\n')[0]).toBe('lo');
    expect(bash.stdout.text).toMatch(/blocked/);
    expect(`${python.stdout.text}${js.stdout.text}${bash.stdout.text}`).not.toContain('CONNECTED');
  });
});

describe('queue', () => {
  it('rejects work over capacity at once with a clear, retryable error', async () => {
    const tight = await startTestEngine({ CODECELL_CONCURRENCY: '1', CODECELL_QUEUE_LIMIT: '1', ...{ CODECELL_POOL_PYTHON: '0', CODECELL_POOL_NODE: '0' } });
    try {
      const sessions = await Promise.all([0, 1, 2].map(() => tight.engine.createSession(tight.principal)));
      const calls = sessions.map((session) =>
        tight.engine.execute({ principal: tight.principal, sessionId: session.id, language: 'bash', code: 'sleep 2; echo done' }),
      );
      const settled = await Promise.allSettled(calls);
      const rejected = settled.filter((outcome) => outcome.status === 'rejected');
      const fulfilled = settled.filter((outcome) => outcome.status === 'fulfilled');
      expect(fulfilled).toHaveLength(2);
      expect(rejected).toHaveLength(1);
      const error = (rejected[0] as PromiseRejectedResult).reason as CodecellError;
      expect(error).toBeInstanceOf(CodecellError);
      expect(error.code).toBe('QUEUE_FULL');
      expect(error.message).toMatch(/busy.*retry in \d+ s/);
      expect(error.retryAfterSeconds).toBeGreaterThan(0);
    } finally {
      await tight.close();
    }
  });
});

describe('sessions', () => {
  it('refuses an unknown session id instead of making a new one', async () => {
    await expect(run('python', 'print(1)', '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'SESSION_NOT_FOUND',
    });
    await expect(run('python', 'print(1)', '../../etc')).rejects.toMatchObject({ code: 'SESSION_NOT_FOUND' });
  });

  it('uses a default session when no id is given', async () => {
    const first = await run('python', 'default_value = 7');
    const second = await run('python', 'default_value * 6');
    expect(second.sessionId).toBe(first.sessionId);
    expect(second.value).toBe('42');
  });

  it('survives an engine restart with its files and variables', async () => {
    const first = await startTestEngine();
    const session = (await first.engine.createSession(first.principal)).id;
    await first.engine.execute({
      principal: first.principal,
      sessionId: session,
      language: 'python',
      code: 'kept = {"answer": 42}\nopen("notes.txt", "w").write("persisted")',
    });
    await first.close({ keepData: true });
    const second = await startTestEngine({}, first.dataDir);
    try {
      const result = await second.engine.execute({
        principal: second.principal,
        sessionId: session,
        language: 'python',
        code: 'print(kept["answer"], open("notes.txt").read())',
      });
      expect(result.stdout.text.trim()).toBe('42 persisted');
    } finally {
      await second.close();
    }
  });
});
