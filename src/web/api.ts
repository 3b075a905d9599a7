/**
 * The playground's only door to the server: the official MCP client over Streamable HTTP for
 * runs, sessions and system info, and the REST file routes under /v1 for files. The key (when the
 * server has keys) lives in sessionStorage and travels only as the X-API-Key header.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';

const KEY_STORAGE = 'codecell.apiKey';
/** Runs may last as long as the server allows; progress keeps the request alive. */
const CALL_TIMEOUT_MS = 60 * 60 * 1000;

export class UnauthorizedError extends Error {}

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key: string): void {
  sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey(): void {
  sessionStorage.removeItem(KEY_STORAGE);
}

function keyHeaders(key: string | null): Record<string, string> {
  return key === null ? {} : { 'X-API-Key': key };
}

export interface OutputChunk {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
}

/** C4: typed chunks in `_meta["codecell/output"]`; a server without them sends only `message` (stdout and stderr mixed). */
function chunksOf(progress: { message?: string | undefined; _meta?: Record<string, unknown> | undefined }): OutputChunk[] {
  const typed = progress._meta?.['codecell/output'];
  if (Array.isArray(typed)) {
    return typed.flatMap((chunk: unknown) => {
      if (typeof chunk !== 'object' || chunk === null) return [];
      const { stream, text } = chunk as { stream?: unknown; text?: unknown };
      if ((stream !== 'stdout' && stream !== 'stderr') || typeof text !== 'string') return [];
      return [{ stream, text }];
    });
  }
  return typeof progress.message === 'string' && progress.message.length > 0 ? [{ stream: 'stdout', text: progress.message }] : [];
}

export class CodecellApi {
  private constructor(
    private readonly client: Client,
    private readonly key: string | null,
  ) {}

  static async connect(key: string | null): Promise<CodecellApi> {
    const client = new Client({ name: 'codecell-playground', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL('/mcp', window.location.origin), {
      requestInit: { headers: keyHeaders(key) },
    });
    try {
      await client.connect(transport);
    } catch (error) {
      if ((error as { code?: unknown }).code === 401) throw new UnauthorizedError('the server refused the key');
      throw error;
    }
    return new CodecellApi(client, key);
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  async callTool(
    name: string,
    args: Record<string, unknown> = {},
    onOutput?: (chunk: OutputChunk) => void,
    signal?: AbortSignal,
  ): Promise<CallToolResult> {
    const result = await this.client.callTool({ name, arguments: args }, undefined, {
      ...(signal === undefined ? {} : { signal }),
      timeout: CALL_TIMEOUT_MS,
      resetTimeoutOnProgress: true,
      ...(onOutput === undefined
        ? {}
        : { onprogress: (progress) => chunksOf(progress as Parameters<typeof chunksOf>[0]).forEach(onOutput) }),
    });
    return result as CallToolResult;
  }

  /** A tool's structuredContent, or its text as the error when the call failed. */
  async structured<T>(name: string, args: Record<string, unknown> = {}): Promise<T> {
    const result = await this.callTool(name, args);
    if (result.isError === true || result.structuredContent === undefined) throw new Error(textOf(result) || `${name} failed`);
    return result.structuredContent as T;
  }

  private async rest(path: string, init: RequestInit = {}): Promise<Response> {
    const response = await fetch(path, { ...init, headers: { ...keyHeaders(this.key), ...(init.headers as Record<string, string> | undefined) } });
    if (response.status === 401) throw new UnauthorizedError('the server refused the key');
    if (!response.ok) {
      const body = (await response.json().catch(() => null)) as { message?: string } | null;
      throw new Error(body?.message ?? `${response.status} ${response.statusText}`);
    }
    return response;
  }

  async listFiles(session: string): Promise<FileEntry[]> {
    const response = await this.rest(`/v1/sessions/${encodeURIComponent(session)}/files`);
    return (await response.json()) as FileEntry[];
  }

  async uploadFiles(session: string, files: readonly File[]): Promise<void> {
    const form = new FormData();
    for (const file of files) form.append('file', file, file.name);
    await this.rest(`/v1/sessions/${encodeURIComponent(session)}/files`, { method: 'POST', body: form });
  }

  async downloadFile(session: string, path: string): Promise<Blob> {
    const response = await this.rest(`/v1/sessions/${encodeURIComponent(session)}/files/${encodePath(path)}`);
    return response.blob();
  }

  async deleteFile(session: string, path: string): Promise<void> {
    await this.rest(`/v1/sessions/${encodeURIComponent(session)}/files/${encodePath(path)}`, { method: 'DELETE' });
  }
}

export interface FileEntry {
  readonly path: string;
  readonly size: number;
  readonly kind?: string;
  readonly mimeType?: string;
}

function encodePath(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export function textOf(result: CallToolResult): string {
  return result.content.flatMap((block) => (block.type === 'text' ? [block.text] : [])).join('\n');
}
