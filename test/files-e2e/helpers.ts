/**
 * End-to-end file tests: a real server (real engine, real containers) on loopback, reached the way
 * clients reach it: the official MCP SDK client for the tools, plain HTTP for the REST routes and
 * signed links. Code run in the sandbox plays the attacker; the routes are the victims.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { ExecutionOutputSchema, type ExecutionOutput } from '../../src/interfaces/mcp/render-result.js';
import { SessionStore } from '../../src/sessions/session-store.js';
import { multipartBody, type MultipartPart } from '../unit/files/helpers.js';
import { callTool, connectStreamable, headersFor, textOf, type Caller } from '../interfaces/helpers/mcp-client.js';
import { startTestServer, type TestServer } from '../interfaces/helpers/test-server.js';

export const MiB = 1024 * 1024;

export type CodeTool = 'execute_python_code' | 'execute_javascript_code' | 'execute_bash_command';

/** A test server whose results carry signed links to itself. `env` uses the real setting names. */
export function startFilesServer(env: Record<string, string>): Promise<TestServer> {
  return startTestServer({ publicUrl: true, env: { EXECUTION_TIMEOUT: '30', ...env } });
}

/** One principal: an MCP client and a REST client with the same key and X-User-Id. */
export interface Actor {
  readonly mcp: Client;
  readonly rest: RestClient;
  /** Runs code through the execution tool and returns its typed result (and the raw one). */
  run(tool: CodeTool, code: string, sessionId?: string, timeoutSeconds?: number): Promise<Execution>;
  /** Calls any tool; the text of its result and whether it is an error. */
  tool(name: string, args: Record<string, unknown>): Promise<ToolAnswer>;
  /** A new session of this actor's. */
  newSession(): Promise<string>;
  close(): Promise<void>;
}

export interface Execution {
  readonly output: ExecutionOutput;
  readonly raw: CallToolResult;
  readonly text: string;
}

export interface ToolAnswer {
  readonly isError: boolean;
  readonly text: string;
  readonly raw: CallToolResult;
}

export async function connectActor(baseUrl: string, caller: Caller): Promise<Actor> {
  const mcp = await connectStreamable(baseUrl, caller);
  const tool = async (name: string, args: Record<string, unknown>): Promise<ToolAnswer> => {
    const raw = await callTool(mcp, name, args);
    return { isError: raw.isError === true, text: textOf(raw), raw };
  };
  return {
    mcp,
    rest: new RestClient(baseUrl, caller),
    tool,
    async run(toolName, code, sessionId, timeoutSeconds) {
      const args: Record<string, unknown> = toolName === 'execute_bash_command' ? { command: code } : { code };
      if (sessionId !== undefined) args.session_id = sessionId;
      if (timeoutSeconds !== undefined) args.timeout = timeoutSeconds;
      const raw = await callTool(mcp, toolName, args);
      const text = textOf(raw);
      if (raw.structuredContent === undefined) throw new Error(`${toolName} was refused: ${text}`);
      return { output: ExecutionOutputSchema.parse(raw.structuredContent), raw, text };
    },
    async newSession() {
      const answer = await tool('create_execution_session', {});
      const id = answer.raw.structuredContent?.session_id;
      if (typeof id !== 'string') throw new Error(`no session was created: ${answer.text}`);
      return id;
    },
    close: () => mcp.close(),
  };
}

/** A response read to the end. */
export interface RawResponse {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: Buffer;
}

export function jsonOf(response: RawResponse): Record<string, unknown> {
  return JSON.parse(response.body.toString('utf8')) as Record<string, unknown>;
}

/**
 * The REST file routes. Paths are sent exactly as given (no URL normalization, unlike fetch), so
 * tests can send `..` segments and escapes byte for byte.
 */
export class RestClient {
  constructor(
    readonly baseUrl: string,
    private readonly caller: Caller,
  ) {}

  list(session: string): Promise<RawResponse> {
    return this.request('GET', `/v1/sessions/${session}/files`);
  }

  /** `rawPath` goes into the URL as is: escape it yourself (see filePath). */
  download(session: string, rawPath: string, method: 'GET' | 'HEAD' = 'GET'): Promise<RawResponse> {
    return this.request(method, `/v1/sessions/${session}/files/${rawPath}`);
  }

  remove(session: string, rawPath: string): Promise<RawResponse> {
    return this.request('DELETE', `/v1/sessions/${session}/files/${rawPath}`);
  }

  upload(session: string, parts: readonly MultipartPart[]): Promise<RawResponse> {
    const { body, contentType } = multipartBody(parts);
    return this.request('POST', `/v1/sessions/${session}/files`, { 'content-type': contentType }, body);
  }

  /** Listed paths of a session, or throws with the answer when the listing is refused. */
  async paths(session: string): Promise<string[]> {
    const response = await this.list(session);
    if (response.status !== 200) throw new Error(`listing answered ${response.status}: ${response.body.toString()}`);
    return (JSON.parse(response.body.toString('utf8')) as Array<{ path: string }>).map((entry) => entry.path);
  }

  request(method: string, rawPath: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawResponse> {
    return rawRequest(`${this.baseUrl}${rawPath}`, method, { ...headersFor(this.caller), ...headers }, body);
  }
}

/** A plain request without an API key (what a chat client does with a signed link). */
export function fetchWithoutKey(url: string): Promise<RawResponse> {
  return rawRequest(url, 'GET', {});
}

/** An HTTP request whose path is sent byte for byte as written in `url`. */
export function rawRequest(url: string, method: string, headers: Record<string, string>, body?: Buffer): Promise<RawResponse> {
  const match = /^(http:\/\/[^/]+)(\/.*)$/.exec(url);
  if (!match?.[1] || !match[2]) throw new Error(`not an http URL with a path: ${url}`);
  const origin = new URL(match[1]);
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: origin.hostname,
        port: origin.port,
        method,
        path: match[2],
        headers: body === undefined ? headers : { ...headers, 'content-length': String(body.length) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end(body);
  });
}

/** A relative path as a URL path, each segment escaped: the ordinary way to name a file. */
export function filePath(relativePath: string): string {
  return relativePath.split('/').map(encodeURIComponent).join('/');
}

export function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The download links of the files a run reports, by path (null for links, which get none). */
export function linksOf(output: ExecutionOutput): Map<string, string | null> {
  return new Map(output.files.map((file) => [file.path, file.download_url]));
}

/** The token part of a signed link. */
export function tokenOf(signedUrl: string): string {
  const token = signedUrl.split('/files/signed/')[1];
  if (!token) throw new Error(`not a signed link: ${signedUrl}`);
  return token;
}

/**
 * Every entry under `root` (lstat only, no link followed) whose name contains `marker`, as paths.
 * With `depth` 0 only the root's own entries are looked at.
 */
export async function findByName(root: string, marker: string, depth = Number.POSITIVE_INFINITY): Promise<string[]> {
  const found: string[] = [];
  const walk = async (dir: string, level: number): Promise<void> => {
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return;
    }
    for (const name of names) {
      const full = path.join(dir, name);
      if (name.includes(marker)) found.push(full);
      if (level >= depth) continue;
      const stats = await fs.lstat(full).catch(() => null);
      if (stats?.isDirectory()) await walk(full, level + 1);
    }
  };
  await walk(root, 0);
  return found;
}

/** The host directory that holds a session's files between runs, as the server's session store lays it out. */
export async function sessionFilesDir(server: TestServer, sessionId: string): Promise<string> {
  const store = await SessionStore.open({
    dataDir: server.dataDir,
    ttlMs: server.settings.sessions.ttlMs,
    maxSessions: server.settings.sessions.maxSessions,
  });
  return store.filesDir(sessionId);
}
