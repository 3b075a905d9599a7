/**
 * The one place where failures become MCP tool results. Codecell's own errors carry messages
 * written for the model (what happened and what to do), so they are passed on with their code.
 * Anything else is a bug or an outage: the model gets a generic message and an id, the log gets
 * the details (the SDK's catch-all would otherwise hand internal messages to the model).
 */
import { randomUUID } from 'node:crypto';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { isCodecellError } from '../../errors.js';
import type { Logger } from '../../logger.js';

export function toolErrorResult(error: unknown, logger: Logger): CallToolResult {
  if (isCodecellError(error)) {
    const retry = error.retryAfterSeconds !== undefined ? ` Retry in about ${error.retryAfterSeconds} s.` : '';
    logger.info({ code: error.code }, `tool refused: ${error.message}`);
    return { isError: true, content: [{ type: 'text', text: `${error.code}: ${error.message}${retry}` }] };
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

/** Runs a tool body and maps whatever it throws. */
export async function guardTool(logger: Logger, body: () => Promise<CallToolResult>): Promise<CallToolResult> {
  try {
    return await body();
  } catch (error) {
    return toolErrorResult(error, logger);
  }
}
