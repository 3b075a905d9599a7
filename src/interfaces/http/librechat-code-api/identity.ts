/**
 * Who a LibreChat Code API request acts for, and what it may do with which sessions.
 *
 * The key is checked by apiKeyAuth (the same keys, Bearer, Basic and X-API-Key as the rest of
 * /v1, or LibreChat's JWT, whose `sub` is then the user and whose tenant stands in for the key),
 * which records the key it matched; here the principal is built from that key and a user id
 * that LibreChat sends in places apiKeyAuth does not look: the `User-Id` header (uploads), `user_id`
 * in the /exec body, and `?kind=user&id=` on downloads. X-User-Id, when present, always wins.
 *
 * Files that belong to an agent or a skill rather than a user (`kind=agent|skill` with `id`) live
 * in sessions of a shared principal, key + "agent <id>" (or "skill <id> <version>"), so every user
 * of that agent reaches them, as in LibreChat's own Code API. The space keeps that namespace apart:
 * no user id (X-User-Id, User-Id, user_id) may contain one, so no user is ever an agent. A request
 * that names an agent or skill AND a user may read that agent's sessions (and upload into new
 * ones), never change or delete existing ones: that is for the LibreChat server itself, which
 * names no user, as for entity_id uploads.
 *
 * Older LibreChat versions name the user on uploads and runs but not on downloads and listings.
 * For that, the SessionDirectory remembers, in memory, which principal owns each session this API
 * made, and whether it is an upload. A request that names no user at all (only the LibreChat
 * server itself holds the key) may act as the owner of such a session. Any request under the same
 * key may READ a shared (agent, skill, entity_id) upload session, never change it. A request that
 * names a user is held to that user's sessions, except for reading shared ones. After a restart the
 * memory is empty, and LibreChat's freshness check (404 → upload again) recovers.
 *
 * Runs never happen in an upload session or in one the caller may only read (exec.ts): such a
 * session is a read-only source whose files are copied into the caller's own run session.
 */
import { createHash } from 'node:crypto';
import type { Request } from 'express';
import { LRUCache } from 'lru-cache';
import { CodecellError } from '../../../errors.js';
import type { EngineApi } from '../../../engine/types.js';
import { principalFor, USER_ID_PATTERN, type Principal } from '../../../sessions/principal.js';
import { apiKeyOf, tokenSubjectOf } from '../auth.js';
import { decodeSessionId } from './ids.js';

export const RESOURCE_KINDS = ['user', 'agent', 'skill'] as const;

/** kind/id/version as LibreChat sends them (form fields, query, or a files[] entry). */
export interface ResourceRef {
  readonly kind?: string | undefined;
  readonly id?: string | undefined;
  readonly version?: string | number | undefined;
}

export interface Caller {
  /** The API key the request presented (null on a server without keys). */
  readonly key: string | null;
  /** A digest of the key (or "open"): what the SessionDirectory compares, never the key itself. */
  readonly keyTag: string;
  /** The user (or "agent <id>" / "skill <id> <v>") the request acts for; null when it names none. */
  readonly identity: string | null;
  /** True when `identity` is an agent or a skill: its sessions are shared by everyone under the key. */
  readonly shared: boolean;
  /** True when a request names a user and an agent or skill: it may read that agent's sessions, not change them. */
  readonly readOnly: boolean;
  readonly principal: Principal;
}

function keyTagOf(key: string | null): string {
  return key === null ? 'open' : createHash('sha256').update(`codecell-key\0${key}`, 'utf8').digest('hex').slice(0, 32);
}

export function checkedIdentity(value: string, what: string): string {
  if (!USER_ID_PATTERN.test(value)) {
    throw new CodecellError('INVALID_INPUT', `${what} must be 1 to 200 printable ASCII characters without spaces`);
  }
  return value;
}

/**
 * The shared identity of an agent's or a skill's files, or null for kind user / no kind. Its parts
 * are joined by spaces, which no user id may contain: a user can never name an agent's principal.
 */
export function sharedIdentity(resource: ResourceRef | undefined): string | null {
  const kind = resource?.kind;
  if (kind === undefined || kind === '' || kind === 'user') return null;
  if (kind !== 'agent' && kind !== 'skill') {
    throw new CodecellError('INVALID_INPUT', `kind must be one of ${RESOURCE_KINDS.join(', ')} (got ${JSON.stringify(kind).slice(0, 40)})`);
  }
  const id = resource?.id;
  if (id === undefined || id === '') throw new CodecellError('INVALID_INPUT', `kind "${kind}" needs an id`);
  const parts = [kind, checkedIdentity(id, `the ${kind} id`)];
  const version = resource?.version;
  if (kind === 'skill' && version !== undefined && String(version) !== '') parts.push(checkedIdentity(String(version), 'the skill version'));
  return parts.join(' ');
}

export interface IdentitySources {
  /** kind/id/version of the request (upload fields, download query). */
  readonly resource?: ResourceRef | undefined;
  /** `user_id` from an /exec body. */
  readonly bodyUserId?: string | undefined;
}

/**
 * The caller: a shared resource named by kind agent/skill first, then X-User-Id, the User-Id
 * header, `id` with kind=user, and `user_id` from the body. Malformed values are INVALID_INPUT.
 * A verified LibreChat token names the user itself (`sub`): the request's own user ids are ignored.
 */
export function callerOf(req: Request, sources: IdentitySources = {}): Caller {
  const key = apiKeyOf(req);
  const shared = sharedIdentity(sources.resource);
  const tokenSubject = tokenSubjectOf(req);
  if (tokenSubject !== null) return shared !== null ? makeCaller(key, shared, true, true) : makeCaller(key, tokenSubject, false);
  const candidates: Array<[string | undefined, string]> = [
    [req.get('x-user-id'), 'X-User-Id'],
    [req.get('user-id'), 'the User-Id header'],
    [sources.resource?.kind === 'user' ? sources.resource.id : undefined, 'the user id'],
    [sources.bodyUserId, 'user_id'],
  ];
  const named = candidates.find(([value]) => value !== undefined && value !== '');
  const user = named === undefined ? null : checkedIdentity(named[0] ?? '', named[1]);
  if (shared !== null) return makeCaller(key, shared, true, user !== null);
  return makeCaller(key, user, false);
}

export function makeCaller(key: string | null, identity: string | null, shared: boolean, readOnly = false): Caller {
  return { key, keyTag: keyTagOf(key), identity, shared, readOnly, principal: principalFor(key, identity) };
}

/** The same key acting for another identity (a files[] entry of an agent, say): a user acting for an agent only reads. */
export function callerAs(caller: Caller, identity: string | null, shared: boolean): Caller {
  return makeCaller(caller.key, identity, shared, caller.readOnly || (shared && caller.identity !== null));
}

interface OwnerRecord {
  readonly principal: Principal;
  readonly keyTag: string;
  /** Readable by every request under the key (agent, skill, entity_id uploads). */
  readonly shared: boolean;
  /** Made by an upload: a read-only source for runs, never a run session. */
  readonly upload: boolean;
}

/** What kind of session the directory is told about. */
export interface SessionRole {
  readonly upload: boolean;
  readonly shared: boolean;
}

/** The owner a caller may act for, and whether it may change the session or only read it. */
export interface Delegation {
  readonly principal: Principal;
  readonly writable: boolean;
}

export interface SessionDirectoryOptions {
  /** Sessions idle this long expire (CODECELL_SESSION_TTL_SECONDS); so do entries not used as long. */
  readonly ttlMs: number;
  readonly maxEntries?: number;
  /** The clock for the TTL (milliseconds); tests move it. */
  readonly now?: () => number;
}

/**
 * Bounded, in-memory, least recently used first out: session → owner, and (principal,
 * runtime_session_hint) → session. Each use refreshes an entry, as each use refreshes a session.
 */
export class SessionDirectory {
  private readonly owners: LRUCache<string, OwnerRecord>;
  private readonly hints: LRUCache<string, string>;

  constructor(options: SessionDirectoryOptions) {
    const limits = {
      max: options.maxEntries ?? 50_000,
      ttl: options.ttlMs,
      updateAgeOnGet: true,
      ttlResolution: 0, // read the clock at every check: no cached time, so a moved test clock counts at once
      ...(options.now === undefined ? {} : { perf: { now: options.now } }),
    };
    this.owners = new LRUCache(limits);
    this.hints = new LRUCache(limits);
  }

  remember(sessionId: string, owner: Caller, role: SessionRole): void {
    this.owners.set(sessionId, { principal: owner.principal, keyTag: owner.keyTag, ...role });
  }

  /** True when this API made the session for an upload (and has not forgotten it). */
  isUpload(sessionId: string): boolean {
    return this.owners.get(sessionId)?.upload === true;
  }

  /**
   * The owner a caller may act for in a session it does not own itself (see the module comment):
   * a request naming no user acts as the owner; anyone under the key may read a shared session.
   */
  delegation(sessionId: string, caller: Caller): Delegation | null {
    const record = this.owners.get(sessionId);
    if (record === undefined || record.keyTag !== caller.keyTag) return null;
    if (caller.identity === null) return { principal: record.principal, writable: true };
    return record.shared ? { principal: record.principal, writable: false } : null;
  }

  forget(sessionId: string): void {
    this.owners.delete(sessionId);
  }

  hinted(caller: Caller, hint: string): string | undefined {
    return this.hints.get(hintKey(caller, hint));
  }

  rememberHint(caller: Caller, hint: string, sessionId: string): void {
    this.hints.set(hintKey(caller, hint), sessionId);
  }
}

function hintKey(caller: Caller, hint: string): string {
  return `${caller.principal.id}\0${hint}`;
}

export interface SessionAccess {
  readonly sessionId: string;
  /** The principal that owns the session: use it for every file operation in it. */
  readonly principal: Principal;
  /** False when the caller may only read the session (someone else's shared upload). */
  readonly writable: boolean;
  /** True when the session holds an upload: runs copy from it, never run in it. */
  readonly upload: boolean;
}

/**
 * The session `sessionParam` names (21-character id or UUID), if `caller` may use it; throws
 * SESSION_NOT_FOUND otherwise, the same for missing, expired and someone else's sessions.
 * `writable` tells whether the caller may change it; read-only access is for reading only.
 */
export async function accessSession(
  engine: EngineApi,
  directory: SessionDirectory,
  caller: Caller,
  sessionParam: string,
): Promise<SessionAccess> {
  const sessionId = decodeSessionId(sessionParam);
  if (sessionId === null) throw sessionNotFound(sessionParam);
  const upload = directory.isUpload(sessionId);
  if (await tryResolve(engine, caller.principal, sessionId)) return { sessionId, principal: caller.principal, writable: !caller.readOnly, upload };
  const delegation = directory.delegation(sessionId, caller);
  if (delegation !== null && (await tryResolve(engine, delegation.principal, sessionId))) {
    return { sessionId, principal: delegation.principal, writable: delegation.writable, upload };
  }
  throw sessionNotFound(sessionParam);
}

/** As accessSession, for changing the session: a session the caller may only read is "not found". */
export async function accessSessionToChange(
  engine: EngineApi,
  directory: SessionDirectory,
  caller: Caller,
  sessionParam: string,
): Promise<SessionAccess> {
  const access = await accessSession(engine, directory, caller, sessionParam);
  if (!access.writable) throw sessionNotFound(sessionParam);
  return access;
}

async function tryResolve(engine: EngineApi, principal: Principal, sessionId: string): Promise<boolean> {
  try {
    await engine.resolveSessionId(principal, sessionId);
    return true;
  } catch (error) {
    if (error instanceof CodecellError && error.code === 'SESSION_NOT_FOUND') return false;
    throw error;
  }
}

export function sessionNotFound(sessionParam: string): CodecellError {
  const shown = sessionParam.length > 64 ? `${sessionParam.slice(0, 64)}…` : sessionParam;
  return new CodecellError('SESSION_NOT_FOUND', `session ${JSON.stringify(shown)} was not found (it may have expired); upload the files again`);
}
