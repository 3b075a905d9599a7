/**
 * The HTTP server's socket limits. Without them a client that connects and sends nothing (or sends
 * its headers a byte at a time) holds a file descriptor for a minute or more, and enough of them
 * starve /healthz and every real caller. So: short header and request timeouts, a short keep-alive,
 * a cap on connections, and a cap on connections that have not yet sent a complete request, past
 * which the oldest of those is closed (a real client sends its request at once, so only stalled
 * ones grow old).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { RequestListener } from 'node:http';
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../logger.js';

/** How often Node checks header and request timeouts: a fraction of the header timeout, at most 30 s. */
function checkingIntervalMs(headersTimeoutMs: number): number {
  return Math.min(30_000, Math.max(250, Math.floor(headersTimeoutMs / 4)));
}

export function createLimitedServer(app: RequestListener, limits: Settings['connections'], logger: Logger): http.Server {
  const server = http.createServer(
    {
      headersTimeout: limits.headersTimeoutMs,
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(limits.headersTimeoutMs),
    },
    app,
  );
  server.maxConnections = limits.maxConnections;
  capPendingConnections(server, limits.maxPending, logger);
  return server;
}

/** Closes the oldest connection still waiting for its first complete request when more than `max` wait. */
function capPendingConnections(server: http.Server, max: number, logger: Logger): void {
  // A Set iterates in insertion order: its first entry is the oldest waiting connection.
  const pending = new Set<Socket>();
  let closedSinceLog = 0;
  server.on('connection', (socket: Socket) => {
    pending.add(socket);
    socket.once('close', () => pending.delete(socket));
    if (pending.size <= max) return;
    const oldest = pending.values().next().value;
    if (oldest === undefined) return;
    pending.delete(oldest);
    oldest.destroy();
    closedSinceLog += 1;
    if (closedSinceLog === 1 || closedSinceLog % 1000 === 0) {
      logger.warn({ closed: closedSinceLog, maxPending: max }, 'closing connections that sent no request (CODECELL_MAX_PENDING_CONNECTIONS)');
    }
  });
  server.on('request', (req: http.IncomingMessage) => {
    pending.delete(req.socket);
  });
}
