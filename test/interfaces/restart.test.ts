/**
 * A restart (a new server on the same data dir) keeps sessions: variables in every language and
 * files. Old MCP session ids get 404, so clients initialize again, and then find their state.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { callTool, connectStreamable, headersFor, sessionOf, textOf } from './helpers/mcp-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

let second: TestServer | undefined;

afterAll(async () => {
  await second?.close();
});

describe('server restart', () => {
  it('keeps sessions, their files and variables; old MCP sessions get 404', async () => {
    const first = await startTestServer();
    const caller = { userId: 'restart-user' };
    const client = await connectStreamable(first.url, caller);
    const named = sessionOf(await callTool(client, 'create_execution_session'));
    const python = await callTool(client, 'execute_python_code', {
      code: 'import pandas as pd\ndf = pd.DataFrame({"v": [1, 2, 3]})\ndf.to_csv("table.csv", index=False)',
      session_id: named,
    });
    expect(python.isError, textOf(python)).toBe(false);
    await callTool(client, 'execute_javascript_code', { code: 'const jsKept = { n: 7 }', session_id: named });
    await callTool(client, 'execute_bash_command', { command: 'export KEPT_VALUE=yes' });
    const defaultSession = sessionOf(await callTool(client, 'execute_python_code', { code: 'in_default = 99' }));
    const staleMcpSession = client.transport && 'sessionId' in client.transport ? String(client.transport.sessionId) : '';
    expect(staleMcpSession).toMatch(/^[0-9a-f-]{36}$/);
    await client.close();
    await first.close({ keepData: true });

    second = await startTestServer({ dataDir: first.dataDir });
    const stale = await fetch(`${second.url}/mcp`, {
      method: 'POST',
      headers: {
        ...headersFor(caller),
        'Content-Type': 'application/json',
        Accept: 'application/json, text/event-stream',
        'Mcp-Session-Id': staleMcpSession,
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }),
    });
    expect(stale.status).toBe(404);

    const again = await connectStreamable(second.url, caller);
    const listed = await callTool(again, 'list_execution_sessions');
    expect(textOf(listed)).toContain(named);
    const readPython = await callTool(again, 'execute_python_code', {
      code: 'print(df["v"].sum(), open("table.csv").read().split())',
      session_id: named,
    });
    expect(readPython.structuredContent?.stdout).toBe("6 ['v', '1', '2', '3']\n");
    const readJs = await callTool(again, 'execute_javascript_code', { code: 'jsKept.n * 6', session_id: named });
    expect(readJs.structuredContent?.value, textOf(readJs)).toBe('42');
    const readDefault = await callTool(again, 'execute_python_code', { code: 'in_default' });
    expect(sessionOf(readDefault)).toBe(defaultSession);
    expect(readDefault.structuredContent?.value).toBe('99');
    const readBash = await callTool(again, 'execute_bash_command', { command: 'echo "$KEPT_VALUE"' });
    expect(readBash.structuredContent?.stdout).toBe('yes\n');
    await again.close();
  });
});
