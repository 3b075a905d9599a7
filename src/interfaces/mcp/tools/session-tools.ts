/**
 * Session management tools. A session is a workspace: variables per language plus the files in
 * /mnt/data. Every caller has a default session that calls without session_id use; these tools
 * make extra ones, list them, show what ran in them, and reset or delete them.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { z } from 'zod';
import { EXECUTION_STATUSES, LANGUAGES, type HistoryEntry, type SessionInfo } from '../../../domain/types.js';
import { sessionIdFrom } from '../../session-word.js';
import { guardTool, OPTIONAL_SESSION_ID } from '../tool-errors.js';
import { toolLogger, type ToolDeps } from './tool-deps.js';

const SessionOutputSchema = z.object({
  session_id: z.string(),
  created_at: z.string(),
  last_used_at: z.string(),
  expires_at: z.string().describe('When the session and its files are deleted unless used again before.'),
  is_default: z.boolean().describe('Calls without session_id use this session.'),
  executions: z.number().int().min(0),
});

const HistoryEntryOutputSchema = z.object({
  at: z.string(),
  language: z.enum(LANGUAGES),
  code: z.string(),
  status: z.enum(EXECUTION_STATUSES),
  duration_ms: z.number().min(0),
  stdout_preview: z.string(),
  error_name: z.string().nullable(),
});

function toSessionOutput(info: SessionInfo): z.infer<typeof SessionOutputSchema> {
  return {
    session_id: info.id,
    created_at: info.createdAt,
    last_used_at: info.lastUsedAt,
    expires_at: info.expiresAt,
    is_default: info.isDefault,
    executions: info.executions,
  };
}

function toHistoryOutput(entry: HistoryEntry): z.infer<typeof HistoryEntryOutputSchema> {
  return {
    at: entry.at,
    language: entry.language,
    code: entry.code,
    status: entry.status,
    duration_ms: entry.durationMs,
    stdout_preview: entry.stdoutPreview,
    error_name: entry.errorName,
  };
}

function describeSession(info: SessionInfo): string {
  const role = info.isDefault ? ' (default)' : '';
  return `${info.id}${role} · ${info.executions} run${info.executions === 1 ? '' : 's'} · last used ${info.lastUsedAt} · expires ${info.expiresAt}`;
}

function clip(text: string, chars: number): string {
  return text.length > chars ? `${text.slice(0, chars)}… [${text.length - chars} more characters]` : text;
}

function describeHistoryEntry(entry: HistoryEntry, index: number): string {
  const failed = entry.errorName !== null ? ` (${entry.errorName})` : '';
  const lines = [`#${index + 1} ${entry.at} · ${entry.language} · ${entry.status}${failed} · ${(entry.durationMs / 1000).toFixed(2)} s`];
  lines.push(clip(entry.code, 400));
  if (entry.stdoutPreview.length > 0) lines.push(`→ ${clip(entry.stdoutPreview, 200)}`);
  return lines.join('\n');
}

const requiredSessionId = (what: string) => z.string().min(1).max(200).describe(what);

export function registerSessionTools(server: McpServer, deps: ToolDeps): void {
  const { engine, principal } = deps;
  const ttlMinutes = Math.round(deps.settings.sessions.ttlMs / 60_000);

  server.registerTool(
    'create_execution_session',
    {
      title: 'Create a session',
      description:
        'Create a new, empty session (no variables, no files) and return its session_id. You only need this for ' +
        'a separate workspace: calls without session_id already keep their state in your default session. ' +
        `Sessions are deleted after ${ttlMinutes} minutes without use.`,
      outputSchema: SessionOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
    },
    (extra) =>
      guardTool(toolLogger(deps, 'create_execution_session', extra), async () => {
        const info = await engine.createSession(principal);
        return {
          content: [
            {
              type: 'text',
              text:
                `Created session ${info.id}. Pass session_id="${info.id}" to the execute_* tools to work in it. ` +
                `It expires at ${info.expiresAt} unless used.`,
            },
          ],
          structuredContent: toSessionOutput(info),
        };
      }),
  );

  server.registerTool(
    'list_execution_sessions',
    {
      title: 'List sessions',
      description: 'List your sessions (the default one included) with their ids, run counts and expiry times.',
      outputSchema: z.object({ sessions: z.array(SessionOutputSchema), count: z.number().int().min(0) }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (extra) =>
      guardTool(toolLogger(deps, 'list_execution_sessions', extra), async () => {
        const sessions = await engine.listSessions(principal);
        const text =
          sessions.length === 0
            ? 'No sessions yet. Running code without session_id creates your default session.'
            : `${sessions.length} session${sessions.length === 1 ? '' : 's'}:\n${sessions.map((s) => `- ${describeSession(s)}`).join('\n')}`;
        return {
          content: [{ type: 'text', text }],
          structuredContent: { sessions: sessions.map(toSessionOutput), count: sessions.length },
        };
      }),
  );

  server.registerTool(
    'get_execution_history',
    {
      title: 'Show a session’s history',
      description: 'Show what ran in a session, oldest first: language, code, status, duration and the start of its output.',
      inputSchema: { session_id: requiredSessionId('The session whose history to show; "default" for your default session.') },
      outputSchema: z.object({ session: SessionOutputSchema, history: z.array(HistoryEntryOutputSchema) }),
      annotations: { readOnlyHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guardTool(toolLogger(deps, 'get_execution_history', extra), async () => {
        const sessionId = sessionIdFrom(args.session_id) ?? (await engine.resolveSessionId(principal, undefined));
        const { session, history } = await engine.getHistory(principal, sessionId);
        const body = history.length === 0 ? 'Nothing has run in it yet.' : history.map(describeHistoryEntry).join('\n\n');
        return {
          content: [{ type: 'text', text: `Session ${describeSession(session)}\n\n${body}` }],
          structuredContent: { session: toSessionOutput(session), history: history.map(toHistoryOutput) },
        };
      }),
  );

  server.registerTool(
    'reset_execution_session',
    {
      title: 'Reset a session',
      description:
        'Forget all variables, functions and imports of a session in every language, keeping its files in /mnt/data. ' +
        'Leave session_id out to reset your default session.',
      inputSchema: {
        session_id: z.string().max(200).optional().describe('The session to reset; leave it out for your default session.'),
      },
      outputSchema: SessionOutputSchema,
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    },
    (args, extra) =>
      guardTool(toolLogger(deps, 'reset_execution_session', extra), async () => {
        const info = await engine.resetSession(principal, sessionIdFrom(args.session_id));
        return {
          content: [
            {
              type: 'text',
              text: `Session ${info.id} reset: its variables are gone in every language; its files in /mnt/data are kept.`,
            },
          ],
          structuredContent: toSessionOutput(info),
        };
      }, OPTIONAL_SESSION_ID),
  );

  server.registerTool(
    'close_execution_session',
    {
      title: 'Close a session',
      description:
        'Delete a session with its files and variables. Closing your default session is allowed: the next call ' +
        'without session_id starts a new, empty default session.',
      inputSchema: { session_id: requiredSessionId('The session to delete; "default" for your default session.') },
      outputSchema: z.object({ session_id: z.string(), closed: z.literal(true) }),
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: false },
    },
    (args, extra) =>
      guardTool(toolLogger(deps, 'close_execution_session', extra), async () => {
        const sessionId = sessionIdFrom(args.session_id) ?? (await engine.resolveSessionId(principal, undefined));
        await engine.closeSession(principal, sessionId);
        return {
          content: [{ type: 'text', text: `Session ${sessionId} closed: its files and variables are deleted.` }],
          structuredContent: { session_id: sessionId, closed: true },
        };
      }),
  );
}
