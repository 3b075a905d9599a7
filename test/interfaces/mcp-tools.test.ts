/**
 * Every tool through the real server (Streamable HTTP at /mcp, real engine, real containers),
 * driven by the official SDK client the way LibreChat drives it, including the recipe's own
 * example prompts.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, connectStreamable, imagesOf, isPng, sessionOf, textOf } from './helpers/mcp-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

let server: TestServer;
let client: Client;

beforeAll(async () => {
  server = await startTestServer({ publicUrl: true, env: { EXECUTION_TIMEOUT: '20' } });
  client = await connectStreamable(server.url, { userId: 'tools-user' });
});

afterAll(async () => {
  await client?.close();
  await server?.close();
});

async function newSession(): Promise<string> {
  return sessionOf(await callTool(client, 'create_execution_session'));
}

describe('tool list and instructions', () => {
  it('offers the recipe’s tools plus the new ones, each with an input and output schema', async () => {
    const { tools } = await client.listTools();
    const names = tools.map((tool) => tool.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'execute_python_code',
        'execute_javascript_code',
        'execute_typescript_code',
        'execute_bash_command',
        'create_execution_session',
        'list_execution_sessions',
        'get_execution_history',
        'reset_execution_session',
        'close_execution_session',
        'get_system_info',
      ]),
    );
    const python = tools.find((tool) => tool.name === 'execute_python_code');
    expect(Object.keys(python?.inputSchema.properties ?? {})).toEqual(['code', 'session_id', 'timeout']);
    expect(python?.inputSchema.required).toEqual(['code']);
    expect(python?.outputSchema?.properties).toHaveProperty('session_id');
    const bash = tools.find((tool) => tool.name === 'execute_bash_command');
    expect(Object.keys(bash?.inputSchema.properties ?? {})).toEqual(['command', 'session_id', 'timeout']);
  });

  it('explains state, files, plots and limits in the server instructions', () => {
    const instructions = client.getInstructions() ?? '';
    expect(instructions).toContain('/mnt/data');
    expect(instructions).toMatch(/Without session_id every call uses your default session/);
    expect(instructions).toContain('images');
    expect(instructions).toContain('20 s per call');
  });
});

describe('execution', () => {
  it('runs Python and keeps its state in the default session across calls', async () => {
    const first = await callTool(client, 'execute_python_code', { code: 'x = 20\nprint("set")' });
    expect(first.isError).toBe(false);
    const second = await callTool(client, 'execute_python_code', { code: 'x + 22' });
    expect(second.isError, textOf(second)).toBe(false);
    expect(second.structuredContent?.value).toBe('42');
    expect(sessionOf(second)).toBe(sessionOf(first));
    expect(textOf(second)).toContain(`Session ${sessionOf(first)}`);
  });

  it('treats an empty session_id, and the word "default" the HTTP routes take, like a missing one', async () => {
    const withEmpty = await callTool(client, 'execute_python_code', { code: 'x', session_id: '' });
    const without = await callTool(client, 'execute_python_code', { code: 'x' });
    expect(sessionOf(withEmpty)).toBe(sessionOf(without));
    const withWord = await callTool(client, 'execute_python_code', { code: 'x', session_id: 'default' });
    expect(withWord.isError, textOf(withWord)).toBe(false);
    expect(sessionOf(withWord)).toBe(sessionOf(without));
    const listed = await callTool(client, 'list_files', { session_id: 'default' });
    expect(listed.isError, textOf(listed)).toBeFalsy();
    expect(listed.structuredContent?.session_id).toBe(sessionOf(without));
    const history = await callTool(client, 'get_execution_history', { session_id: 'default' });
    expect(history.isError, textOf(history)).toBeFalsy();
    expect(textOf(history)).toContain(sessionOf(without));
  });

  it('runs JavaScript and TypeScript, which share their state', async () => {
    const session = await newSession();
    const js = await callTool(client, 'execute_javascript_code', { code: 'const base = 40; console.log("js ok")', session_id: session });
    expect(textOf(js)).toContain('js ok');
    const ts = await callTool(client, 'execute_typescript_code', {
      code: 'const add = (a: number, b: number): number => a + b;\nconsole.log(add(base, 2));',
      session_id: session,
    });
    expect(ts.isError, textOf(ts)).toBe(false);
    expect(ts.structuredContent?.stdout).toBe('42\n');
  });

  it('runs bash commands', async () => {
    const result = await callTool(client, 'execute_bash_command', { command: 'echo "$((6 * 7))"; pwd' });
    expect(result.isError, textOf(result)).toBe(false);
    expect(result.structuredContent?.stdout).toBe('42\n/mnt/data\n');
  });

  it('reports a failing program as isError with the traceback', async () => {
    const result = await callTool(client, 'execute_python_code', { code: 'def f():\n    return 1 / 0\nf()' });
    expect(result.isError).toBe(true);
    expect(result.structuredContent?.status).toBe('error');
    const text = textOf(result);
    expect(text).toContain('ZeroDivisionError');
    expect(text).toContain('line 2');
  });

  it('lets timeout lower the limit, and reports the timeout as an error', async () => {
    const result = await callTool(client, 'execute_python_code', { code: 'import time\ntime.sleep(10)', timeout: 1 });
    expect(result.isError).toBe(true);
    // The server's limit is 20 s and the sleep 10 s: only the 1 s asked for can stop it.
    expect(result.structuredContent?.status).toBe('timeout');
  });

  it('kills a job when the client cancels the call, freeing the session at once', async () => {
    const session = await newSession();
    const abort = new AbortController();
    let running!: () => void;
    const started = new Promise<void>((resolve) => (running = resolve));
    const cancelled = client
      .callTool(
        { name: 'execute_python_code', arguments: { code: 'import time\nprint("started", flush=True)\ntime.sleep(15)', session_id: session } },
        undefined,
        { signal: abort.signal, onprogress: () => running() },
      )
      .then(
        () => 'finished',
        () => 'rejected',
      );
    await started; // its first output came back as progress: the job is running in its container
    abort.abort();
    expect(await cancelled).toBe('rejected');
    const next = await callTool(client, 'execute_python_code', { code: '"free"', session_id: session });
    expect(next.structuredContent?.value).toBe("'free'");
    // The cancelled job was killed, not waited for: its sleep never finished.
    const history = await callTool(client, 'get_execution_history', { session_id: session });
    expect((history.structuredContent?.history as Array<{ status: string }>).map((entry) => entry.status)).toEqual(['killed', 'ok']);
  });

  it('streams output as progress notifications when the client asks for them', async () => {
    const updates: Progress[] = [];
    const result = await callTool(
      client,
      'execute_python_code',
      { code: 'import time\nfor i in range(3):\n    print(f"tick {i}", flush=True)\n    time.sleep(0.4)' },
      { onprogress: (progress) => updates.push(progress) },
    );
    expect(result.isError, textOf(result)).toBe(false);
    expect(updates.length).toBeGreaterThanOrEqual(2);
    expect(updates.map((update) => update.message).join('')).toContain('tick 0');
    const progressValues = updates.map((update) => update.progress);
    expect([...progressValues].sort((a, b) => a - b)).toEqual(progressValues);
  });

  it('refuses a command with a lone UTF-16 surrogate as INVALID_INPUT, naming where it is', async () => {
    const result = await callTool(client, 'execute_bash_command', { command: 'echo \ud800' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toBe('INVALID_INPUT: code must be valid Unicode text: a lone surrogate at character 6');
  });

  it('answers a 10 MB code string with a clear size error, and keeps serving', async () => {
    const result = await callTool(client, 'execute_python_code', { code: `# ${'x'.repeat(10 * 1024 * 1024)}` });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/1000000|1,000,000/);
    const after = await callTool(client, 'execute_python_code', { code: '1 + 1' });
    expect(after.structuredContent?.value).toBe('2');
  });

  it('lists files the code wrote, with a download link that works without the API key', async () => {
    const result = await callTool(client, 'execute_python_code', {
      code: 'with open("report.csv", "w") as f:\n    f.write("a,b\\n1,2\\n")',
    });
    expect(result.isError, textOf(result)).toBe(false);
    expect(textOf(result)).toContain('created /mnt/data/report.csv');
    const files = result.structuredContent?.files;
    expect(Array.isArray(files)).toBe(true);
    const link = Array.isArray(files) ? (files[0] as { download_url: string | null }).download_url : null;
    expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/files\/signed\//);
    const download = await fetch(String(link));
    expect(download.status).toBe(200);
    expect(await download.text()).toBe('a,b\n1,2\n');
  });
});

describe('plots', () => {
  it('returns a matplotlib figure as an image block', async () => {
    const result = await callTool(client, 'execute_python_code', {
      code: 'import matplotlib.pyplot as plt\nplt.plot([1, 2, 3], [1, 4, 9])\nplt.show()',
    });
    expect(result.isError, textOf(result)).toBe(false);
    const images = imagesOf(result);
    expect(images).toHaveLength(1);
    expect(images[0]?.mimeType).toBe('image/png');
    expect(isPng(images[0]?.data ?? '')).toBe(true);
  });
});

describe('sessions', () => {
  it('creates, lists, shows history, resets (keeping files) and closes a session', async () => {
    const session = await newSession();
    const listed = await callTool(client, 'list_execution_sessions');
    expect(textOf(listed)).toContain(session);

    await callTool(client, 'execute_python_code', {
      code: 'kept = 1\nopen("kept.txt", "w").write("still here")',
      session_id: session,
    });
    const history = await callTool(client, 'get_execution_history', { session_id: session });
    expect(history.isError, textOf(history)).not.toBe(true);
    expect(textOf(history)).toContain('kept = 1');
    expect(history.structuredContent?.history).toHaveLength(1);

    const reset = await callTool(client, 'reset_execution_session', { session_id: session });
    expect(reset.isError, textOf(reset)).not.toBe(true);
    const afterReset = await callTool(client, 'execute_python_code', {
      code: 'print(open("kept.txt").read())\nprint("kept" in globals())',
      session_id: session,
    });
    expect(afterReset.structuredContent?.stdout).toBe('still here\nFalse\n');

    const closed = await callTool(client, 'close_execution_session', { session_id: session });
    expect(closed.isError, textOf(closed)).not.toBe(true);
    const gone = await callTool(client, 'execute_python_code', { code: '1', session_id: session });
    expect(gone.isError).toBe(true);
    expect(textOf(gone)).toContain('SESSION_NOT_FOUND');
  });

  it('answers an unknown session_id with a clear error instead of a new session', async () => {
    for (const tool of ['execute_python_code', 'execute_javascript_code', 'execute_bash_command'] as const) {
      const args = tool === 'execute_bash_command' ? { command: 'true' } : { code: '1' };
      const result = await callTool(client, tool, { ...args, session_id: '00000000-0000-4000-8000-000000000000' });
      expect(result.isError, tool).toBe(true);
      expect(result.structuredContent).toBeUndefined();
      expect(textOf(result)).toMatch(/^SESSION_NOT_FOUND: .*session/);
      // Worded for a model: the tools that help, not a REST route or a CLI command.
      expect(textOf(result)).toContain('create_execution_session');
      expect(textOf(result)).not.toMatch(/\/v1\/|codecell session/);
      expect(textOf(result)).toContain('leave session_id out');
    }
    // These tools require session_id: their advice must not tell the model to leave it out.
    for (const tool of ['get_execution_history', 'close_execution_session'] as const) {
      const result = await callTool(client, tool, { session_id: '00000000-0000-4000-8000-000000000000' });
      expect(result.isError, tool).toBe(true);
      expect(textOf(result)).toContain('SESSION_NOT_FOUND');
      expect(textOf(result)).toContain('list_execution_sessions');
      expect(textOf(result)).not.toContain('leave session_id out');
    }
  });

  it('reports real system information', async () => {
    const result = await callTool(client, 'get_system_info');
    expect(result.isError, textOf(result)).not.toBe(true);
    const info = result.structuredContent as { runtimes: { runtime: string; language_version: string; packages: Record<string, string> }[] };
    const python = info.runtimes.find((runtime) => runtime.runtime === 'python');
    expect(python?.language_version).toMatch(/^3\.\d+/);
    expect(Object.keys(python?.packages ?? {})).toEqual(expect.arrayContaining(['numpy', 'pandas', 'matplotlib']));
    expect(info.runtimes.find((runtime) => runtime.runtime === 'node')?.language_version).toMatch(/^\d+\.\d+/);
    expect(textOf(result)).toContain('20 s per call');
  });
});

describe('the recipe’s example prompts', () => {
  it('draws the damped sine wave and prints its message', async () => {
    const code = [
      'import matplotlib.pyplot as plt',
      'import numpy as np',
      'x = np.linspace(0, 10, 100)',
      'y = np.sin(x) * np.exp(-x/10)',
      'plt.figure(figsize=(10, 6))',
      "plt.plot(x, y, 'b-', linewidth=2, label='Damped Sine Wave')",
      "plt.title('Example Visualization')",
      "plt.xlabel('X values')",
      "plt.ylabel('Y values')",
      'plt.legend()',
      'plt.grid(True, alpha=0.3)',
      'plt.show()',
      'print("Visualization created successfully!")',
    ].join('\n');
    const result = await callTool(client, 'execute_python_code', { code });
    expect(result.isError, textOf(result)).toBe(false);
    expect(result.structuredContent?.stdout).toBe('Visualization created successfully!\n');
    expect(imagesOf(result)).toHaveLength(1);
    expect((result.structuredContent?.images as { width: number }[])[0]?.width).toBeGreaterThan(500);
  });

  it('draws the 2×2 subplot figure as one image', async () => {
    const code = [
      'import matplotlib.pyplot as plt',
      'import numpy as np',
      'fig, ((ax1, ax2), (ax3, ax4)) = plt.subplots(2, 2, figsize=(12, 8))',
      'x = np.linspace(0, 10, 100)',
      'ax1.plot(x, np.sin(x)); ax1.set_title("Line Plot")',
      'ax2.scatter(np.random.randn(50), np.random.randn(50), alpha=0.6); ax2.set_title("Scatter Plot")',
      'ax3.bar(["A", "B", "C", "D"], [23, 45, 56, 78]); ax3.set_title("Bar Chart")',
      'ax4.hist(np.random.normal(0, 1, 1000), bins=30, alpha=0.7); ax4.set_title("Histogram")',
      'plt.tight_layout()',
      'plt.show()',
    ].join('\n');
    const result = await callTool(client, 'execute_python_code', { code });
    expect(result.isError, textOf(result)).toBe(false);
    const images = imagesOf(result);
    expect(images).toHaveLength(1);
    expect(isPng(images[0]?.data ?? '')).toBe(true);
  });

  it('computes the JavaScript statistics', async () => {
    const code = [
      'const data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];',
      'const sum = data.reduce((acc, val) => acc + val, 0);',
      'const mean = sum / data.length;',
      'const variance = data.reduce((acc, val) => acc + Math.pow(val - mean, 2), 0) / data.length;',
      'const stdDev = Math.sqrt(variance);',
      'console.log(`Dataset: [${data.join(", ")}]`);',
      'console.log(`Sum: ${sum}`);',
      'console.log(`Mean: ${mean}`);',
      'console.log(`Standard Deviation: ${stdDev.toFixed(3)}`);',
      'const result = { dataset: data, statistics: { sum, mean, variance, stdDev }, timestamp: new Date().toISOString() };',
      "console.log('\\nResult:');",
      'console.log(JSON.stringify(result, null, 2));',
    ].join('\n');
    const result = await callTool(client, 'execute_javascript_code', { code, session_id: await newSession() });
    expect(result.isError, textOf(result)).toBe(false);
    const stdout = String(result.structuredContent?.stdout);
    expect(stdout).toContain('Sum: 55');
    expect(stdout).toContain('Mean: 5.5');
    expect(stdout).toContain('Standard Deviation: 2.872');
    expect(stdout).toContain('"variance": 8.25');
  });

  it('runs the two-step session example: the second step sees the first step’s variables', async () => {
    const session = await newSession();
    const step1 = await callTool(client, 'execute_python_code', {
      code: 'import numpy as np\ndata = np.array([1, 2, 3, 4, 5])\nmean_value = np.mean(data)\nprint(f"Mean: {mean_value}")',
      session_id: session,
    });
    expect(step1.structuredContent?.stdout).toBe('Mean: 3.0\n');
    const step2 = await callTool(client, 'execute_python_code', {
      code: 'std_value = np.std(data)\nprint(f"Standard deviation: {std_value}")\nprint(f"Data range: {np.max(data) - np.min(data)}")',
      session_id: session,
    });
    expect(step2.isError, textOf(step2)).toBe(false);
    expect(step2.structuredContent?.stdout).toBe('Standard deviation: 1.4142135623730951\nData range: 4\n');
  });
});
