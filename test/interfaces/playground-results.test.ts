/**
 * What the playground reads from the MCP execution tools, through the real server, engine and
 * Python image with the official SDK client: rich displays in structuredContent (and their place
 * in the result budget), typed output chunks in progress notifications, and download links built
 * from the request's own origin without CODECELL_PUBLIC_URL (X-Forwarded-* only from a trusted proxy).
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTPUT_META_KEY } from '../../src/interfaces/mcp/progress.js';
import { callTool, headersFor, textOf } from './helpers/mcp-client.js';
import { startTestServer, type TestServer } from './helpers/test-server.js';

const FORGED = { 'X-Forwarded-Host': 'evil.example:8443', 'X-Forwarded-Proto': 'https' };

let direct: TestServer;
let proxied: TestServer;
const clients: Client[] = [];

async function connect(server: TestServer, extraHeaders: Record<string, string> = {}): Promise<Client> {
  const client = new Client({ name: 'playground-test', version: '1.0.0' });
  const headers = { ...headersFor({ userId: 'playground-user' }), ...extraHeaders };
  await client.connect(new StreamableHTTPClientTransport(new URL('/mcp', server.url), { requestInit: { headers } }));
  clients.push(client);
  return client;
}

beforeAll(async () => {
  [direct, proxied] = await Promise.all([
    startTestServer({ env: { EXECUTION_TIMEOUT: '60' } }),
    startTestServer({ env: { EXECUTION_TIMEOUT: '60', CODECELL_TRUST_PROXY: 'loopback' } }),
  ]);
});

afterAll(async () => {
  await Promise.all(clients.map((client) => client.close()));
  await Promise.all([direct?.close(), proxied?.close()]);
});

interface Structured {
  displays: unknown[];
  cut_to_fit: string[];
  stdout: string;
  stderr: string;
  files: { path: string; download_url: string | null }[];
}
const structuredOf = (result: Awaited<ReturnType<typeof callTool>>): Structured => result.structuredContent as unknown as Structured;

describe('rich displays over MCP', () => {
  it('carries a DataFrame table and an HTML display in structuredContent, the text as before', async () => {
    const client = await connect(direct);
    const result = await callTool(client, 'execute_python_code', {
      code: [
        'import pandas as pd',
        'from IPython.display import HTML, display',
        'display(HTML("<em>hello</em>"))',
        'pd.DataFrame({"city": ["Oslo", "Lima"], "temp": [3.5, 19.0]}, index=pd.Index(["a", "b"], name="k"))',
      ].join('\n'),
    });
    expect(result.isError, textOf(result)).toBe(false);
    expect(structuredOf(result).displays).toEqual([
      { type: 'html', html: '<em>hello</em>', stdout_span: [0, 15] },
      {
        type: 'table',
        columns: ['city', 'temp'],
        index: ['a', 'b'],
        index_names: ['k'],
        column_names: null,
        rows: [
          ['Oslo', 3.5],
          ['Lima', 19.0],
        ],
        total_rows: 2,
        total_columns: 2,
        truncated: false,
        stdout_span: null,
      },
    ]);
    // The model reads the text block: the value's text table, no display JSON.
    expect(textOf(result)).toContain('Oslo   3.5');
    expect(textOf(result)).not.toContain('total_rows');
  });

  it('places each display() in stdout: stdout_span in UTF-16 units, text before and after untouched', async () => {
    const client = await connect(direct);
    const result = await callTool(client, 'execute_python_code', {
      code: [
        'import pandas as pd, subprocess',
        'from IPython.display import HTML, display',
        'print("before 😀😀")',
        'display(pd.DataFrame({"city": ["Oslo", "Zürich 😀"], "temp": [3.5, 19.0]}))',
        'subprocess.run(["echo", "from a child"])',
        'display(HTML("<b>bold</b>"))',
        'print("after")',
        'pd.DataFrame({"n": [1, 2]})',
      ].join('\n'),
    });
    expect(result.isError, textOf(result)).toBe(false);
    const { stdout, displays } = structuredOf(result);
    const table = '       city  temp\n0      Oslo   3.5\n1  Zürich 😀  19.0\n';
    expect(stdout).toBe(`before 😀😀\n${table}from a child\n<b>bold</b>\nafter\n`);
    // "before 😀😀\n" is 10 code points but 12 UTF-16 units; the table's own emoji counts 2 as well.
    const spans = (displays as { stdout_span: [number, number] | null }[]).map((display) => display.stdout_span);
    expect(spans).toEqual([[12, 67], [80, 92], null]);
    expect(stdout.slice(12, 67)).toBe(table);
    expect(stdout.slice(80, 92)).toBe('<b>bold</b>\n');
  });

  it('gives no stdout_span when stdout was cut in the middle', async () => {
    const client = await connect(direct);
    const result = await callTool(client, 'execute_python_code', {
      code: ['import pandas as pd', 'from IPython.display import display', 'display(pd.DataFrame({"n": [1]}))', 'print("x" * 300_000)'].join('\n'),
    });
    expect(result.isError, textOf(result)).toBe(false);
    const { displays } = structuredOf(result);
    expect(displays).toHaveLength(1);
    expect((displays[0] as { stdout_span: unknown }).stdout_span).toBeNull();
  });

  it('names the index and column levels: groupby keeps "region", a MultiIndex keeps its level names', async () => {
    const client = await connect(direct);
    const result = await callTool(client, 'execute_python_code', {
      code: [
        'import pandas as pd',
        'from IPython.display import display',
        'sales = pd.DataFrame({"region": ["north", "south", "north"], "year": [2024, 2024, 2025], "amount": [3, 5, 4]})',
        'display(sales.groupby("region")[["amount"]].sum())',
        'display(sales.set_index(["region", "year"]))',
      ].join('\n'),
    });
    expect(result.isError, textOf(result)).toBe(false);
    expect(structuredOf(result).displays).toEqual([
      {
        type: 'table',
        columns: ['amount'],
        index: ['north', 'south'],
        index_names: ['region'],
        column_names: null,
        rows: [[7], [5]],
        total_rows: 2,
        total_columns: 1,
        truncated: false,
        stdout_span: [0, 60],
      },
      {
        type: 'table',
        columns: ['amount'],
        index: ['north / 2024', 'south / 2024', 'north / 2025'],
        index_names: ['region', 'year'],
        column_names: null,
        rows: [[3], [5], [4]],
        total_rows: 3,
        total_columns: 1,
        truncated: false,
        stdout_span: [60, 160],
      },
    ]);
  });

  it('names column levels: a frame whose columns have a name', async () => {
    const client = await connect(direct);
    const result = await callTool(client, 'execute_python_code', {
      code: [
        'import pandas as pd',
        'df = pd.DataFrame([[1, 2]], columns=pd.MultiIndex.from_tuples([("a", "x"), ("a", "y")], names=["top", None]))',
        'df',
      ].join('\n'),
    });
    expect(result.isError, textOf(result)).toBe(false);
    expect(structuredOf(result).displays).toEqual([
      {
        type: 'table',
        columns: ['a / x', 'a / y'],
        index: null,
        index_names: null,
        column_names: ['top', null],
        rows: [[1, 2]],
        total_rows: 1,
        total_columns: 2,
        truncated: false,
        stdout_span: null,
      },
    ]);
  });

  it('drops displays first, from the end, when the result would pass its budget, and says so', async () => {
    const client = await connect(direct);
    const result = await callTool(client, 'execute_python_code', {
      code: [
        'import numpy as np, pandas as pd',
        'from IPython.display import HTML, display',
        'display(HTML("<b>small</b>"))',
        'display(pd.DataFrame(np.arange(300 * 60).reshape(300, 60)))',
        'print("done")',
      ].join('\n'),
    });
    expect(result.isError, textOf(result)).toBe(false);
    const structured = structuredOf(result);
    expect(structured.displays).toEqual([{ type: 'html', html: '<b>small</b>', stdout_span: [0, 13] }]);
    expect(structured.cut_to_fit[0]).toBe('1 of 2 displays (tables, HTML) are left out; their text is in the output');
    expect(structured.stdout).toContain('done');
    const total = textOf(result).length + JSON.stringify(result.structuredContent).length;
    expect(total).toBeLessThanOrEqual(direct.settings.limits.maxResultChars);
  });
});

describe('typed output chunks in progress notifications', () => {
  it('tells stdout from stderr in a run that writes both, interleaved', async () => {
    const client = await connect(direct);
    const notes: Progress[] = [];
    const result = await callTool(
      client,
      'execute_python_code',
      {
        code: [
          'import sys, time',
          'for i in range(40):',
          '    print(f"out{i}", flush=True)',
          '    print(f"err{i}", file=sys.stderr, flush=True)',
          '    time.sleep(0.05)',
        ].join('\n'),
      },
      { onprogress: (progress) => notes.push(progress) },
    );
    expect(result.isError, textOf(result)).toBe(false);
    // The SDK hands the notification's params through, _meta included (its Progress type does not name it).
    const chunks = notes.map((note) => ((note as { _meta?: Record<string, unknown> })._meta?.[OUTPUT_META_KEY] ?? []) as { stream: string; text: string }[]);
    expect(chunks.every((list) => list.length > 0)).toBe(true);
    // Each notification's message is its chunks' text, in order.
    notes.forEach((note, index) => expect(note.message).toBe(chunks[index]!.map((chunk) => chunk.text).join('')));
    const streamed = (stream: string) =>
      chunks
        .flat()
        .filter((chunk) => chunk.stream === stream)
        .map((chunk) => chunk.text)
        .join('');
    const { stdout, stderr } = structuredOf(result);
    expect(stdout).toBe(Array.from({ length: 40 }, (_, i) => `out${i}\n`).join(''));
    expect(stderr).toBe(Array.from({ length: 40 }, (_, i) => `err${i}\n`).join(''));
    // What was streamed before the answer is each stream's own beginning: nothing crossed over.
    expect(streamed('stdout').length).toBeGreaterThan(0);
    expect(streamed('stderr').length).toBeGreaterThan(0);
    expect(stdout.startsWith(streamed('stdout'))).toBe(true);
    expect(stderr.startsWith(streamed('stderr'))).toBe(true);
  });
});

describe('download links without CODECELL_PUBLIC_URL', () => {
  const writeCsv = { code: 'open("report.csv", "w").write("a,b\\n1,2\\n")' };

  async function linkAndBytes(server: TestServer, headers: Record<string, string>): Promise<{ link: string; bytes: string }> {
    const client = await connect(server, headers);
    const result = await callTool(client, 'execute_python_code', writeCsv);
    expect(result.isError, textOf(result)).toBe(false);
    const link = structuredOf(result).files.find((file) => file.path === 'report.csv')?.download_url;
    if (typeof link !== 'string') throw new Error(`no link in ${JSON.stringify(result.structuredContent)}`);
    expect(textOf(result)).toContain(`download: ${link}`);
    // Fetched from the server itself, whatever origin the link names.
    const url = new URL(link);
    const response = await fetch(new URL(url.pathname, server.url));
    expect(response.status).toBe(200);
    return { link, bytes: await response.text() };
  }

  it('builds signed links from the request origin and ignores X-Forwarded-* from an untrusted client', async () => {
    const { link, bytes } = await linkAndBytes(direct, FORGED);
    expect(link.startsWith(`${direct.url}/files/signed/`)).toBe(true);
    expect(link).not.toContain('evil.example');
    expect(bytes).toBe('a,b\n1,2\n');
  });

  it('honours X-Forwarded-Proto/-Host from a proxy CODECELL_TRUST_PROXY names', async () => {
    const { link, bytes } = await linkAndBytes(proxied, FORGED);
    expect(link).toMatch(/^https:\/\/evil\.example:8443\/files\/signed\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    expect(bytes).toBe('a,b\n1,2\n');
  });

  it('gives no working link for a tampered token', async () => {
    const { link } = await linkAndBytes(direct, {});
    // A character in the middle of the MAC: every bit of it counts (the last one carries 2 spare bits).
    const middle = link.length - 20;
    const tampered = `${link.slice(0, middle)}${link[middle] === 'A' ? 'B' : 'A'}${link.slice(middle + 1)}`;
    const response = await fetch(tampered);
    expect(response.status).toBe(403);
  });
});
