/**
 * An outside client: the MCP Inspector's CLI (its own SDK build, its own process) against the real
 * server, over Streamable HTTP and over legacy SSE, sharing one Codecell session between them.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { startTestServer, TEST_KEY, type TestServer } from './helpers/test-server.js';

const run = promisify(execFile);
const INSPECTOR = path.resolve('node_modules/.bin/mcp-inspector');

const ToolResultSchema = z.object({
  content: z.array(z.object({ type: z.string(), text: z.string().optional() })),
  structuredContent: z.record(z.string(), z.unknown()).optional(),
  isError: z.boolean().optional(),
});

let server: TestServer;

beforeAll(async () => {
  server = await startTestServer();
});

afterAll(async () => {
  await server?.close();
});

async function inspectorCall(
  transport: 'http' | 'sse',
  tool: string,
  args: Record<string, string>,
): Promise<z.infer<typeof ToolResultSchema>> {
  const url = `${server.url}${transport === 'http' ? '/mcp' : '/sse'}`;
  const { stdout } = await run(
    INSPECTOR,
    [
      '--cli',
      url,
      '--transport',
      transport,
      '--header',
      `Authorization: Bearer ${TEST_KEY}`,
      '--header',
      'X-User-Id: inspector-user',
      '--method',
      'tools/call',
      '--tool-name',
      tool,
      ...Object.entries(args).flatMap(([name, value]) => ['--tool-arg', `${name}=${value}`]),
    ],
    { timeout: 90_000 },
  );
  return ToolResultSchema.parse(JSON.parse(stdout));
}

describe('MCP Inspector CLI as an outside client', () => {
  it('runs Python over Streamable HTTP and continues the session over SSE', async () => {
    const created = await inspectorCall('http', 'create_execution_session', {});
    const sessionId = String(created.structuredContent?.session_id);
    expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);

    const first = await inspectorCall('http', 'execute_python_code', { code: 'n = 6 * 7\nprint(n)', session_id: sessionId });
    expect(first.isError).toBe(false);
    expect(first.structuredContent?.stdout).toBe('42\n');
    expect(first.content[0]?.text).toContain(`Session ${sessionId}`);

    const second = await inspectorCall('sse', 'execute_python_code', { code: 'print(n + 1)', session_id: sessionId });
    expect(second.isError).toBe(false);
    expect(second.structuredContent?.stdout).toBe('43\n');
  });

  it('runs bash over SSE and reports an unknown session clearly over HTTP', async () => {
    const bash = await inspectorCall('sse', 'execute_bash_command', { command: 'echo inspector-$((1+1))' });
    expect(bash.structuredContent?.stdout).toBe('inspector-2\n');

    const unknown = await inspectorCall('http', 'execute_python_code', {
      code: 'print(1)',
      session_id: '00000000-0000-4000-8000-000000000000',
    });
    expect(unknown.isError).toBe(true);
    expect(unknown.content[0]?.text).toContain('SESSION_NOT_FOUND');
  });
});
