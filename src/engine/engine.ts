/**
 * The engine: the path every execution takes, in order.
 *
 *   execute(request)
 *     → validate (code size, well-formed code and args, timeout that may only lower the limit)
 *     → resolve the session (the caller's own; default when no id; unknown → SESSION_NOT_FOUND)
 *     → a place in the job queue (bounded: else QUEUE_FULL at once)
 *     → session lock (one run per session at a time; waiting here counts as waiting in the queue)
 *     → job queue (bounded concurrency; the slot is held until the container is gone)
 *     → TypeScript → JavaScript (TypeScript's transpiler in a capped, supervised worker thread)
 *     → Executor.run, the port (src/executor/executor.ts), today DockerExecutor (a throwaway
 *       container; state restored and saved inside it; src/executor/docker/docker-executor.ts)
 *     → the executor calls back while the session's files are still where the run left them: files
 *       changed in /mnt/data, images (the files go back when the callback settles, whatever happens)
 *     → history, metrics → ExecutionResult, answered at once; the lock is kept until the run is settled
 *       (sandbox dead, files back)
 */
import { withoutRepeatedImages } from './repeated-images.js';
import type { Settings } from '../config/settings.js';
import { CodecellError, sessionNotFound } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics/metrics.js';
import { joinNotices } from '../notices.js';
import type { Executor, ExecutorHealth, ExecutorResult, PoolWarmth } from '../executor/executor.js';
import { oneShotPoolFor, pythonPoolFor, type PoolKey } from '../executor/pool-key.js';
import { LANGUAGE_TITLES } from './language-names.js';
import type { Admission, JobQueue } from '../executor/job-queue.js';
import { argsProblem, codeTextProblem } from '../executor/runner-protocol.js';
import type { Principal } from '../sessions/principal.js';
import type { SessionMeta, SessionStore } from '../sessions/session-store.js';
import type { RuntimeName } from '../config/settings.js';
import type { FileChangeReporter } from './file-change-reporter.js';
import { NOTHING_UNLISTED } from './changed-files-listing.js';
import { capError, capNotCarried, capValue, inlineFrameImages } from './result-caps.js';
import { displaysOf } from './result-displays.js';
import { isOneShot, LANGUAGES, type HistoryEntry, type Language, type OneShotLanguage, type SessionInfo } from '../domain/types.js';
import type { EngineApi, ExecuteRequest, ExecutionResult, HealthReport, ReadinessReport, ResultImage, SystemInfo } from './types.js';
import { SessionRuns } from './session-runs.js';
import { describeSystem } from './system-info.js';
import { TypeScriptTranspiler, type TranspileOutcome } from './typescript-transpiler.js';

export const MAX_CODE_CHARS = 1_000_000;

export interface EngineDeps {
  readonly settings: Settings;
  readonly logger: Logger;
  readonly metrics: Metrics;
  readonly sessions: SessionStore;
  readonly executor: Executor;
  readonly queue: JobQueue;
  readonly fileChanges: FileChangeReporter;
  /** This Codecell's version, for get_system_info. */
  readonly version: string;
  /** Gives the data dir up once everything in it has stopped (engine/data-dir-owner.ts). */
  readonly releaseDataDir?: (() => Promise<void>) | undefined;
}

export class Engine implements EngineApi {
  private readonly sessions: SessionStore;
  /** Calls under way per session (waiting or running): closing the session stops them. */
  private readonly runs = new SessionRuns();
  private shuttingDown = false;
  /** Runs' records (meta and history writes) still being written after their answer. */
  private readonly recording = new Set<Promise<void>>();
  private readonly sweeper: NodeJS.Timeout;
  private readonly typescript: TypeScriptTranspiler;

  constructor(private readonly deps: EngineDeps) {
    this.sessions = deps.sessions;
    this.typescript = new TypeScriptTranspiler({ logger: deps.logger, maxWorkers: deps.settings.queue.concurrency });
    // Expired sessions (idle past the TTL) lose their files and state; checked once a minute.
    this.sweeper = setInterval(() => {
      deps.sessions
        .sweepExpired()
        .then((removed) => {
          if (removed > 0) deps.logger.info({ removed }, 'expired sessions removed');
        })
        .catch((error: unknown) => deps.logger.error({ err: error }, 'session sweep failed'));
    }, 60_000);
    this.sweeper.unref();
  }

  assertRoom(reserved = 0): void {
    if (this.shuttingDown) throw new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment');
    this.deps.queue.assertRoom(reserved);
  }

  async execute(request: ExecuteRequest): Promise<ExecutionResult> {
    const { settings, metrics, queue } = this.deps;
    if (this.shuttingDown) throw new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment');
    if (request.code.length > MAX_CODE_CHARS) {
      throw new CodecellError(
        'INVALID_INPUT',
        `code is ${request.code.length} characters; the limit is ${MAX_CODE_CHARS}. Put large data in a file and read it from /mnt/data.`,
      );
    }
    // Checked once here for every interface, before any work: text a runner could not be sent.
    const textRefused = codeTextProblem(request.code) ?? argsProblem(request.args ?? []);
    if (textRefused !== undefined) throw new CodecellError('INVALID_INPUT', textRefused);
    const timeoutMs = effectiveTimeout(request.timeoutMs, settings.limits.timeoutMs);
    // A place in the queue first: a call that then waits for its session counts as waiting too.
    let admission: Admission;
    try {
      admission = queue.admit();
    } catch (error) {
      metrics.executions.inc({ language: request.language, status: 'rejected' });
      throw error;
    }
    metrics.queueDepth.set(queue.waiting);
    // Aborted by the caller, or by closeSession: either way the run is killed (or never starts).
    const stop = new AbortController();
    const signal = request.signal ? AbortSignal.any([request.signal, stop.signal]) : stop.signal;
    let sessionId: string | undefined;
    let release: (() => void) | undefined;
    // Once the job is queued, it alone releases the lock and the place.
    let handedOver = false;
    try {
      const resolved = await this.sessions.resolve(request.principal, request.sessionId);
      sessionId = resolved.meta.id;
      this.runs.add(sessionId, stop);
      const enqueuedAt = Date.now();
      // The lock is held until the container is dead and the files are back, which may be after the
      // caller has its result: the next run in this session waits for that, nobody else does.
      release = await this.sessions.acquireLock(sessionId, signal);
      const meta = await this.sessions.get(request.principal, sessionId);
      let answered!: (result: ExecutionResult) => void;
      let failed!: (error: unknown) => void;
      const answer = new Promise<ExecutionResult>((resolve, reject) => {
        answered = resolve;
        failed = reject;
      });
      const job = admission.run(async () => {
        metrics.queueDepth.set(queue.waiting);
        const queuedMs = Date.now() - enqueuedAt;
        metrics.queueWait.observe(queuedMs / 1000);
        metrics.running.inc();
        try {
          const { result, settled } = await this.runInSession({ ...request, signal }, meta, timeoutMs, queuedMs);
          const notice = joinNotices(
            resolved.previousDefaultExpired
              ? 'Your previous default session had expired; this run started a new, empty one.'
              : null,
            result.notice,
          );
          answered({ ...result, notice });
          await settled;
        } finally {
          metrics.running.dec();
        }
      }, signal);
      handedOver = true;
      const unlock = release;
      const runningIn = sessionId;
      job.then(
        () => {
          this.runs.delete(runningIn, stop);
          unlock();
        },
        (error: unknown) => {
          this.runs.delete(runningIn, stop);
          unlock();
          metrics.queueDepth.set(queue.waiting);
          // Before the answer this fails the call; after it (clean-up went wrong) it is only logged.
          if (!signal.aborted) this.deps.logger.warn({ err: error, session: runningIn }, 'execution job failed');
          failed(error);
        },
      );
      return await answer;
    } catch (error) {
      if (!handedOver) {
        admission.withdraw();
        release?.();
        if (sessionId !== undefined) this.runs.delete(sessionId, stop);
        metrics.queueDepth.set(queue.waiting);
      }
      throw error;
    }
  }

  private async runInSession(
    request: ExecuteRequest,
    meta: SessionMeta,
    timeoutMs: number,
    queuedMs: number,
  ): Promise<{ result: ExecutionResult; settled: Promise<void> }> {
    const { settings, metrics, executor, fileChanges, logger } = this.deps;
    const runtime = runtimeFor(request.language);
    const log = logger.child({ session: meta.id, language: request.language });
    const pool: PoolKey = isOneShot(request.language)
      ? oneShotPoolFor(request.language)
      : runtime === 'python'
        ? pythonPoolFor(request.code, meta.pythonModules)
        : (runtime ?? 'bash');
    if (isOneShot(request.language) && !(await executor.available(pool))) {
      const result = notInstalledResult(meta.id, request.language, await this.installedLanguages(), queuedMs);
      log.warn({ pool }, 'language not installed: its image is missing');
      await this.record(meta, request, result, meta.pythonModules);
      return { result, settled: Promise.resolve() };
    }
    const code: TranspileOutcome =
      request.language === 'typescript'
        ? await this.typescript.transpile(request.code, timeoutMs)
        : { javascript: request.code };
    if ('refused' in code) {
      const result = notCompiledResult(meta.id, request.language, code.refused, queuedMs);
      await this.record(meta, request, result, meta.pythonModules);
      return { result, settled: Promise.resolve() };
    }
    const filesDir = this.sessions.filesDir(meta.id);
    const before = await fileChanges.snapshot(filesDir);
    // Cancelled since it left the queue: no container is started for it.
    request.signal?.throwIfAborted();
    const finished = await executor.run(
      {
        pool,
        sessionId: meta.id,
        filesDir,
        homeDir: this.sessions.homeDir(meta.id),
        stateFile: runtime === null ? null : this.sessions.stateFile(meta.id, runtime),
        stateDir: this.sessions.stateDir(meta.id),
        code: code.javascript,
        sourceMap: code.sourceMap,
        sourceLanguage: request.language,
        args: request.args ?? [],
        timeoutMs,
        maxImages: settings.limits.maxImagesPerRun,
        onOutput: request.onOutput,
        signal: request.signal,
      },
      // While the files are where the run left them: what changed, and the images it showed or wrote.
      async (run: ExecutorResult, runFilesDir: string) => {
        const frame = run.frame;
        const inline = inlineFrameImages(frame?.images ?? [], settings.limits.maxImagesPerRun);
        // Before the after-scan: a shown figure that had to be downscaled is kept in full as a new file.
        const shown = await fileChanges.fitShownImages(runFilesDir, inline.images);
        const changes = await fileChanges.changes(meta.id, runFilesDir, before);
        const images: ResultImage[] = shown.images;
        let imagesOmitted = (frame?.imagesOmitted ?? 0) + inline.omitted + shown.omitted;
        const keptInFull = new Set(shown.written);
        const written = changes.pngFiles.filter((file) => !keptInFull.has(file.path));
        const saved = await fileChanges.imagesFrom(runFilesDir, written, settings.limits.maxImagesPerRun - images.length);
        images.push(...withoutRepeatedImages(images, saved.images));
        imagesOmitted += saved.omitted;
        return { changes, images, imagesOmitted };
      },
    );
    const { result: run, settled } = finished;
    const { changes, images, imagesOmitted } = finished.inspected;
    try {
      const frame = run.frame;
      const result: ExecutionResult = {
        sessionId: meta.id,
        language: request.language,
        status: run.status,
        exitCode: run.exitCode,
        stdout: run.stdout,
        stderr: run.stderr,
        value: capValue(frame?.value ?? null),
        error: capError(frame?.error ?? null),
        images,
        imagesOmitted,
        displays: displaysOf(frame?.displays, run.stdout),
        files: changes.files,
        unlistedFiles: changes.unlisted,
        notCarried: capNotCarried(frame?.notCarried ?? []),
        stateSaved: run.stateSaved,
        notice: joinNotices(run.notice, changes.notice),
        durationMs: run.durationMs,
        queuedMs,
      };
      log.info(
        { status: result.status, durationMs: result.durationMs, queuedMs, warm: run.warm, pool, images: images.length },
        'execution finished',
      );
      metrics.executionDuration.observe({ language: request.language }, run.durationMs / 1000);
      const pythonModules = runtime === 'python' && frame ? frame.loadedModules : meta.pythonModules;
      // The index changes at once; its fsynced write and the history line need not delay the answer:
      // they finish before the session's lock goes (the next run and getHistory wait), and before shutdown ends.
      const recorded = this.trackRecord(this.record(meta, request, result, pythonModules));
      return { result, settled: Promise.all([settled, recorded]).then(() => undefined) };
    } catch (error) {
      // The caller unlocks the session when this throws: not before the run is settled.
      await settled;
      throw error;
    }
  }

  /** The languages whose images this Docker engine has (asked when a language turns out to be missing). */
  private async installedLanguages(): Promise<Language[]> {
    const { executor } = this.deps;
    const installed = await Promise.all(
      LANGUAGES.map(async (language) => ((await executor.available(poolOf(language))) ? language : null)),
    );
    return installed.filter((language): language is Language => language !== null);
  }

  private trackRecord(recording: Promise<void>): Promise<void> {
    this.recording.add(recording);
    const forget = (): void => void this.recording.delete(recording);
    recording.then(forget, forget);
    return recording;
  }

  /** Counts the run, marks the session used, and appends to its history. */
  private async record(
    meta: SessionMeta,
    request: ExecuteRequest,
    result: ExecutionResult,
    pythonModules: string[],
  ): Promise<void> {
    this.deps.metrics.executions.inc({ language: request.language, status: result.status });
    await this.sessions.touch(meta.id, { executions: meta.executions + 1, pythonModules });
    await this.sessions.appendHistory(meta.id, {
      at: new Date().toISOString(),
      language: request.language,
      code: request.code,
      status: result.status,
      durationMs: result.durationMs,
      stdoutPreview: result.stdout.text.slice(0, 500),
      errorName: result.error?.name ?? null,
    });
  }

  async createSession(principal: Principal): Promise<SessionInfo> {
    const meta = await this.sessions.create(principal);
    return this.sessions.info(meta);
  }

  async listSessions(principal: Principal): Promise<SessionInfo[]> {
    return this.sessions.list(principal).map((meta) => this.sessions.info(meta));
  }

  async getHistory(principal: Principal, sessionId: string): Promise<{ session: SessionInfo; history: HistoryEntry[] }> {
    const meta = await this.sessions.get(principal, sessionId);
    // Under the lock, so a run that has just answered is in the history.
    const history = await this.sessions.withLock(meta.id, () => this.sessions.history(meta.id));
    return { session: this.sessions.info(await this.sessions.get(principal, sessionId)), history };
  }

  async resetSession(principal: Principal, sessionId: string | undefined): Promise<SessionInfo> {
    const { meta } = await this.sessions.resolve(principal, sessionId);
    await this.sessions.withLock(meta.id, () => this.sessions.resetState(meta.id));
    return this.sessions.info(await this.sessions.get(principal, meta.id));
  }

  async closeSession(principal: Principal, sessionId: string): Promise<void> {
    const meta = await this.sessions.get(principal, sessionId);
    // Its running call is killed and its waiting ones give up; the lock comes free once the killed
    // run's container is gone and its files are back, and only then is the session deleted.
    this.runs.stopAll(meta.id, sessionNotFound(sessionId, 'unknown', 'the session was closed while this call was under way'));
    await this.sessions.withLock(meta.id, () => this.sessions.delete(meta.id));
  }

  async resolveSessionId(principal: Principal, sessionId: string | undefined): Promise<string> {
    return (await this.sessions.resolve(principal, sessionId)).meta.id;
  }

  systemInfo(): Promise<SystemInfo> {
    return describeSystem(this.deps.settings, this.deps.executor, this.deps.version);
  }

  async health(): Promise<HealthReport> {
    const { executor, queue } = this.deps;
    const health = await executor.health();
    const reachability = { reachable: health.reachable, ...(health.error === undefined ? {} : { error: health.error }) };
    return {
      ok: health.reachable && !this.shuttingDown,
      executor: health,
      ...(health.kind === 'docker' ? { docker: reachability } : {}),
      pool: executor.poolSizes(),
      queue: { running: queue.running, waiting: queue.waiting },
    };
  }

  async readiness(): Promise<ReadinessReport> {
    const { executor } = this.deps;
    const health = await executor.health();
    const pools = executor.poolWarmth();
    return { ...readinessVerdict(health, pools, this.shuttingDown), pools };
  }

  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    clearInterval(this.sweeper);
    this.deps.queue.close();
    await this.deps.executor.shutdown();
    await Promise.allSettled([...this.recording]);
    await this.typescript.close();
    await this.deps.releaseDataDir?.();
  }
}

/** Not ready while shutting down, while the executor does not answer, or while a pool is cold (failed starts named first). */
export function readinessVerdict(
  health: Pick<ExecutorHealth, 'reachable' | 'error'>,
  pools: Readonly<Record<string, PoolWarmth>>,
  shuttingDown: boolean,
): { ready: boolean; reason?: string } {
  if (shuttingDown) return { ready: false, reason: 'the server is shutting down' };
  if (!health.reachable) return { ready: false, reason: `the executor does not answer${health.error === undefined ? '' : `: ${health.error}`}` };
  const entries = Object.entries(pools);
  const failed = entries.flatMap(([pool, warmth]) => (warmth.state === 'failed' ? [`${pool} (${warmth.error})`] : []));
  if (failed.length > 0) return { ready: false, reason: `warm runners failed to start: ${failed.join('; ')}` };
  const warming = entries.filter(([, warmth]) => warmth.state === 'warming').map(([pool]) => pool);
  if (warming.length > 0) return { ready: false, reason: `warming up: ${warming.join(', ')}` };
  return { ready: true };
}

/** The runtime whose snapshot a language's runs carry on; null for a one-shot language (no snapshot). */
export function runtimeFor(language: Language): RuntimeName | null {
  if (isOneShot(language)) return null;
  if (language === 'python') return 'python';
  if (language === 'bash') return 'bash';
  return 'node';
}

/** A pool that runs `language` (for Python the lean one: any Python pool has the image). */
function poolOf(language: Language): PoolKey {
  if (isOneShot(language)) return oneShotPoolFor(language);
  const runtime = runtimeFor(language);
  return runtime === 'python' ? 'python-lean' : (runtime ?? 'bash');
}

/**
 * A one-shot language whose image this server lacks: an answer the model can act on (use another
 * language) and the admin too (build the image), not a failure of the service.
 */
function notInstalledResult(
  sessionId: string,
  language: OneShotLanguage,
  installed: readonly Language[],
  queuedMs: number,
): ExecutionResult {
  const title = LANGUAGE_TITLES[language];
  const image = oneShotPoolFor(language);
  const message =
    `${title} is not installed on this server (its image "${image}" has not been built), so nothing ran. ` +
    (installed.length > 0 ? `Languages available here: ${installed.join(', ')}. ` : '') +
    `An administrator can add ${title} with: npm run images -- ${image}`;
  return nothingRanResult({
    sessionId,
    language,
    exitCode: null,
    error: { name: 'LanguageNotInstalled', message },
    notice: 'Nothing ran; the session is unchanged.',
    queuedMs,
  });
}

function effectiveTimeout(requestedMs: number | undefined, limitMs: number): number {
  if (requestedMs === undefined) return limitMs;
  if (!Number.isFinite(requestedMs) || requestedMs <= 0) {
    throw new CodecellError('INVALID_INPUT', 'timeout must be a positive number of seconds');
  }
  return Math.min(Math.round(requestedMs), limitMs);
}

function notCompiledResult(
  sessionId: string,
  language: Language,
  refused: { readonly name: string; readonly message: string },
  queuedMs: number,
): ExecutionResult {
  return nothingRanResult({
    sessionId,
    language,
    exitCode: 1,
    error: refused,
    notice: 'The TypeScript did not compile, so nothing ran; the session is unchanged.',
    queuedMs,
  });
}

/** An error result for a run refused before any code ran: empty output, no files, the session unchanged. */
function nothingRanResult(refusal: {
  readonly sessionId: string;
  readonly language: Language;
  readonly exitCode: number | null;
  readonly error: { readonly name: string; readonly message: string };
  readonly notice: string;
  readonly queuedMs: number;
}): ExecutionResult {
  return {
    sessionId: refusal.sessionId,
    language: refusal.language,
    status: 'error',
    exitCode: refusal.exitCode,
    stdout: { text: '', truncatedChars: 0 },
    stderr: { text: '', truncatedChars: 0 },
    value: null,
    error: { name: refusal.error.name, message: refusal.error.message, traceback: '' },
    images: [],
    imagesOmitted: 0,
    displays: [],
    files: [],
    unlistedFiles: NOTHING_UNLISTED,
    notCarried: [],
    stateSaved: false,
    notice: refusal.notice,
    durationMs: 0,
    queuedMs: refusal.queuedMs,
  };
}

