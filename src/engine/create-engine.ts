/**
 * Builds an Engine from settings: takes the data dir (one live engine per data dir), then session
 * store, the executor (create-executor.ts; it recovers a crash's leftovers and starts warming), queue.
 */
import type { Settings } from '../config/settings.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { createExecutor } from '../executor/create-executor.js';
import { JobQueue } from '../executor/job-queue.js';
import { FileService } from '../files/file-service.js';
import { CODECELL_VERSION } from '../package-version.js';
import { SessionStore } from '../sessions/session-store.js';
import { takeDataDir } from './data-dir-owner.js';
import { Engine } from './engine.js';
import { FileChangeReporter } from './file-change-reporter.js';
import { SessionFileAccess } from './session-file-access.js';

export interface CreatedEngine {
  readonly engine: Engine;
  readonly files: FileService;
}

export interface CreateEngineDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Turns a signed download token into its URL (the HTTP interface's route); absent: results carry no links. */
  readonly downloadLinkFor?: ((token: string) => string) | undefined;
  /** How long to wait on a live-looking foreign owner's lease before refusing; default one stale time plus one interval. */
  readonly waitForForeignOwnerMs?: number | undefined;
}

export async function createEngine(deps: CreateEngineDeps): Promise<CreatedEngine> {
  const { settings, logger, metrics } = deps;
  // Before anything touches the data dir: recovery below treats its containers and slots as a dead
  // predecessor's, which is only true when no live engine holds it. Throws DATA_DIR_IN_USE.
  const ownership = await takeDataDir(settings.dataDir, {
    ...settings.ownerLease,
    ...(deps.waitForForeignOwnerMs === undefined ? {} : { waitUpToMs: deps.waitForForeignOwnerMs }),
    onLost: (current) =>
      logger.error({ currentOwner: current }, 'the data dir owner record is no longer this engine\'s (its lease was taken over); another engine may be using the data dir'),
    onRenewError: (error) => logger.warn({ err: error }, 'could not renew the data dir owner lease; trying again at the next interval'),
  });
  if (ownership.leaseLapsed) {
    logger.warn(
      { previousOwner: ownership.tookOverFrom, staleAfterMs: settings.ownerLease.staleAfterMs },
      'took over the data dir from an engine on another host or container whose lease had lapsed (it crashed or was killed); recovering its leftovers',
    );
  } else if (ownership.tookOverFrom !== null) {
    logger.warn({ previousOwner: ownership.tookOverFrom }, 'took over the data dir from an engine that is gone; recovering its leftovers');
  }
  try {
    return await build(deps, ownership.release);
  } catch (error) {
    await ownership.release();
    throw error;
  }
}

async function build(deps: CreateEngineDeps, releaseDataDir: () => Promise<void>): Promise<CreatedEngine> {
  const { settings, logger, metrics } = deps;
  const sessions = await SessionStore.open({
    dataDir: settings.dataDir,
    ttlMs: settings.sessions.ttlMs,
    maxSessions: settings.sessions.maxSessions,
    maxSessionsPerPrincipal: settings.sessions.maxSessionsPerPrincipal,
    maxSessionsPerKey: settings.sessions.maxSessionsPerKey,
  });
  const files = new FileService({ sessions, settings, downloadLinkFor: deps.downloadLinkFor });
  const executor = await createExecutor({ settings, logger, metrics, diskBudget: files.diskBudget });
  logger.info({ executor: executor.kind }, 'executor chosen');
  await executor.start((sessionId) => {
    try {
      return { filesDir: sessions.filesDir(sessionId), homeDir: sessions.homeDir(sessionId) };
    } catch {
      return null;
    }
  });
  // Read at every scrape: default sessions are made inside resolve(), which no counter hook saw.
  metrics.countSessionsWith(() => sessions.liveCount);
  metrics.watchExecutor({ kind: executor.kind, reachable: async () => (await executor.health()).reachable });
  const engine = new Engine({
    settings,
    logger,
    metrics,
    sessions,
    executor,
    queue: new JobQueue(settings.queue.concurrency, settings.queue.maxWaiting),
    fileChanges: new FileChangeReporter(
      new SessionFileAccess(files),
      settings.limits.sessionQuotaBytes,
      settings.limits.maxListedFiles,
      { maxSide: settings.limits.inlineImageMaxSide, maxBytes: settings.limits.inlineImageMaxBytes },
    ),
    version: CODECELL_VERSION,
    releaseDataDir,
  });
  return { engine, files };
}
