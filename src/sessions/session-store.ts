/**
 * Sessions on disk. A session is a directory; nothing about it lives only in memory, so a restart
 * loses nothing and an idle session costs disk, not memory.
 *
 *   <dataDir>/sessions/<id>/meta.json          owner, times, counters
 *   <dataDir>/sessions/<id>/files/             the session's /mnt/data
 *   <dataDir>/sessions/<id>/state/<runtime>    interpreter snapshots (opaque bytes: never parsed here)
 *   <dataDir>/sessions/<id>/history.jsonl      one line per execution
 *   <dataDir>/principals/<principal>.json      the principal's default session id (removed with that session)
 *
 * Session ids are UUIDs made here; any other string is "not found" before it touches a path.
 * A session belongs to one principal; every other principal gets the same "not found".
 */
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { keySessionLimitReached, principalSessionLimitReached, sessionLimitReached, sessionNotFound, type CodecellError } from '../errors.js';
import type { HistoryEntry, SessionInfo } from '../domain/types.js';
import type { RuntimeName } from '../config/settings.js';
import { removeTree } from '../files/remove-tree.js';
import { KeyedMutex } from './keyed-mutex.js';
import type { Principal } from './principal.js';
import { writeFileAtomic } from './atomic-write.js';

const SESSION_ID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const HISTORY_CODE_CHARS = 4000;

const SessionMetaSchema = z.object({
  id: z.string().regex(SESSION_ID_PATTERN),
  owner: z.string().regex(/^[0-9a-f]{32}$/),
  /** The owner's API key id (Principal.keyId), for the per-key cap; absent in sessions made before it existed. */
  ownerKey: z.string().regex(/^(open|[0-9a-f]{32})$/).optional(),
  createdAt: z.number(),
  lastUsedAt: z.number(),
  isDefault: z.boolean(),
  executions: z.number().int().min(0),
  /** Heavy Python modules the session's state uses: picks a warm container that preloads them. */
  pythonModules: z.array(z.string()).default([]),
});
export type SessionMeta = z.infer<typeof SessionMetaSchema>;

const PrincipalRecordSchema = z.object({ defaultSessionId: z.string().regex(SESSION_ID_PATTERN) });

export interface ResolvedSession {
  readonly meta: SessionMeta;
  /** Set when the previous default session had expired. */
  readonly previousDefaultExpired: boolean;
}

export interface SessionStoreOptions {
  readonly dataDir: string;
  readonly ttlMs: number;
  readonly maxSessions: number;
  /** Sessions one principal may hold (default: maxSessions), so no one principal fills the server. */
  readonly maxSessionsPerPrincipal?: number;
  /** Sessions all principals of one API key may hold together (default: maxSessions): rotating X-User-Id or agent ids gains nothing. */
  readonly maxSessionsPerKey?: number;
  readonly now?: () => number;
}

export class SessionStore {
  readonly sessionsDir: string;
  private readonly principalsDir: string;
  private readonly index = new Map<string, SessionMeta>();
  /** Principal id → default session id, as its record on disk says (read once, kept in step with every write): no disk read per call. */
  private readonly defaults = new Map<string, string>();
  private readonly locks = new KeyedMutex();
  private readonly principalLocks = new KeyedMutex();
  /** Sessions being created, per owner and per owner's key: counted against the caps before their first await. */
  private readonly creating = new Map<string, number>();
  private readonly creatingByKey = new Map<string, number>();
  private creatingTotal = 0;
  private readonly now: () => number;

  private constructor(private readonly options: SessionStoreOptions) {
    this.sessionsDir = path.join(options.dataDir, 'sessions');
    this.principalsDir = path.join(options.dataDir, 'principals');
    this.now = options.now ?? Date.now;
  }

  /** Opens (and creates) the store, loading every session's metadata. Corrupt entries are skipped. */
  static async open(options: SessionStoreOptions): Promise<SessionStore> {
    const store = new SessionStore(options);
    await fs.mkdir(store.sessionsDir, { recursive: true, mode: 0o700 });
    await fs.mkdir(store.principalsDir, { recursive: true, mode: 0o700 });
    await fs.chmod(options.dataDir, 0o700);
    for (const entry of await fs.readdir(store.sessionsDir)) {
      if (!SESSION_ID_PATTERN.test(entry)) continue;
      const meta = await store.readMeta(entry);
      if (meta) store.index.set(entry, meta);
    }
    await store.forgetStaleDefaults();
    return store;
  }

  get count(): number {
    return this.index.size;
  }

  /** Sessions a caller can still use: expired ones awaiting the sweep are not counted. */
  get liveCount(): number {
    let live = 0;
    for (const meta of this.index.values()) if (!this.isExpired(meta)) live += 1;
    return live;
  }

  filesDir(sessionId: string): string {
    return path.join(this.sessionDir(sessionId), 'files');
  }

  /**
   * The session's $HOME (dotfiles, ~/.config, ~/.cache, `git config --global`): moved into the
   * container beside the files and back after every run, counted in the quota, never listed or
   * served as one of the session's files.
   */
  homeDir(sessionId: string): string {
    return path.join(this.sessionDir(sessionId), 'home');
  }

  stateFile(sessionId: string, runtime: RuntimeName): string {
    return path.join(this.sessionDir(sessionId), 'state', runtime);
  }

  stateDir(sessionId: string): string {
    return path.join(this.sessionDir(sessionId), 'state');
  }

  /**
   * Takes the session's lock and returns its release: for work whose lock outlives a call. Rejects
   * with the signal's reason if `signal` aborts while it waits.
   */
  acquireLock(sessionId: string, signal?: AbortSignal): Promise<() => void> {
    return this.locks.acquire(sessionId, signal);
  }

  /** Runs `task` while holding the session's lock: one execution (or file change) at a time. */
  withLock<T>(sessionId: string, task: () => Promise<T>): Promise<T> {
    return this.locks.run(sessionId, task);
  }

  async create(principal: Principal, isDefault = false): Promise<SessionMeta> {
    if (!this.hasRoomFor(principal)) await this.sweepExpired();
    const releaseSlot = this.takeSlot(principal);
    try {
      return await this.createInSlot(principal, isDefault);
    } finally {
      releaseSlot();
    }
  }

  /**
   * Takes one place under MAX_SESSIONS, the principal's own cap and its key's cap, or throws
   * SESSION_LIMIT. Synchronous: the check and the taking have no await between them, so concurrent
   * creates cannot overshoot any cap.
   */
  private takeSlot(principal: Principal): () => void {
    const owner = principal.id;
    if (this.index.size + this.creatingTotal >= this.options.maxSessions) throw sessionLimitReached(this.options.maxSessions);
    if (this.ownedBy(owner) >= this.maxSessionsPerPrincipal) throw principalSessionLimitReached(this.maxSessionsPerPrincipal);
    if (this.ownedByKey(principal.keyId) >= this.maxSessionsPerKey) throw keySessionLimitReached(this.maxSessionsPerKey);
    this.creatingTotal += 1;
    addCount(this.creating, owner, 1);
    addCount(this.creatingByKey, principal.keyId, 1);
    return () => {
      this.creatingTotal -= 1;
      addCount(this.creating, owner, -1);
      addCount(this.creatingByKey, principal.keyId, -1);
    };
  }

  private get maxSessionsPerKey(): number {
    return Math.min(this.options.maxSessionsPerKey ?? this.options.maxSessions, this.options.maxSessions);
  }

  /** Sessions the principals of one key hold or are creating. */
  private ownedByKey(keyId: string): number {
    let count = this.creatingByKey.get(keyId) ?? 0;
    for (const meta of this.index.values()) if (meta.ownerKey === keyId) count += 1;
    return count;
  }

  private get maxSessionsPerPrincipal(): number {
    return Math.min(this.options.maxSessionsPerPrincipal ?? this.options.maxSessions, this.options.maxSessions);
  }

  private hasRoomFor(principal: Principal): boolean {
    return (
      this.index.size + this.creatingTotal < this.options.maxSessions &&
      this.ownedBy(principal.id) < this.maxSessionsPerPrincipal &&
      this.ownedByKey(principal.keyId) < this.maxSessionsPerKey
    );
  }

  /** Sessions `owner` holds or is creating. */
  private ownedBy(owner: string): number {
    let count = this.creating.get(owner) ?? 0;
    for (const meta of this.index.values()) if (meta.owner === owner) count += 1;
    return count;
  }

  private async createInSlot(principal: Principal, isDefault: boolean): Promise<SessionMeta> {
    const at = this.now();
    const meta: SessionMeta = {
      id: randomUUID(),
      owner: principal.id,
      ownerKey: principal.keyId,
      createdAt: at,
      lastUsedAt: at,
      isDefault,
      executions: 0,
      pythonModules: [],
    };
    const dir = this.sessionDir(meta.id);
    await fs.mkdir(path.join(dir, 'files'), { recursive: true, mode: 0o700 });
    await fs.mkdir(path.join(dir, 'state'), { recursive: true, mode: 0o700 });
    await fs.mkdir(path.join(dir, 'home'), { recursive: true, mode: 0o700 });
    await this.writeMeta(meta);
    this.index.set(meta.id, meta);
    return meta;
  }

  /**
   * The session a call runs in. With an id: that session, if the principal owns it and it has not
   * expired, else SESSION_NOT_FOUND (never a silent new session). Without: the principal's default
   * session, made on first use.
   */
  async resolve(principal: Principal, sessionId: string | undefined): Promise<ResolvedSession> {
    if (sessionId !== undefined) {
      return { meta: await this.get(principal, sessionId), previousDefaultExpired: false };
    }
    return this.principalLocks.run(principal.id, async () => {
      const defaultId = this.defaults.get(principal.id) ?? (await this.readPrincipal(principal.id))?.defaultSessionId;
      let previousDefaultExpired = false;
      if (defaultId !== undefined) {
        this.defaults.set(principal.id, defaultId);
        const meta = this.index.get(defaultId);
        if (meta && meta.owner === principal.id) {
          if (!this.isExpired(meta)) return { meta, previousDefaultExpired: false };
          previousDefaultExpired = true;
          await this.delete(meta.id);
        }
      }
      const meta = await this.create(principal, true);
      this.defaults.delete(principal.id);
      await writeFileAtomic(
        this.principalFile(principal.id),
        JSON.stringify({ defaultSessionId: meta.id }),
      );
      this.defaults.set(principal.id, meta.id);
      return { meta, previousDefaultExpired };
    });
  }

  /** The session, when `principal` owns it and it is live. */
  async get(principal: Principal, sessionId: string): Promise<SessionMeta> {
    const meta = SESSION_ID_PATTERN.test(sessionId) ? this.index.get(sessionId) : undefined;
    if (!meta || meta.owner !== principal.id) throw notFound(sessionId);
    if (this.isExpired(meta)) {
      await this.delete(meta.id);
      const minutes = Math.round(this.options.ttlMs / 60000);
      throw sessionNotFound(sessionId, 'expired', `session ${sessionId} expired after ${minutes} min without use; its variables and files are gone`);
    }
    return meta;
  }

  list(principal: Principal): SessionMeta[] {
    return [...this.index.values()]
      .filter((meta) => meta.owner === principal.id && !this.isExpired(meta))
      .sort((a, b) => a.createdAt - b.createdAt);
  }

  info(meta: SessionMeta): SessionInfo {
    return {
      id: meta.id,
      createdAt: new Date(meta.createdAt).toISOString(),
      lastUsedAt: new Date(meta.lastUsedAt).toISOString(),
      expiresAt: new Date(meta.lastUsedAt + this.options.ttlMs).toISOString(),
      isDefault: meta.isDefault,
      executions: meta.executions,
    };
  }

  /** Marks a use: pushes the expiry out. */
  async touch(sessionId: string, changes: Partial<Pick<SessionMeta, 'executions' | 'pythonModules'>> = {}): Promise<void> {
    const meta = this.index.get(sessionId);
    if (!meta) return;
    const next: SessionMeta = { ...meta, ...changes, lastUsedAt: this.now() };
    this.index.set(sessionId, next);
    await this.writeMeta(next);
  }

  async appendHistory(sessionId: string, entry: HistoryEntry): Promise<void> {
    const line = JSON.stringify({ ...entry, code: entry.code.slice(0, HISTORY_CODE_CHARS) });
    await fs.appendFile(path.join(this.sessionDir(sessionId), 'history.jsonl'), `${line}\n`, { mode: 0o600 });
  }

  async history(sessionId: string, limit = 100): Promise<HistoryEntry[]> {
    let raw: string;
    try {
      raw = await fs.readFile(path.join(this.sessionDir(sessionId), 'history.jsonl'), 'utf8');
    } catch {
      return [];
    }
    const entries: HistoryEntry[] = [];
    for (const line of raw.split('\n')) {
      if (!line) continue;
      try {
        entries.push(JSON.parse(line) as HistoryEntry);
      } catch {
        // A torn last line after a crash is skipped, not fatal.
      }
    }
    return entries.slice(-limit);
  }

  /** Forgets variables (all snapshots); files stay. */
  async resetState(sessionId: string): Promise<void> {
    const dir = this.stateDir(sessionId);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    await this.touch(sessionId, { pythonModules: [] });
  }

  /** Removes the session and its files, however deep the tree its code made (and, for a default session, its principal's record). */
  async delete(sessionId: string): Promise<void> {
    const meta = this.index.get(sessionId);
    this.index.delete(sessionId);
    await removeTree(this.sessionDir(sessionId));
    if (meta?.isDefault === true) await this.forgetDefault(meta);
  }

  /**
   * Removes the principal's record when it still names `meta`. A principal whose lock is taken is
   * inside resolve(), which rewrites a stale record itself; never waiting on a taken lock here also
   * means a sweep inside one principal's resolve() cannot deadlock with another's.
   */
  private async forgetDefault(meta: SessionMeta): Promise<void> {
    if (this.principalLocks.isBusy(meta.owner)) return;
    await this.principalLocks.run(meta.owner, async () => {
      const record = await this.readPrincipal(meta.owner);
      if (record?.defaultSessionId === meta.id) {
        this.defaults.delete(meta.owner);
        await fs.rm(this.principalFile(meta.owner), { force: true });
      }
    });
  }

  /** At start-up: records whose default session is gone (removed before records were) go too. */
  private async forgetStaleDefaults(): Promise<void> {
    for (const entry of await fs.readdir(this.principalsDir)) {
      const principalId = /^([0-9a-f]{32})\.json$/.exec(entry)?.[1];
      if (principalId === undefined) continue;
      const record = await this.readPrincipal(principalId);
      if (record === null || !this.index.has(record.defaultSessionId)) await fs.rm(this.principalFile(principalId), { force: true });
    }
  }

  /** Deletes every expired session that is not running right now. Returns how many went. */
  async sweepExpired(): Promise<number> {
    let removed = 0;
    for (const meta of [...this.index.values()]) {
      if (!this.isExpired(meta) || this.locks.isBusy(meta.id)) continue;
      await this.withLock(meta.id, () => this.delete(meta.id));
      removed += 1;
    }
    return removed;
  }

  private isExpired(meta: SessionMeta): boolean {
    return this.now() - meta.lastUsedAt > this.options.ttlMs && !this.locks.isBusy(meta.id);
  }

  private sessionDir(sessionId: string): string {
    if (!SESSION_ID_PATTERN.test(sessionId)) throw notFound(sessionId);
    return path.join(this.sessionsDir, sessionId);
  }

  private principalFile(principalId: string): string {
    return path.join(this.principalsDir, `${principalId}.json`);
  }

  private async readPrincipal(principalId: string): Promise<z.infer<typeof PrincipalRecordSchema> | null> {
    try {
      return PrincipalRecordSchema.parse(JSON.parse(await fs.readFile(this.principalFile(principalId), 'utf8')));
    } catch {
      return null;
    }
  }

  private async readMeta(sessionId: string): Promise<SessionMeta | null> {
    try {
      const raw = await fs.readFile(path.join(this.sessionDir(sessionId), 'meta.json'), 'utf8');
      return SessionMetaSchema.parse(JSON.parse(raw));
    } catch {
      return null;
    }
  }

  private writeMeta(meta: SessionMeta): Promise<void> {
    return writeFileAtomic(path.join(this.sessionDir(meta.id), 'meta.json'), JSON.stringify(meta));
  }
}

function notFound(sessionId: string): CodecellError {
  const shown = sessionId.length > 80 ? `${sessionId.slice(0, 80)}…` : sessionId;
  return sessionNotFound(
    shown,
    'unknown',
    `no session ${JSON.stringify(shown)} exists for you (it may have been closed, expired, or belong to someone else)`,
  );
}

function addCount(counts: Map<string, number>, key: string, delta: number): void {
  const next = (counts.get(key) ?? 0) + delta;
  if (next > 0) counts.set(key, next);
  else counts.delete(key);
}
