/**
 * The live MCP transport sessions of one HTTP server (Streamable HTTP and legacy SSE alike).
 *
 * Each session is bound to the principal that opened it: a lookup by another principal finds
 * nothing, exactly like an unknown id, so a leaked Mcp-Session-Id is useless without the key and
 * user that made it. Sessions with no open request or stream for `idleMs` are closed; a client
 * that comes back gets 404 and initializes again, which MCP clients do on their own.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { SSEServerTransport } from '@modelcontextprotocol/sdk/server/sse.js';
import type { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { Response } from 'express';
import type { Logger } from '../../../logger.js';
import type { Principal } from '../../../sessions/principal.js';

/** The transport a session speaks; routes refuse ids of the other kind like unknown ids. */
export type TransportBinding =
  | { readonly kind: 'streamable-http'; readonly transport: StreamableHTTPServerTransport }
  | { readonly kind: 'sse'; readonly transport: SSEServerTransport };

export interface McpTransportSession {
  readonly id: string;
  readonly binding: TransportBinding;
  readonly principalId: string;
  readonly server: McpServer;
  /** Requests and streams being served right now; a session is never idle while one is open. */
  openRequests: number;
  lastActivityAt: number;
}

export interface McpSessionRegistryOptions {
  readonly idleMs: number;
  /** Upper bound on live sessions: each holds an McpServer, and initialize costs a client nothing. */
  readonly maxSessions?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

const DEFAULT_MAX_SESSIONS = 1000;

export class McpSessionRegistry {
  private readonly sessions = new Map<string, McpTransportSession>();
  private readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: McpSessionRegistryOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  add(id: string, binding: TransportBinding, principal: Principal, server: McpServer): McpTransportSession {
    const session: McpTransportSession = {
      id,
      binding,
      principalId: principal.id,
      server,
      openRequests: 0,
      lastActivityAt: this.now(),
    };
    this.sessions.set(id, session);
    this.options.logger.debug({ mcpSession: id, kind: binding.kind, userId: principal.userId }, 'mcp session opened');
    return session;
  }

  /** The session, if it exists and belongs to `principal`; otherwise undefined, whichever the reason. */
  lookup(id: string, principal: Principal): McpTransportSession | undefined {
    const session = this.sessions.get(id);
    return session !== undefined && session.principalId === principal.id ? session : undefined;
  }

  /** Forgets the session (its transport closed). Safe to call twice. */
  remove(id: string): void {
    if (this.sessions.delete(id)) this.options.logger.debug({ mcpSession: id }, 'mcp session closed');
  }

  /** Marks `res` as open on the session until the response ends, however it ends. */
  trackResponse(session: McpTransportSession, res: Response): void {
    session.openRequests += 1;
    session.lastActivityAt = this.now();
    res.once('close', () => {
      session.openRequests -= 1;
      session.lastActivityAt = this.now();
    });
  }

  /**
   * Whether one more session fits. When full, the least recently active session without an open
   * request makes room; when every session is busy there is no room.
   */
  async makeRoom(): Promise<boolean> {
    const limit = this.options.maxSessions ?? DEFAULT_MAX_SESSIONS;
    if (this.sessions.size < limit) return true;
    let oldest: McpTransportSession | undefined;
    for (const session of this.sessions.values()) {
      if (session.openRequests === 0 && (oldest === undefined || session.lastActivityAt < oldest.lastActivityAt)) oldest = session;
    }
    if (oldest === undefined) return false;
    this.options.logger.info({ mcpSession: oldest.id }, 'closing least recently used mcp session to make room');
    await this.close(oldest);
    return true;
  }

  /** Closes the sessions idle for longer than idleMs. Returns how many it closed. */
  async evictIdle(): Promise<number> {
    const cutoff = this.now() - this.options.idleMs;
    const idle = [...this.sessions.values()].filter((s) => s.openRequests === 0 && s.lastActivityAt < cutoff);
    for (const session of idle) {
      this.options.logger.info({ mcpSession: session.id, kind: session.binding.kind }, 'closing idle mcp session');
      await this.close(session);
    }
    return idle.length;
  }

  startSweeping(intervalMs: number): void {
    this.stopSweeping();
    this.sweepTimer = setInterval(() => {
      this.evictIdle().catch((error: unknown) => this.options.logger.error({ err: error }, 'idle sweep failed'));
    }, intervalMs);
    this.sweepTimer.unref();
  }

  stopSweeping(): void {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
  }

  async closeAll(): Promise<void> {
    this.stopSweeping();
    await Promise.all([...this.sessions.values()].map((session) => this.close(session)));
  }

  private async close(session: McpTransportSession): Promise<void> {
    this.sessions.delete(session.id);
    try {
      // Closes the transport too: ends SSE streams and makes later requests on the id get 404.
      await session.server.close();
    } catch (error) {
      this.options.logger.warn({ err: error, mcpSession: session.id }, 'closing mcp session failed');
    }
  }
}
