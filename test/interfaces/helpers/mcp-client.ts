/** The official MCP SDK client over both HTTP transports, plus readers for tool results. */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { SSEClientTransport } from '@modelcontextprotocol/sdk/client/sse.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, type CallToolResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { TEST_KEY } from './test-server.js';

export interface Caller {
  /** API key to send; null sends none. Default: TEST_KEY. */
  readonly apiKey?: string | null;
  readonly userId?: string;
}

export function headersFor(caller: Caller = {}): Record<string, string> {
  const headers: Record<string, string> = {};
  const key = caller.apiKey === undefined ? TEST_KEY : caller.apiKey;
  if (key !== null) headers.Authorization = `Bearer ${key}`;
  if (caller.userId !== undefined) headers['X-User-Id'] = caller.userId;
  return headers;
}

export async function connectStreamable(baseUrl: string, caller: Caller = {}, path = '/mcp'): Promise<Client> {
  const client = new Client({ name: 'codecell-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(path, baseUrl), { requestInit: { headers: headersFor(caller) } }));
  return client;
}

export async function connectSse(baseUrl: string, caller: Caller = {}, path = '/sse'): Promise<Client> {
  const client = new Client({ name: 'codecell-test', version: '1.0.0' });
  await client.connect(new SSEClientTransport(new URL(path, baseUrl), { requestInit: { headers: headersFor(caller) } }));
  return client;
}

export async function callTool(
  client: Client,
  name: string,
  args: Record<string, unknown> = {},
  options: { onprogress?: (progress: Progress) => void; timeoutMs?: number } = {},
): Promise<CallToolResult> {
  const raw = await client.callTool({ name, arguments: args }, CallToolResultSchema, {
    onprogress: options.onprogress,
    timeout: options.timeoutMs ?? 90_000,
  });
  return CallToolResultSchema.parse(raw);
}

export function textOf(result: CallToolResult): string {
  return result.content
    .flatMap((part) => (part.type === 'text' ? [part.text] : []))
    .join('\n');
}

export function imagesOf(result: CallToolResult): { data: string; mimeType: string }[] {
  return result.content.flatMap((part) => (part.type === 'image' ? [{ data: part.data, mimeType: part.mimeType }] : []));
}

/** The session id the result names (structuredContent.session_id). */
export function sessionOf(result: CallToolResult): string {
  const id = result.structuredContent?.session_id;
  if (typeof id !== 'string') throw new Error(`result names no session: ${textOf(result)}`);
  return id;
}

/** True when `base64` decodes to a PNG (by its 8-byte signature). */
export function isPng(base64: string): boolean {
  return Buffer.from(base64, 'base64').subarray(0, 8).equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
}

/**
 * Opens a legacy SSE stream at `url` and reads until its endpoint event; the stream stays open
 * until close(). A status other than 200 throws.
 */
export async function openSseEndpoint(url: string, headers: Record<string, string>): Promise<{ endpoint: string; close: () => Promise<void> }> {
  const response = await fetch(url, { headers });
  if (response.status !== 200) throw new Error(`GET ${url} answered ${response.status}, not 200`);
  const reader = response.body?.getReader();
  if (!reader) throw new Error('no body');
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const match = /event: endpoint\ndata: (\S+)\n/.exec(text);
    if (match?.[1] !== undefined) return { endpoint: match[1], close: () => reader.cancel() };
    const chunk = await reader.read();
    if (chunk.done) throw new Error(`stream ended before the endpoint event: ${text}`);
    text += decoder.decode(chunk.value, { stream: true });
  }
}

/** How many sessions `userId` holds (test key), as MCP's list_execution_sessions shows them. */
export async function sessionCountOf(baseUrl: string, userId: string): Promise<number> {
  const client = await connectStreamable(baseUrl, { userId });
  try {
    return Number((await callTool(client, 'list_execution_sessions')).structuredContent?.count);
  } finally {
    await client.close();
  }
}
