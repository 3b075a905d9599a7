/**
 * LibreChat's side of the Code API, driven with its real packages:
 * - the model's tools come from `@librechat/agents` (createCodeExecutionTool, createBashExecutionTool),
 *   built the way LibreChat's handleTools builds them, and are run through the package's own ToolNode,
 *   so a result is exactly the ToolMessage the model reads;
 * - the server-side calls (upload, download, freshness probe) use axios and form-data with the request
 *   shapes of LibreChat's api/server/services/Files/Code (crud.js) and packages/api/src/files/code.
 */
import {
  AIMessage,
  ToolNode,
  createBashExecutionTool,
  createCodeExecutionTool,
} from '@librechat/agents';
import axios from 'axios';
import FormData from 'form-data';

export type AuthHeaders = () => Promise<Record<string, string>>;

/** What LibreChat's resolveCodeExecutionContext gives handleTools: the default (stateless) or the stateful profile. */
export interface CodeExecutionContext {
  baseUrl: string;
  codeSessionKey: string;
  executionProfile: 'default' | 'stateful';
  statefulSessions: boolean;
  runtimeSessionHint?: string;
}

export function defaultProfile(baseUrl: string): CodeExecutionContext {
  return { baseUrl, codeSessionKey: 'execute_code', executionProfile: 'default', statefulSessions: false };
}

/** Stateful profile as LibreChat derives it for one user: LIBRECHAT_CODE_BASEURL_STATEFUL and a `v1:user:` hint. */
export function statefulProfile(statefulBaseUrl: string, userId: string): CodeExecutionContext {
  const runtimeSessionHint = `v1:user:${userId}`;
  return {
    baseUrl: statefulBaseUrl,
    codeSessionKey: `execute_code:user:${runtimeSessionHint}`,
    executionProfile: 'stateful',
    statefulSessions: true,
    runtimeSessionHint,
  };
}

/** An injected file as the graph passes it to the tool (`_injected_files`, from primeCodeFiles' session entry). */
export interface CodeFileRef {
  id: string;
  name: string;
  storage_session_id: string;
  resource_id?: string;
  kind?: 'user' | 'agent' | 'skill';
}

export interface ToolOutcome {
  /** What the model reads. */
  content: string;
  status: 'success' | 'error';
  /** What LibreChat keeps: session_id and the listed files. */
  artifact: { session_id?: string; files?: Array<{ id: string; name: string; storage_session_id?: string; path?: string }> } | undefined;
}

/**
 * One user's code tools, as handleTools builds them:
 * `createCodeExecutionTool({user_id, files, authHeaders: () => ({...getCodeApiAuthHeaders(req), 'X-CodeAPI-Expected-Profile': profile}), ...context})`.
 */
export class LibreChatCodeTools {
  private readonly node: ToolNode;
  private readonly sessions = new Map<string, { session_id: string; files: CodeFileRef[] }>();
  private callCount = 0;

  constructor(
    private readonly userId: string,
    private readonly context: CodeExecutionContext,
    authHeaders: AuthHeaders = async () => ({}),
  ) {
    const headers = async (): Promise<Record<string, string>> => ({
      ...(await authHeaders()),
      'X-CodeAPI-Expected-Profile': context.executionProfile,
    });
    const params = { user_id: userId, files: [], authHeaders: headers, ...context };
    const tools = [createCodeExecutionTool(params), createBashExecutionTool(params)];
    this.node = new ToolNode({ tools, sessions: this.sessions, codeSessionKey: context.codeSessionKey, handleToolErrors: true });
  }

  /** Primes files for the next calls, as LibreChat's primeCodeFiles does for files attached to the conversation. */
  primeFiles(files: CodeFileRef[]): void {
    const first = files[0];
    if (first === undefined) return;
    this.sessions.set(this.context.codeSessionKey, { session_id: first.storage_session_id, files });
  }

  executeCode(args: { lang: string; code: string; args?: string[] }): Promise<ToolOutcome> {
    return this.call('execute_code', args);
  }

  bash(command: string): Promise<ToolOutcome> {
    return this.call('bash_tool', { command });
  }

  private async call(name: string, args: Record<string, unknown>): Promise<ToolOutcome> {
    this.callCount += 1;
    const message = new AIMessage({ content: '', tool_calls: [{ id: `call_${this.userId}_${this.callCount}`, name, args }] });
    const output = (await this.node.invoke({ messages: [message] })) as { messages: Array<{ content: unknown; status?: string; artifact?: unknown }> };
    const toolMessage = output.messages[0];
    if (toolMessage === undefined) throw new Error('ToolNode returned no message');
    return {
      content: String(toolMessage.content),
      status: toolMessage.status === 'error' ? 'error' : 'success',
      artifact: toolMessage.artifact as ToolOutcome['artifact'],
    };
  }
}

/** The upload LibreChat's server makes (crud.js uploadCodeEnvFile, current shape): multipart `kind`, `id`, then `file`; header `User-Id`. */
export async function uploadAsLibreChat(
  baseUrl: string,
  upload: { userId: string; filename: string; bytes: Buffer; authHeaders?: Record<string, string> },
): Promise<{ session_id: string; storage_session_id: string; files: Array<{ fileId: string; filename: string }> }> {
  const form = new FormData();
  form.append('kind', 'user');
  form.append('id', upload.userId);
  form.append('file', upload.bytes, upload.filename);
  const response = await axios.post(`${baseUrl}/upload`, form, {
    headers: {
      ...form.getHeaders(),
      'Content-Type': 'multipart/form-data',
      'User-Agent': 'LibreChat/1.0',
      'User-Id': upload.userId,
      ...upload.authHeaders,
    },
  });
  return response.data as { session_id: string; storage_session_id: string; files: Array<{ fileId: string; filename: string }> };
}

/** The download LibreChat's server makes for a file a run listed: `GET /download/{sid}/{fid}?kind=user&id=<user>`. */
export async function downloadAsLibreChat(
  baseUrl: string,
  file: { sessionId: string; fileId: string; userId: string; authHeaders?: Record<string, string> },
): Promise<{ status: number; contentType: string; disposition: string; bytes: Buffer }> {
  const response = await axios.get<ArrayBuffer>(`${baseUrl}/download/${file.sessionId}/${file.fileId}`, {
    params: { kind: 'user', id: file.userId },
    responseType: 'arraybuffer',
    headers: { 'User-Agent': 'LibreChat/1.0', ...file.authHeaders },
    validateStatus: () => true,
  });
  return {
    status: response.status,
    contentType: String(response.headers['content-type'] ?? ''),
    disposition: String(response.headers['content-disposition'] ?? ''),
    bytes: Buffer.from(response.data),
  };
}

/** LibreChat's freshness probe (priming.ts): `GET /sessions/{sid}/objects/{fid}?kind=user&id=<user>`. */
export async function probeAsLibreChat(
  baseUrl: string,
  file: { sessionId: string; fileId: string; userId: string; authHeaders?: Record<string, string> },
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await axios.get(`${baseUrl}/sessions/${file.sessionId}/objects/${file.fileId}`, {
    params: { kind: 'user', id: file.userId },
    headers: { 'User-Agent': 'LibreChat/1.0', ...file.authHeaders },
    validateStatus: () => true,
  });
  return { status: response.status, body: response.data as Record<string, unknown> };
}
