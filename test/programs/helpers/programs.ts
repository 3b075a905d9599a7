/**
 * Realistic model-written programs, run the way a chat runs them: a real Codecell HTTP server on
 * loopback, the official MCP SDK client over Streamable HTTP, one fresh session per program (so
 * programs run side by side), files in through upload_file and out through the REST route.
 * Each domain file holds a table of ProgramCase and hands it to describePrograms.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inlinePngSize } from '../../../src/executor/png.js';
import { restFilePath } from '../../../src/interfaces/http/file-routes.js';
import { ExecutionOutputSchema, type ExecutionOutput } from '../../../src/interfaces/mcp/render-result.js';
import { callTool, connectStreamable, headersFor, imagesOf, sessionOf, textOf } from '../../interfaces/helpers/mcp-client.js';
import { startTestServer, type TestServer } from '../../interfaces/helpers/test-server.js';

/** A plot or picture the result carried inline, with the size its PNG header declares. */
export interface InlinePng {
  readonly bytes: Buffer;
  readonly width: number;
  readonly height: number;
}

/** One call's result: the typed structuredContent, the text block a model reads, the inline images. */
export interface Run {
  readonly out: ExecutionOutput;
  readonly text: string;
  readonly images: readonly InlinePng[];
  readonly raw: CallToolResult;
}

export interface RunOptions {
  /** Return a failed run instead of failing the test (for programs whose error is the result). */
  readonly allowError?: boolean;
  readonly timeoutSeconds?: number;
}

/** One chat's session: the calls a model makes, in order, against one session_id. */
export interface ProgramSession {
  readonly id: string;
  python(code: string, options?: RunOptions): Promise<Run>;
  javascript(code: string, options?: RunOptions): Promise<Run>;
  typescript(code: string, options?: RunOptions): Promise<Run>;
  bash(command: string, options?: RunOptions): Promise<Run>;
  /** upload_file: text as text, a Buffer as base64. */
  upload(filename: string, content: string | Buffer): Promise<void>;
  /** The file's bytes as a client downloads them (REST route, API key). */
  download(path: string): Promise<Buffer>;
  /** Any other tool, in this session; a tool error fails the test unless allowError. */
  tool(name: string, args?: Record<string, unknown>, options?: RunOptions): Promise<CallToolResult>;
}

export interface ProgramCase {
  readonly name: string;
  readonly run: (session: ProgramSession) => Promise<void>;
}

const USER_ID = 'programs-user';

/** Starts one server for the file and runs each case concurrently, each in its own session. */
export function describePrograms(domain: string, cases: readonly ProgramCase[]): void {
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    server = await startTestServer({
      env: { EXECUTION_TIMEOUT: '60', CODECELL_CONCURRENCY: '2', CODECELL_POOL_PYTHON: '2', CODECELL_QUEUE_LIMIT: '64' },
    });
    client = await connectStreamable(server.url, { userId: USER_ID });
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  describe.concurrent(domain, () => {
    for (const program of cases) {
      it(program.name, async () => {
        const session = await openSession(client, server.url);
        try {
          await program.run(session);
        } finally {
          await callTool(client, 'close_execution_session', { session_id: session.id });
        }
      });
    }
  });
}

async function openSession(client: Client, baseUrl: string): Promise<ProgramSession> {
  const id = sessionOf(await callTool(client, 'create_execution_session'));

  const execute = async (tool: string, field: 'code' | 'command', source: string, options: RunOptions = {}): Promise<Run> => {
    const args: Record<string, unknown> = { [field]: source, session_id: id };
    if (options.timeoutSeconds !== undefined) args.timeout = options.timeoutSeconds;
    const raw = await callTool(client, tool, args, { timeoutMs: 110_000 });
    const text = textOf(raw);
    const parsed = ExecutionOutputSchema.safeParse(raw.structuredContent);
    if (!parsed.success) throw new Error(`${tool} returned no execution result: ${text}`);
    const out = parsed.data;
    if (options.allowError !== true) expect(out.status, `${tool} failed:\n${text}`).toBe('ok');
    return { out, text, images: imagesOf(raw).map(toInlinePng), raw };
  };

  return {
    id,
    python: (code, options) => execute('execute_python_code', 'code', code, options),
    javascript: (code, options) => execute('execute_javascript_code', 'code', code, options),
    typescript: (code, options) => execute('execute_typescript_code', 'code', code, options),
    bash: (command, options) => execute('execute_bash_command', 'command', command, options),
    async upload(filename, content) {
      const args =
        typeof content === 'string'
          ? { filename, content, session_id: id }
          : { filename, content: content.toString('base64'), encoding: 'base64', session_id: id };
      const result = await callTool(client, 'upload_file', args);
      expect(result.isError ?? false, textOf(result)).toBe(false);
    },
    async download(path) {
      const response = await fetch(new URL(restFilePath(id, path), baseUrl), { headers: headersFor({ userId: USER_ID }) });
      expect(response.status, `GET ${path}: ${response.status}`).toBe(200);
      return Buffer.from(await response.arrayBuffer());
    },
    async tool(name, args = {}, options = {}) {
      const result = await callTool(client, name, { session_id: id, ...args });
      if (options.allowError !== true) expect(result.isError ?? false, textOf(result)).toBe(false);
      return result;
    },
  };
}

function toInlinePng(image: { data: string; mimeType: string }): InlinePng {
  expect(image.mimeType).toBe('image/png');
  const bytes = Buffer.from(image.data, 'base64');
  const size = pngSize(bytes);
  return { bytes, ...size };
}

/** Width and height from a PNG's IHDR; fails the test when the bytes are not a PNG a client may show. */
export function pngSize(bytes: Buffer): { width: number; height: number } {
  const size = inlinePngSize(bytes);
  if (size === null) throw new Error(`not a PNG of a showable size (${bytes.length} bytes, starting ${bytes.subarray(0, 8).toString('hex')})`);
  return size;
}

/** The last stdout line parsed as JSON: programs print their result with json.dumps / JSON.stringify. */
export function lastJson<T = unknown>(run: Run): T {
  const lines = run.out.stdout.trim().split('\n');
  const last = lines[lines.length - 1] ?? '';
  try {
    return JSON.parse(last) as T;
  } catch {
    throw new Error(`the last stdout line is not JSON:\n${run.text}`);
  }
}

/** Two decimal numbers agree to `digits` places (toBeCloseTo with a readable message). */
export function expectClose(actual: unknown, expected: number, digits = 6): void {
  expect(typeof actual, `expected a number near ${expected}, got ${String(actual)}`).toBe('number');
  expect(actual as number).toBeCloseTo(expected, digits);
}

/** A small fixed table as CSV text (header row first). */
export function csv(header: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number>>): string {
  return [header.join(','), ...rows.map((row) => row.join(','))].join('\n') + '\n';
}

/**
 * A matplotlib figure of figsize × dpi = `expected` pixels, as the image comes back: Codecell saves
 * with `savefig.bbox: tight` (images/python/matplotlib/matplotlibrc), which trims the empty margin
 * and pads the drawn area by 0.1 inch, so each side lies between 60 % of the figure's and a little more.
 */
export function expectFigureSize(image: { width: number; height: number } | undefined, expected: { width: number; height: number }): void {
  expect(image, 'no image').toBeDefined();
  const { width, height } = image ?? { width: 0, height: 0 };
  expect(width, `width ${width} for a ${expected.width} px figure`).toBeGreaterThanOrEqual(Math.floor(expected.width * 0.6));
  expect(width, `width ${width} for a ${expected.width} px figure`).toBeLessThanOrEqual(expected.width + 20);
  expect(height, `height ${height} for a ${expected.height} px figure`).toBeGreaterThanOrEqual(Math.floor(expected.height * 0.6));
  expect(height, `height ${height} for a ${expected.height} px figure`).toBeLessThanOrEqual(expected.height + 20);
}
