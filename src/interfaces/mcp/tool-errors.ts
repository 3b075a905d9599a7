/**
 * The one place where failures become MCP tool results. Codecell's own errors are passed on with
 * their code and message, plus what to do next in this interface's terms (the tools to call).
 * Anything else is a bug or an outage: the model gets a generic message and an id, the log gets
 * the details (the SDK's catch-all would otherwise hand internal messages to the model).
 */
import { randomUUID } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { isCodecellError, type CodecellError } from '../../errors.js';
import type { Logger } from '../../logger.js';

/** What the advice may name about the tool that failed: only what its input schema really has. */
export interface ToolShape {
  /** The tool takes session_id and may go without it (the default session). */
  readonly sessionIdOptional: boolean;
}

/** The safe assumption: advice that names no parameter the tool might lack. */
const PLAIN_TOOL: ToolShape = { sessionIdOptional: false };
/** A tool whose session_id may be left out. */
export const OPTIONAL_SESSION_ID: ToolShape = { sessionIdOptional: true };

export function toolErrorResult(error: unknown, logger: Logger, tool: ToolShape = PLAIN_TOOL): CallToolResult {
  if (isCodecellError(error)) {
    const retry = error.retryAfterSeconds !== undefined ? ` Retry in about ${error.retryAfterSeconds} s.` : '';
    const advice = toolAdvice(error, tool);
    logger.info({ code: error.code }, `tool refused: ${error.message}`);
    return {
      isError: true,
      content: [{ type: 'text', text: `${error.code}: ${error.message}${advice === undefined ? '' : `. ${advice}`}${retry}` }],
    };
  }
  const errorId = randomUUID().slice(0, 8);
  logger.error({ err: error, errorId }, 'tool failed unexpectedly');
  return {
    isError: true,
    content: [
      {
        type: 'text',
        text: `INTERNAL: the server failed to run this tool (error id ${errorId}). Trying again may help; if it keeps failing, tell the server's administrator the error id.`,
      },
    ],
  };
}

/** What a model can do about an error, naming the tools that do it; undefined when nothing specific. */
export function toolAdvice(error: CodecellError, tool: ToolShape = PLAIN_TOOL): string | undefined {
  if (error.code === 'SESSION_NOT_FOUND' && error.fields.sessionGone !== undefined) {
    return tool.sessionIdOptional
      ? 'Create a new session with create_execution_session, or leave session_id out to use your default session.'
      : 'list_execution_sessions shows the sessions you have; create_execution_session makes a new one.';
  }
  if (error.code === 'SESSION_LIMIT') {
    return 'Close a session you no longer need with close_execution_session (list_execution_sessions shows yours), or wait for idle ones to expire.';
  }
  return undefined;
}

/** Runs a tool body and maps whatever it throws, advising in terms of `tool`'s own parameters. */
export async function guardTool(
  logger: Logger,
  body: () => Promise<CallToolResult>,
  tool: ToolShape = PLAIN_TOOL,
): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    return toolErrorResult(error, logger, tool);
  }
}
