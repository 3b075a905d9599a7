/**
 * Legacy MCP over SSE (protocol 2024-11-05): GET on the stream path opens an event stream whose
 * first event names the POST endpoint (`<messages path>?sessionId=…`); the client POSTs its
 * JSON-RPC messages there and reads the answers from the stream. The stream is the session: when
 * it closes, the session is gone. Quiet streams get comment lines so proxies keep them open.
 */
import { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import { Router, type Request, type Response } from 'express';
import { z } from 'zod';
import { guardedBy, type RouteBody } from '../../http/guarded.js';
import { inRequestScope, requestLogger } from '../../http/request-context.js';
import { sendJsonRpcError, sendSessionNotFound, sendTooManySessions, type McpRouteDeps } from './route-deps.js';

export interface SseEndpoint {
  /** GET here opens the stream, e.g. '/sse'. */
  readonly streamPath: string;
  /** POST here (with ?sessionId=) delivers messages, e.g. '/messages'. */
  readonly messagesPath: string;
}

/** The SDK client sends `sessionId`; Python-SDK-era clients and hand-written URLs use `session_id`. */
const MessagesQuerySchema = z.object({
  sessionId: z.string().min(1).max(200).optional(),
  session_id: z.string().min(1).max(200).optional(),
});

function startKeepAlive(res: Response, intervalMs: number): void {
  if (!(intervalMs >= 1)) return;
  const timer = setInterval(() => {
    if (!res.writableEnded) res.write(': keep-alive\n\n');
  }, intervalMs);
  timer.unref();
  res.once('close', () => clearInterval(timer));
}

async function openStream(req: Request, res: Response, endpointUrl: string, deps: McpRouteDeps): Promise<void> {
  const principal = deps.principalOf(req);
  const reservation = await deps.registry.reserve(principal);
  if (!('slot' in reservation)) {
    sendTooManySessions(res, reservation);
    return;
  }
  const transport = new SSEServerTransport(endpointUrl, res);
  const server = deps.serverFor(principal, deps.logger);
  transport.onclose = () => deps.registry.remove(transport.sessionId);
  const session = reservation.slot.add(transport.sessionId, { kind: 'sse', transport }, server);
  deps.registry.trackResponse(session, res);
  // nginx buffers responses unless told not to, which would hold every event back.
  res.setHeader('X-Accel-Buffering', 'no');
  try {
    await server.connect(transport);
  } catch (error) {
    deps.registry.remove(transport.sessionId);
    throw error;
  }
  startKeepAlive(res, deps.keepAliveMs);
}

async function postMessage(req: Request, res: Response, deps: McpRouteDeps): Promise<void> {
  const query = MessagesQuerySchema.safeParse(req.query);
  const sessionId = query.success ? (query.data.sessionId ?? query.data.session_id) : undefined;
  if (sessionId === undefined) {
    sendJsonRpcError(res, 400, -32000, 'Bad Request: missing sessionId query parameter; open the SSE stream first');
    return;
  }
  const session = deps.registry.lookup(sessionId, deps.principalOf(req));
  if (session === undefined || session.binding.kind !== 'sse') {
    sendSessionNotFound(res);
    return;
  }
  deps.registry.trackResponse(session, res);
  await session.binding.transport.handlePostMessage(req, res, req.body);
}

/**
 * One router for several stream/messages pairs (the plain '/sse' and the recipe's Gradio paths).
 * `endpointPrefix` is the path of CODECELL_PUBLIC_URL, so a client behind a reverse proxy that
 * mounts Codecell under a sub-path is sent to a POST URL that reaches it.
 */
export function createSseRouter(endpoints: readonly SseEndpoint[], endpointPrefix: string, deps: McpRouteDeps): Router {
  const router = Router();
  const guarded = (what: string, run: RouteBody) =>
    guardedBy((req, res, error) => {
      requestLogger(req, deps.logger).error({ err: error }, `sse ${what} failed`);
      sendJsonRpcError(res, 500, -32603, 'Internal server error');
    })((req, res) => inRequestScope(req, () => run(req, res)));
  for (const { streamPath, messagesPath } of endpoints) {
    const endpointUrl = `${endpointPrefix}${messagesPath}`;
    router.get(streamPath, guarded('stream', (req, res) => openStream(req, res, endpointUrl, deps)));
    router.post(messagesPath, guarded('message', (req, res) => postMessage(req, res, deps)));
  }
  return router;
}
