/**
 * MCP Streamable HTTP (POST/GET/DELETE on one path), stateful: an initialize request without a
 * session id opens a session whose id the client sends back in Mcp-Session-Id. An unknown, closed
 * or foreign id gets 404, which tells SDK clients (LibreChat among them) to initialize again, e.g.
 * after a server restart. Paths are matched exactly: no redirect to a trailing slash, which some
 * clients do not follow for POST.
 */
import { randomUUID } from 'node:crypto';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CancelledNotificationSchema, isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import { Router, type Request, type Response } from 'express';
import { inRequestScope, requestLogger } from '../../http/request-context.js';
import type { Principal } from '../../../sessions/principal.js';
import type { SessionSlot } from './mcp-session-registry.js';
import { sendJsonRpcError, sendSessionNotFound, sendTooManySessions, type McpRouteDeps } from './route-deps.js';

const SESSION_HEADER = 'mcp-session-id';

async function openSession(req: Request, res: Response, deps: McpRouteDeps): Promise<void> {
  const principal = deps.principalOf(req);
  const reservation = await deps.registry.reserve(principal);
  if (!('slot' in reservation)) {
    sendTooManySessions(res, reservation);
    return;
  }
  const { slot } = reservation;
  try {
    await openReservedSession(req, res, deps, principal, slot);
  } finally {
    // A no-op once the session was added; gives the place back when initialize failed.
    slot.release();
  }
}

async function openReservedSession(req: Request, res: Response, deps: McpRouteDeps, principal: Principal, slot: SessionSlot): Promise<void> {
  const server = deps.serverFor(principal, deps.logger);
  const transport: StreamableHTTPServerTransport = new StreamableHTTPServerTransport({
    sessionIdGenerator: () => randomUUID(),
    keepAliveMs: deps.keepAliveMs,
    // Registered as soon as the id exists, before the initialize response goes out, so the
    // client's very next request finds it.
    onsessioninitialized: (sessionId) => {
      const session = slot.add(sessionId, { kind: 'streamable-http', transport }, server);
      deps.registry.trackResponse(session, res);
    },
  });
  // Set before connect(): the server chains its own close handling onto this one.
  transport.onclose = () => {
    if (transport.sessionId !== undefined) deps.registry.remove(transport.sessionId);
  };
  await server.connect(transport);
  endStreamsOfCancelledRequests(transport);
  await transport.handleRequest(req, res, req.body);
}

/**
 * A cancelled request gets no answer (MCP says so, and the SDK sends none), so the SDK would keep
 * the POST that carried it open until the client goes: a connection, and a place in its
 * principal's request budget, for every cancelled call. End that POST's stream when the cancel
 * arrives; the call's run is being killed by then.
 */
function endStreamsOfCancelledRequests(transport: StreamableHTTPServerTransport): void {
  const deliver = transport.onmessage;
  transport.onmessage = (message, extra) => {
    deliver?.(message, extra);
    const cancelled = CancelledNotificationSchema.safeParse(message);
    const requestId = cancelled.success ? cancelled.data.params.requestId : undefined;
    if (requestId !== undefined) transport.closeSSEStream(requestId);
  };
}

async function handle(req: Request, res: Response, deps: McpRouteDeps): Promise<void> {
  const sessionId = req.get(SESSION_HEADER);
  if (sessionId !== undefined) {
    const session = deps.registry.lookup(sessionId, deps.principalOf(req));
    if (session === undefined || session.binding.kind !== 'streamable-http') {
      sendSessionNotFound(res);
      return;
    }
    deps.registry.trackResponse(session, res);
    await session.binding.transport.handleRequest(req, res, req.body);
    return;
  }
  if (req.method === 'POST' && isInitializeRequest(req.body)) {
    await openSession(req, res, deps);
    return;
  }
  sendJsonRpcError(
    res,
    400,
    -32000,
    'Bad Request: no Mcp-Session-Id header; start with an initialize request to get a session',
  );
}

export function createStreamableHttpRouter(paths: readonly string[], deps: McpRouteDeps): Router {
  const router = Router();
  const handler = async (req: Request, res: Response): Promise<void> => {
    try {
      await inRequestScope(req, () => handle(req, res, deps));
    } catch (error) {
      requestLogger(req, deps.logger).error({ err: error }, 'streamable http request failed');
      sendJsonRpcError(res, 500, -32603, 'Internal server error');
    }
  };
  for (const path of paths) {
    router.post(path, handler);
    router.get(path, handler);
    router.delete(path, handler);
    router.all(path, (_req: Request, res: Response) => {
      res.set('Allow', 'GET, POST, DELETE');
      sendJsonRpcError(res, 405, -32000, 'Method not allowed: use POST, GET or DELETE');
    });
  }
  return router;
}
