/** What the MCP HTTP routes share, and the JSON-RPC error body MCP clients expect on failures. */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { Request, Response } from 'express';
import type { Logger } from '../../../logger.js';
import type { Principal } from '../../../sessions/principal.js';
import type { McpSessionRegistry, SessionRefusal } from './mcp-session-registry.js';

export interface McpRouteDeps {
  readonly registry: McpSessionRegistry;
  /** A fresh McpServer whose tools act for `principal` (one per MCP session). */
  readonly serverFor: (principal: Principal, logger: Logger) => McpServer;
  readonly principalOf: (req: Request) => Principal;
  /** Interval of SSE keep-alive comments, so proxies do not cut quiet streams. */
  readonly keepAliveMs: number;
  readonly logger: Logger;
}

/** -32001 is what the SDK itself answers for an unknown session; clients key off the 404. */
export const SESSION_NOT_FOUND_CODE = -32001;

export function sendJsonRpcError(res: Response, httpStatus: number, code: number, message: string): void {
  if (res.headersSent) return;
  res.status(httpStatus).json({ jsonrpc: '2.0', error: { code, message }, id: null });
}

export function sendSessionNotFound(res: Response): void {
  sendJsonRpcError(
    res,
    404,
    SESSION_NOT_FOUND_CODE,
    'MCP session not found (it expired, the server restarted, or it belongs to another user): initialize a new session',
  );
}

/** No place for another MCP session: 429 when the caller's own are all busy, 503 when the server's are. */
export function sendTooManySessions(res: Response, refusal: { readonly refused: SessionRefusal; readonly limit: number }): void {
  res.set('Retry-After', '30');
  if (refusal.refused === 'principal-full') {
    sendJsonRpcError(
      res,
      429,
      -32000,
      `you have ${refusal.limit} MCP sessions open and all are busy (CODECELL_MCP_SESSIONS_PER_USER): close one or retry shortly`,
    );
    return;
  }
  if (refusal.refused === 'key-full') {
    sendJsonRpcError(
      res,
      429,
      -32000,
      `the users of your API key have ${refusal.limit} MCP sessions open and all are busy (CODECELL_MCP_SESSIONS_PER_KEY): retry shortly`,
    );
    return;
  }
  sendJsonRpcError(res, 503, -32000, 'too many open MCP sessions on this server; retry shortly');
}
