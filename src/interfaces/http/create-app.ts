/**
 * The HTTP surface, in the order a request meets it:
 *
 *   request id + log line → metrics → Host check (loopback only) → cross-site check (keyless only)
 *   → /healthz and /readyz (details with a key), signed downloads (no key), /metrics with a metrics-only key
 *   → API key + X-User-Id, or LibreChat's JWT → /metrics → per-principal and per-key stream and request budgets
 *     (before any body is read: every body parser comes after them)
 *   → /v1 files and LibreChat Code API (then 405 / 404 for the rest of /v1)
 *   → MCP (Streamable HTTP, legacy SSE, recipe aliases)
 *   → 404 / error body
 */
import express, { type ErrorRequestHandler, type Express, type Request, type Response } from 'express';
import type { Settings } from '../../config/settings.js';
import { MAX_CODE_CHARS } from '../../engine/engine.js';
import type { EngineApi } from '../../engine/types.js';
import type { FileService } from '../../files/file-service.js';
import { formatBytes } from '../../files/byte-size.js';
import type { Logger } from '../../logger.js';
import type { Metrics } from '../../metrics/metrics.js';
import { createMcpServer } from '../mcp/create-mcp-server.js';
import type { McpSessionRegistry } from '../mcp/transports/mcp-session-registry.js';
import { sendJsonRpcError, type McpRouteDeps } from '../mcp/transports/route-deps.js';
import { createSseRouter, type SseEndpoint } from '../mcp/transports/sse-routes.js';
import { createStreamableHttpRouter } from '../mcp/transports/streamable-http-routes.js';
import { apiKeyAuth, offersMetricsKey, offersValidKey, principalOf } from './auth.js';
import { createFilesRouter, createSignedDownloadRouter } from './files-router.js';
import { createLibreChatCodeApiRouter } from './librechat-code-api/router.js';
import { httpMetrics } from './http-metrics.js';
import { createJwtVerifier } from './jwt-verifier.js';
import { crossSiteGuard, hostValidation } from './listen-policy.js';
import { budgetMessage, principalBudget, type BudgetKind, type BudgetScope } from './principal-budget.js';
import { createHealthRouter, createMetricsRouter } from './ops-routes.js';
import { createPlaygroundRouter } from './playground-routes.js';
import { requestContext, requestLogger } from './request-context.js';
import { restFallback } from './rest-fallback.js';
import { bodyTooLargeMessage, requestErrorKind, type BodyLimit } from './request-errors.js';
import { bodyBytesBudget } from './body-bytes-budget.js';

/** Streamable HTTP paths: ours, and the recipe's Gradio path so old configs only change host. */
export const STREAMABLE_HTTP_PATHS = ['/mcp', '/gradio_api/mcp'] as const;

/** Legacy SSE: ours, and the recipe's (Gradio's) stream and POST paths. */
export const SSE_ENDPOINTS: readonly SseEndpoint[] = [
  { streamPath: '/sse', messagesPath: '/messages' },
  { streamPath: '/gradio_api/mcp/sse', messagesPath: '/gradio_api/mcp/messages' },
];

/**
 * Big enough that a 1,000,000-character code argument (several MiB once JSON-escaped) reaches the
 * tool, whose own limit then answers with a clear message, and that upload_file takes a file of
 * CODECELL_MAX_FILE_MB as base64 (4/3 of its bytes, plus room for the rest of the message);
 * small enough that a runaway client cannot fill memory.
 */
export function mcpBodyLimitBytes(maxFileBytes: number): number {
  return Math.max(16 * 1024 * 1024, base64Length(maxFileBytes) + 1024 * 1024);
}

/** Characters of `bytes` bytes in base64, padding included. */
export function base64Length(bytes: number): number {
  return Math.ceil(bytes / 3) * 4;
}

const ROUTE_PREFIXES = [
  ...STREAMABLE_HTTP_PATHS,
  ...SSE_ENDPOINTS.flatMap((endpoint) => [endpoint.streamPath, endpoint.messagesPath]),
  '/healthz',
  '/readyz',
  '/metrics',
  '/v1',
  '/files/signed',
];

export interface AppDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly engine: EngineApi;
  readonly files: FileService;
  readonly registry: McpSessionRegistry;
  /** Interval of keep-alive comments on SSE streams (both transports). */
  readonly keepAliveMs: number;
}

/** The path part of CODECELL_PUBLIC_URL without a trailing slash ('' when served at the root). */
export function publicPathPrefix(publicUrl: string | undefined): string {
  if (publicUrl === undefined) return '';
  return new URL(publicUrl).pathname.replace(/\/+$/, '');
}

// The same for every tool: at this point the body is unread, so which tool was called is unknown.
function mcpBodyLimit(maxFileBytes: number): BodyLimit {
  return {
    bytes: mcpBodyLimitBytes(maxFileBytes),
    hint:
      `upload_file takes files up to ${formatBytes(maxFileBytes)} (${formatBytes(base64Length(maxFileBytes))} as base64), and code is ` +
      `limited to ${MAX_CODE_CHARS.toLocaleString('en-US')} characters. A file over that limit cannot be uploaded through MCP; ` +
      'split it, or have an admin raise CODECELL_MAX_FILE_MB and use the REST upload route: POST /v1/sessions/default/files ' +
      '(multipart/form-data; a session id in place of "default" for another session)',
  };
}

const STREAM_PATHS = new Set<string>([...STREAMABLE_HTTP_PATHS, ...SSE_ENDPOINTS.map((endpoint) => endpoint.streamPath)]);

/** A GET on an MCP path opens an event stream; everything else is a request. */
function budgetKindOf(req: Request): BudgetKind {
  return req.method === 'GET' && STREAM_PATHS.has(req.path) ? 'stream' : 'request';
}

function refuseOverBudget(req: Request, res: Response, kind: BudgetKind, scope: BudgetScope, limit: number): void {
  if (req.path.startsWith('/v1/')) {
    // LibreChat's "busy" shape, which it turns into "retry after N s" (see librechat-code-api/http-errors.ts).
    res.status(429).json({ error: 'rate_limited', retry_after_seconds: 1, message: budgetMessage(kind, scope, limit) });
    return;
  }
  sendJsonRpcError(res, 429, -32000, budgetMessage(kind, scope, limit));
}

/** Last in line: JSON-RPC answers, since what reaches it is mostly MCP traffic. */
function errorHandler(logger: Logger, bodyLimit: BodyLimit): ErrorRequestHandler {
  return (error: unknown, req: Request, res: Response, next: (error?: unknown) => void) => {
    if (res.headersSent) {
      next(error);
      return;
    }
    const kind = requestErrorKind(error);
    if (kind === 'body-too-large') {
      sendJsonRpcError(res, 413, -32600, bodyTooLargeMessage(bodyLimit));
      return;
    }
    if (kind === 'body-not-json') {
      sendJsonRpcError(res, 400, -32700, 'Parse error: the request body is not valid JSON');
      return;
    }
    if (kind === 'malformed') {
      sendJsonRpcError(res, 400, -32600, 'Invalid Request: the request is malformed (a bad %-escape in the URL, or a body that cannot be read)');
      return;
    }
    requestLogger(req, logger).error({ err: error }, 'request failed');
    sendJsonRpcError(res, 500, -32603, 'Internal server error');
  };
}

export function createApp(deps: AppDeps): Express {
  const { settings, logger, metrics, engine, files, registry } = deps;
  const app = express();
  app.disable('x-powered-by');
  // X-Forwarded-Proto/-Host/-For are believed only from the proxy CODECELL_TRUST_PROXY names.
  if (settings.trustProxy !== false) {
    app.set('trust proxy', typeof settings.trustProxy === 'number' ? settings.trustProxy : [...settings.trustProxy]);
  }

  app.use(requestContext(logger));
  app.use(httpMetrics(metrics, ROUTE_PREFIXES));
  const hostCheck = hostValidation(settings);
  if (hostCheck !== null) app.use(hostCheck);
  const crossSiteCheck = crossSiteGuard(settings);
  if (crossSiteCheck !== null) app.use(crossSiteCheck);

  // Reachable without a key: health for probes (details only with a key), and downloads whose URL
  // carries its own signature.
  const jwt = settings.jwt === null ? undefined : createJwtVerifier(settings.jwt);
  app.use(createHealthRouter(engine, logger, offersValidKey(settings.apiKeys, jwt)));
  app.use(createSignedDownloadRouter({ files, logger }));
  app.use(createMetricsRouter(metrics, offersMetricsKey(settings.metricsKeys)));
  app.use(createPlaygroundRouter()); // the browser playground at / (static; it asks for a key on 401)

  app.use(apiKeyAuth(settings.apiKeys, { jwt, logger }));
  app.use(createMetricsRouter(metrics));
  app.use(
    principalBudget({
      streamsPerPrincipal: settings.budgets.streamsPerPrincipal,
      requestsPerPrincipal: settings.budgets.requestsPerPrincipal,
      streamsPerKey: settings.budgets.streamsPerKey,
      requestsPerKey: settings.budgets.requestsPerKey,
      principalOf,
      kindOf: budgetKindOf,
      refuse: refuseOverBudget,
    }),
  );
  const restRouters = [
    createFilesRouter({ files, principalOf, logger }),
    createLibreChatCodeApiRouter({ engine, files, sessionTtlMs: settings.sessions.ttlMs, logger }), // LibreChat's Code API
  ];
  app.use('/v1', ...restRouters);
  app.use('/v1', restFallback('/v1', restRouters)); // 405 / 404 in REST terms

  const routeDeps: McpRouteDeps = {
    registry,
    serverFor: (principal, sessionLogger) => createMcpServer({ engine, files, principal, settings, logger: sessionLogger }),
    principalOf,
    keepAliveMs: deps.keepAliveMs,
    logger,
  };
  const bodyLimit = mcpBodyLimit(settings.limits.maxFileBytes);
  const jsonBody = express.json({ limit: bodyLimit.bytes });
  const mcpBodyPaths = [...STREAMABLE_HTTP_PATHS, ...SSE_ENDPOINTS.map((endpoint) => endpoint.messagesPath)];
  // At most four bodies at the cap in memory at once, whoever sends them; small ones always pass.
  const bodyBytes = bodyBytesBudget({
    maxBytes: 4 * bodyLimit.bytes,
    bodyLimit: bodyLimit.bytes,
    smallBytes: 1024 * 1024,
    refuse: (res) => sendJsonRpcError(res, 503, -32000, 'The server is receiving too many large requests at once; try again in a moment.'),
  });
  app.use(mcpBodyPaths, bodyBytes, jsonBody);
  app.use(createStreamableHttpRouter(STREAMABLE_HTTP_PATHS, routeDeps));
  app.use(createSseRouter(SSE_ENDPOINTS, publicPathPrefix(settings.publicUrl), routeDeps));

  app.use((_req: Request, res: Response) => {
    res.status(404).json({
      error: 'not_found',
      message: 'no such route: MCP is served at /mcp (Streamable HTTP) and /sse (legacy SSE)',
    });
  });
  app.use(errorHandler(logger, bodyLimit));
  return app;
}
