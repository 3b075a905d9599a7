/**
 * Starting and stopping Codecell as a process: HTTP (MCP over Streamable HTTP and SSE, files,
 * health, metrics) or stdio (MCP for clients that spawn their servers). Both build the engine
 * here and shut it down here, so containers never outlive the server.
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Settings } from './config/settings.js';
import { createEngine } from './engine/create-engine.js';
import type { Engine } from './engine/engine.js';
import { createApp } from './interfaces/http/create-app.js';
import { signedDownloadLinks } from './interfaces/http/file-routes.js';
import { createLimitedServer } from './interfaces/http/connection-limits.js';
import { enforceListenPolicy } from './interfaces/http/listen-policy.js';
import { createMcpServer } from './interfaces/mcp/create-mcp-server.js';
import { McpSessionRegistry } from './interfaces/mcp/transports/mcp-session-registry.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics/metrics.js';
import { LOCAL_PRINCIPAL } from './sessions/principal.js';

export interface ServerOptions {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics?: Metrics;
  /** Keep-alive comment interval on SSE streams. Default 15 s. */
  readonly keepAliveMs?: number;
  /** MCP transport sessions with nothing open for this long are closed. Default 30 min. */
  readonly mcpSessionIdleMs?: number;
}

export interface RunningServer {
  /** Base URL, e.g. http://127.0.0.1:7860 (the real port when PORT was 0). */
  readonly url: string;
  readonly engine: Engine;
  readonly metrics: Metrics;
  /** Stops accepting, closes MCP sessions, shuts the engine down (no container is left). Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_KEEP_ALIVE_MS = 15_000;
const DEFAULT_MCP_SESSION_IDLE_MS = 30 * 60_000;

function baseUrl(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

export async function startHttpServer(options: ServerOptions): Promise<RunningServer> {
  const { settings, logger } = options;
  enforceListenPolicy(settings, logger);
  const metrics = options.metrics ?? new Metrics();
  const { engine, files } = await createEngine({ settings, logger, metrics, downloadLinkFor: signedDownloadLinks(settings.publicUrl) });

  const idleMs = options.mcpSessionIdleMs ?? DEFAULT_MCP_SESSION_IDLE_MS;
  const registry = new McpSessionRegistry({
    idleMs,
    maxSessions: settings.budgets.mcpSessions,
    maxSessionsPerPrincipal: settings.budgets.mcpSessionsPerPrincipal,
    maxSessionsPerKey: settings.budgets.mcpSessionsPerKey,
    logger,
  });
  registry.startSweeping(Math.max(1_000, Math.min(60_000, Math.floor(idleMs / 2))));
  const app = createApp({
    settings,
    logger,
    metrics,
    engine,
    files,
    registry,
    keepAliveMs: options.keepAliveMs ?? DEFAULT_KEEP_ALIVE_MS,
  });

  const httpServer = createLimitedServer(app, settings.connections, logger);
  try {
    httpServer.listen(settings.port, settings.host);
    await once(httpServer, 'listening');
  } catch (error) {
    registry.stopSweeping();
    await engine.shutdown();
    throw error;
  }
  const address = httpServer.address();
  if (address === null || typeof address === 'string') throw new Error('the HTTP server has no TCP address');
  const url = baseUrl(address);
  logger.info({ url, mcp: `${url}/mcp`, sse: `${url}/sse`, keys: settings.apiKeys.length, jwt: settings.jwt?.algorithm ?? 'off' }, 'codecell listening');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      logger.info('shutting down');
      const closed = new Promise<void>((resolve) => httpServer.close(() => resolve()));
      await registry.closeAll();
      httpServer.closeIdleConnections();
      await engine.shutdown();
      httpServer.closeAllConnections();
      await closed;
      logger.info('shut down');
    })();
    return closing;
  };
  return { url, engine, metrics, close };
}

export interface RunningStdioServer {
  /** Resolves when the client closes stdin (or close() was called). */
  readonly closed: Promise<void>;
  close(): Promise<void>;
}

/**
 * MCP over stdin/stdout for one local client. stdout carries only protocol messages; logs go to
 * stderr. The principal is the local one, the same as `codecell exec`'s, so an admin can inspect
 * the sessions a spawned server made.
 */
export async function startStdioServer(options: ServerOptions): Promise<RunningStdioServer> {
  const { settings, logger } = options;
  const metrics = options.metrics ?? new Metrics();
  const { engine, files } = await createEngine({ settings, logger, metrics, downloadLinkFor: signedDownloadLinks(settings.publicUrl) });
  const server = createMcpServer({ engine, files, principal: LOCAL_PRINCIPAL, settings, logger });
  const transport = new StdioServerTransport();

  let resolveClosed: () => void = () => undefined;
  const closed = new Promise<void>((resolve) => {
    resolveClosed = resolve;
  });
  transport.onclose = () => resolveClosed();
  // The SDK's stdio transport does not notice the end of stdin by itself: a client that exits
  // closes our stdin, and that is the end of the session.
  process.stdin.once('end', () => resolveClosed());
  await server.connect(transport);
  logger.info('codecell serving MCP over stdio');

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      resolveClosed();
      await server.close();
      await engine.shutdown();
    })();
    return closing;
  };
  return { closed, close };
}
