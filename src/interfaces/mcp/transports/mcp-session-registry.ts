/**
 * The live MCP transport sessions of one HTTP server (Streamable HTTP and legacy SSE alike).
 *
 * Each session is bound to the principal that opened it: a lookup by another principal finds
 * nothing, exactly like an unknown id, so a leaked Mcp-Session-Id is useless without the key and
 * user that made it. Sessions with no open request or stream for `idleMs` are closed; a client
 * that comes back gets 404 and initializes again, which MCP clients do on their own.
 *
 * Fairness: the server holds at most `maxSessions`, each API key at most `maxSessionsPerKey` (all
 * its principals together: X-User-Id costs nothing to change), and each principal at most
 * `maxSessionsPerPrincipal`. A principal at its own cap gives up its own least recently used idle
 * session; a key at its cap gives up one of its own (from its principal holding the most); a full
 * server takes one from the key holding the most, and within it from the principal holding the
 * most. So initialize calls never close another key's session while that key holds fewer, nor
 * another principal's while it holds fewer, and a place is taken before any await, so concurrent
 * opens cannot overshoot.
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
  readonly keyId: string;
  readonly server: McpServer;
  /** Requests and streams being served right now; a session is never idle while one is open. */
  openRequests: number;
  lastActivityAt: number;
}

export interface McpSessionRegistryOptions {
  readonly idleMs: number;
  /** Upper bound on live sessions: each holds an McpServer, and initialize costs a client nothing. */
  readonly maxSessions?: number;
  /** Upper bound on one principal's live sessions (default: maxSessions). */
  readonly maxSessionsPerPrincipal?: number;
  /** Upper bound on the live sessions of all principals of one API key (default: maxSessions). */
  readonly maxSessionsPerKey?: number;
  readonly logger: Logger;
  readonly now?: () => number;
}

const DEFAULT_MAX_SESSIONS = 1000;

/** A place held for a session being opened: add() fills it, release() gives it back if unfilled. */
export interface SessionSlot {
  add(id: string, binding: TransportBinding, server: McpServer): McpTransportSession;
  release(): void;
}

/** Why no place was found: the caller's own sessions are all busy, or every session on the server is. */
export type SessionRefusal = 'principal-full' | 'key-full' | 'server-full';

export type Reservation = { readonly slot: SessionSlot } | { readonly refused: SessionRefusal; readonly limit: number };

export class McpSessionRegistry {
  private readonly sessions = new Map<string, McpTransportSession>();
  /** Live sessions plus held places, per principal id. */
  private readonly held = new Map<string, number>();
  /** The same per API key. */
  private readonly heldPerKey = new Map<string, number>();
  private reservedTotal = 0;
  private readonly now: () => number;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: McpSessionRegistryOptions) {
    this.now = options.now ?? Date.now;
  }

  get size(): number {
    return this.sessions.size;
  }

  private get maxSessions(): number {
    return this.options.maxSessions ?? DEFAULT_MAX_SESSIONS;
  }

  private get maxPerPrincipal(): number {
    return Math.min(this.options.maxSessionsPerPrincipal ?? this.maxSessions, this.maxSessions);
  }

  private get maxPerKey(): number {
    return Math.min(this.options.maxSessionsPerKey ?? this.maxSessions, this.maxSessions);
  }

  /** Sessions and held places of one principal. */
  heldBy(principal: Principal): number {
    return this.held.get(principal.id) ?? 0;
  }

  private countHeld(principalId: string, keyId: string, delta: number): void {
    addCount(this.held, principalId, delta);
    addCount(this.heldPerKey, keyId, delta);
  }

  /**
   * Holds a place for one more session of `principal`, closing an idle session first when a cap is
   * reached (see the fairness note above). Refuses when the sessions that would have to give way are
   * all busy.
   */
  async reserve(principal: Principal): Promise<Reservation> {
    let victim: McpTransportSession | undefined;
    if (this.heldBy(principal) >= this.maxPerPrincipal) {
      victim = this.leastRecentlyUsedIdle((session) => session.principalId === principal.id);
      if (victim === undefined) return { refused: 'principal-full', limit: this.maxPerPrincipal };
    } else if ((this.heldPerKey.get(principal.keyId) ?? 0) >= this.maxPerKey) {
      victim = this.fairVictim((session) => session.keyId === principal.keyId);
      if (victim === undefined) return { refused: 'key-full', limit: this.maxPerKey };
    } else if (this.sessions.size + this.reservedTotal >= this.maxSessions) {
      victim = this.fairVictim(() => true);
      if (victim === undefined) return { refused: 'server-full', limit: this.maxSessions };
    }
    // Everything from the checks to here is synchronous: the victim's place becomes ours at once.
    if (victim !== undefined) this.detach(victim);
    this.reservedTotal += 1;
    this.countHeld(principal.id, principal.keyId, 1);
    let open = true;
    const giveBack = (): void => {
      if (!open) return;
      open = false;
      this.reservedTotal -= 1;
      this.countHeld(principal.id, principal.keyId, -1);
    };
    const slot: SessionSlot = {
      add: (id, binding, server) => {
        if (!open) throw new Error('this session slot was already used or released');
        giveBack();
        return this.add(id, binding, principal, server);
      },
      release: giveBack,
    };
    if (victim !== undefined) {
      this.options.logger.info({ mcpSession: victim.id }, 'closing least recently used mcp session to make room');
      await this.closeDetached(victim);
    }
    return { slot };
  }

  /**
   * Among the idle sessions that match: one of the key holding the most sessions, of its principal
   * holding the most, its least recently used.
   */
  private fairVictim(matches: (session: McpTransportSession) => boolean): McpTransportSession | undefined {
    let victim: McpTransportSession | undefined;
    for (const session of this.sessions.values()) {
      if (session.openRequests > 0 || !matches(session)) continue;
      if (victim === undefined || this.givesWayBefore(session, victim)) victim = session;
    }
    return victim;
  }

  private givesWayBefore(a: McpTransportSession, b: McpTransportSession): boolean {
    const byKey = (this.heldPerKey.get(a.keyId) ?? 0) - (this.heldPerKey.get(b.keyId) ?? 0);
    if (byKey !== 0) return byKey > 0;
    const byPrincipal = (this.held.get(a.principalId) ?? 0) - (this.held.get(b.principalId) ?? 0);
    if (byPrincipal !== 0) return byPrincipal > 0;
    return a.lastActivityAt < b.lastActivityAt;
  }

  private leastRecentlyUsedIdle(matches: (session: McpTransportSession) => boolean): McpTransportSession | undefined {
    let oldest: McpTransportSession | undefined;
    for (const session of this.sessions.values()) {
      if (session.openRequests === 0 && matches(session) && (oldest === undefined || session.lastActivityAt < oldest.lastActivityAt)) oldest = session;
    }
    return oldest;
  }

  /** Registers a session outside any reservation (tests and in-process callers); caps are not checked. */
  add(id: string, binding: TransportBinding, principal: Principal, server: McpServer): McpTransportSession {
    const session: McpTransportSession = {
      id,
      binding,
      principalId: principal.id,
      keyId: principal.keyId,
      server,
      openRequests: 0,
      lastActivityAt: this.now(),
    };
    this.sessions.set(id, session);
    this.countHeld(principal.id, principal.keyId, 1);
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
    const session = this.sessions.get(id);
    if (session === undefined) return;
    this.detach(session);
    this.options.logger.debug({ mcpSession: id }, 'mcp session closed');
  }

  /** Forgets the session and gives its principal's place back; the caller closes it. */
  private detach(session: McpTransportSession): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    this.countHeld(session.principalId, session.keyId, -1);
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
    this.detach(session);
    await this.closeDetached(session);
  }

  private async closeDetached(session: McpTransportSession): Promise<void> {
    try {
      // Closes the transport too: ends SSE streams and makes later requests on the id get 404.
      await session.server.close();
    } catch (error) {
      this.options.logger.warn({ err: error, mcpSession: session.id }, 'closing mcp session failed');
    }
  }
}

function addCount(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}
