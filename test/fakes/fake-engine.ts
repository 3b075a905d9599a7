/**
 * An EngineApi without Docker, for tests of the layers above the engine (MCP tools, HTTP routes).
 *
 * Everything but the container is real: sessions are the real SessionStore on a temp dir (shared
 * with a real FileService, so file tools and runs see the same /mnt/data), the real JobQueue bounds
 * concurrency and waiting, the session lock orders runs, history and counters are recorded, file
 * changes come from the real FileChangeReporter. Only the code runs differently: instead of a
 * language runtime in a container, a tiny line interpreter runs in-process. Its commands, one a line:
 *
 *   print <text>          a line on stdout (streamed through onOutput as it happens)
 *   warn <text>           a line on stderr
 *   set <name> <text>     keeps a variable in the session's state (per runtime, like the real runners)
 *   get <name>            the variable as the run's value; NameError when it is not set
 *   value <text>          the run's value (a trailing expression's repr)
 *   write <path> <text>   writes a file in /mnt/data (reported as a file change)
 *   image <name>          shows a 1×1 PNG, as a plot would be shown
 *   raise <Name> <msg>    fails with that error (a traceback naming the line)
 *   exit <code>           ends the program with that exit code
 *   wait                  blocks until the caller cancels, the server shuts down or the time limit
 *
 * State is saved (as JSON in the session's state file) when a run ends by itself, and lost when it
 * is killed or times out: the same contract as the real runners.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadSettings, type Settings } from '../../src/config/settings.js';
import { MAX_CODE_CHARS, runtimeFor } from '../../src/engine/engine.js';
import { FileChangeReporter } from '../../src/engine/file-change-reporter.js';
import { SessionFileAccess } from '../../src/engine/session-file-access.js';
import { limitsInfo } from '../../src/engine/system-info.js';
import { LANGUAGES, ONE_SHOT_LANGUAGES, type ExecutionStatus, type HistoryEntry, type SessionInfo } from '../../src/domain/types.js';
import {
  type EngineApi,
  type ExecuteRequest,
  type ExecutionError,
  type ExecutionResult,
  type HealthReport,
  type ReadinessReport,
  type ResultImage,
  type SystemInfo,
} from '../../src/engine/types.js';
import { CodecellError } from '../../src/errors.js';
import { JobQueue } from '../../src/executor/job-queue.js';
import { inlinePngSize } from '../../src/executor/png.js';
import { FileService } from '../../src/files/file-service.js';
import type { Principal } from '../../src/sessions/principal.js';
import { SessionStore, type SessionMeta } from '../../src/sessions/session-store.js';

/** A valid 1×1 RGBA PNG (what `image` shows). */
const ONE_PIXEL_PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

export interface FakeEngineDeps {
  readonly settings: Settings;
  readonly sessions: SessionStore;
  readonly files: FileService;
}

type Ending =
  | { readonly kind: 'finished'; readonly exitCode: number; readonly error: ExecutionError | null }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'killed'; readonly byCaller: boolean };

interface Program {
  stdout: string;
  stderr: string;
  value: string | null;
  images: ResultImage[];
  variables: Record<string, string>;
}

export class FakeEngine implements EngineApi {
  readonly queue: JobQueue;
  private readonly fileChanges: FileChangeReporter;
  private readonly stopping = new AbortController();
  private shuttingDown = false;
  private readonly executions = new Set<Promise<void>>();

  constructor(private readonly deps: FakeEngineDeps) {
    this.queue = new JobQueue(deps.settings.queue.concurrency, deps.settings.queue.maxWaiting);
    this.fileChanges = new FileChangeReporter(
      new SessionFileAccess(deps.files),
      deps.settings.limits.sessionQuotaBytes,
      deps.settings.limits.maxListedFiles,
      { maxSide: deps.settings.limits.inlineImageMaxSide, maxBytes: deps.settings.limits.inlineImageMaxBytes },
    );
  }

  assertRoom(reserved = 0): void {
    if (this.shuttingDown) throw new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment');
    this.queue.assertRoom(reserved);
  }

  async execute(request: ExecuteRequest): Promise<ExecutionResult> {
    if (this.shuttingDown) throw new CodecellError('SHUTTING_DOWN', 'the server is shutting down; retry in a moment');
    if (request.code.length > MAX_CODE_CHARS) {
      throw new CodecellError('INVALID_INPUT', `code is ${request.code.length} characters; the limit is ${MAX_CODE_CHARS}.`);
    }
    const timeoutMs = effectiveTimeout(request.timeoutMs, this.deps.settings.limits.timeoutMs);
    this.queue.assertRoom();
    const { sessions } = this.deps;
    const resolved = await sessions.resolve(request.principal, request.sessionId);
    const enqueuedAt = Date.now();
    const execution = sessions.withLock(resolved.meta.id, () =>
      this.queue.run(async () => {
        const meta = await sessions.get(request.principal, resolved.meta.id);
        const result = await this.runInSession(request, meta, timeoutMs, Date.now() - enqueuedAt);
        const expired = resolved.previousDefaultExpired
          ? 'Your previous default session had expired; this run started a new, empty one.'
          : null;
        return { ...result, notice: [expired, result.notice].filter((n) => n !== null).join(' ') || null };
      }, request.signal),
    );
    // Shutdown waits for every execution, as the real engine's does, so no run writes into a
    // data dir that is being removed.
    const settled = execution.then(
      () => undefined,
      () => undefined,
    );
    this.executions.add(settled);
    void settled.then(() => this.executions.delete(settled));
    return execution;
  }

  async createSession(principal: Principal): Promise<SessionInfo> {
    return this.deps.sessions.info(await this.deps.sessions.create(principal));
  }

  async listSessions(principal: Principal): Promise<SessionInfo[]> {
    return this.deps.sessions.list(principal).map((meta) => this.deps.sessions.info(meta));
  }

  async getHistory(principal: Principal, sessionId: string): Promise<{ session: SessionInfo; history: HistoryEntry[] }> {
    const { sessions } = this.deps;
    const meta = await sessions.get(principal, sessionId);
    const history = await sessions.withLock(meta.id, () => sessions.history(meta.id));
    return { session: sessions.info(await sessions.get(principal, sessionId)), history };
  }

  async resetSession(principal: Principal, sessionId: string | undefined): Promise<SessionInfo> {
    const { sessions } = this.deps;
    const { meta } = await sessions.resolve(principal, sessionId);
    await sessions.withLock(meta.id, () => sessions.resetState(meta.id));
    return sessions.info(await sessions.get(principal, meta.id));
  }

  async closeSession(principal: Principal, sessionId: string): Promise<void> {
    const { sessions } = this.deps;
    const meta = await sessions.get(principal, sessionId);
    await sessions.withLock(meta.id, () => sessions.delete(meta.id));
  }

  async resolveSessionId(principal: Principal, sessionId: string | undefined): Promise<string> {
    return (await this.deps.sessions.resolve(principal, sessionId)).meta.id;
  }

  async systemInfo(): Promise<SystemInfo> {
    return {
      codecellVersion: '0.0.0-fake',
      executor: { kind: 'docker', engineVersion: 'none (in-process fake)', containerRuntime: 'none' },
      languages: [...LANGUAGES],
      runtimes: (['python', 'node', 'bash'] as const).map((runtime) => ({
        runtime,
        image: `fake-${runtime}`,
        languageVersion: 'fake',
        packages: {},
      })),
      oneShotLanguages: ONE_SHOT_LANGUAGES.map((language) => ({ language, image: `fake-${language}`, installed: false, version: null })),
      limits: limitsInfo(this.deps.settings, 'docker'),
      network: 'none',
      workingDirectory: '/mnt/data',
    };
  }

  /** The in-process interpreter is always there; only shutting down makes the engine not ok. */
  async health(): Promise<HealthReport> {
    return {
      ok: !this.shuttingDown,
      executor: { kind: 'docker', reachable: true, isolation: { mode: 'in-process', layers: {} } },
      docker: { reachable: true },
      pool: {},
      queue: { running: this.queue.running, waiting: this.queue.waiting },
    };
  }

  /** No pools to warm: ready unless shutting down. */
  async readiness(): Promise<ReadinessReport> {
    return this.shuttingDown ? { ready: false, reason: 'the server is shutting down', pools: {} } : { ready: true, pools: {} };
  }

  async shutdown(): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.queue.close();
    this.stopping.abort();
    await Promise.all(this.executions);
  }

  private async runInSession(request: ExecuteRequest, meta: SessionMeta, timeoutMs: number, queuedMs: number): Promise<ExecutionResult> {
    const { sessions } = this.deps;
    const filesDir = sessions.filesDir(meta.id);
    // One-shot languages keep nothing in the real engine; the fake keeps its line interpreter's variables per runtime anyway.
    const stateFile = sessions.stateFile(meta.id, runtimeFor(request.language) ?? 'bash');
    const before = await this.fileChanges.snapshot(filesDir);
    const program: Program = { stdout: '', stderr: '', value: null, images: [], variables: await readState(stateFile) };
    const startedAt = Date.now();
    const ending = await this.interpret(request, program, filesDir, timeoutMs);
    const durationMs = Date.now() - startedAt;
    const stateSaved = ending.kind === 'finished';
    if (stateSaved) {
      await fs.mkdir(path.dirname(stateFile), { recursive: true });
      await fs.writeFile(stateFile, JSON.stringify(program.variables));
    }
    const changes = await this.fileChanges.changes(meta.id, filesDir, before);
    const status: ExecutionStatus =
      ending.kind === 'finished' ? (ending.exitCode === 0 && ending.error === null ? 'ok' : 'error') : ending.kind;
    const endingNotice =
      ending.kind === 'timeout'
        ? `Stopped after ${timeoutMs / 1000} s (the time limit); variables from this run were not kept.`
        : ending.kind === 'killed'
          ? `${ending.byCaller ? 'Cancelled by the caller' : 'Stopped because the server is shutting down'}; variables from this run were not kept.`
          : null;
    const result: ExecutionResult = {
      sessionId: meta.id,
      language: request.language,
      status,
      exitCode: ending.kind === 'finished' ? ending.exitCode : null,
      stdout: { text: program.stdout, truncatedChars: 0 },
      stderr: { text: program.stderr, truncatedChars: 0 },
      value: program.value,
      error: ending.kind === 'finished' ? ending.error : null,
      images: program.images,
      imagesOmitted: 0,
      displays: [],
      files: changes.files,
      unlistedFiles: changes.unlisted,
      notCarried: [],
      stateSaved,
      notice: [endingNotice, changes.notice].filter((n) => n !== null).join(' ') || null,
      durationMs,
      queuedMs,
    };
    await sessions.touch(meta.id, { executions: meta.executions + 1 });
    await sessions.appendHistory(meta.id, {
      at: new Date().toISOString(),
      language: request.language,
      code: request.code,
      status: result.status,
      durationMs,
      stdoutPreview: result.stdout.text.slice(0, 500),
      errorName: result.error?.name ?? null,
    });
    return result;
  }

  private async interpret(request: ExecuteRequest, program: Program, filesDir: string, timeoutMs: number): Promise<Ending> {
    const lines = request.code.split('\n');
    const emit = (stream: 'stdout' | 'stderr', text: string): void => {
      program[stream] += text;
      request.onOutput?.({ stream, text });
    };
    for (const [index, line] of lines.entries()) {
      const [command = '', first = '', ...rest] = line.trim().split(' ');
      const afterCommand = line.trim().slice(command.length + 1);
      const afterFirst = rest.join(' ');
      const fail = (name: string, message: string): Ending => ({
        kind: 'finished',
        exitCode: 1,
        error: { name, message, traceback: `line ${index + 1}: ${line}\n${name}: ${message}` },
      });
      switch (command) {
        case '':
          break;
        case 'print':
          emit('stdout', `${afterCommand}\n`);
          break;
        case 'warn':
          emit('stderr', `${afterCommand}\n`);
          break;
        case 'set':
          program.variables[first] = afterFirst;
          break;
        case 'get': {
          const value = program.variables[first];
          if (value === undefined) return fail('NameError', `name '${first}' is not defined`);
          program.value = value;
          break;
        }
        case 'value':
          program.value = afterCommand;
          break;
        case 'write': {
          const target = path.resolve(filesDir, first);
          if (!target.startsWith(`${filesDir}${path.sep}`)) return fail('PermissionError', `${first} is outside /mnt/data`);
          await fs.mkdir(path.dirname(target), { recursive: true });
          await fs.writeFile(target, afterFirst);
          break;
        }
        case 'image':
          program.images.push({ name: first, mimeType: 'image/png', base64: ONE_PIXEL_PNG.toString('base64'), ...pngSizeOf(ONE_PIXEL_PNG) });
          break;
        case 'raise':
          return fail(first, afterFirst);
        case 'exit':
          return { kind: 'finished', exitCode: Number(first), error: null };
        case 'wait':
          return this.waitForEnd(request.signal, timeoutMs);
        default:
          return fail('SyntaxError', `unknown command '${command}'`);
      }
    }
    return { kind: 'finished', exitCode: 0, error: null };
  }

  /** Blocks until the caller cancels, the server shuts down or the time limit passes. */
  private waitForEnd(callerSignal: AbortSignal | undefined, timeoutMs: number): Promise<Ending> {
    const signals = [this.stopping.signal, ...(callerSignal ? [callerSignal] : [])];
    return new Promise((resolve) => {
      const end = (ending: Ending): void => {
        clearTimeout(timer);
        for (const signal of signals) signal.removeEventListener('abort', onAbort);
        resolve(ending);
      };
      const onAbort = (): void => end({ kind: 'killed', byCaller: callerSignal?.aborted === true });
      const timer = setTimeout(() => end({ kind: 'timeout' }), timeoutMs);
      for (const signal of signals) signal.addEventListener('abort', onAbort, { once: true });
      if (signals.some((signal) => signal.aborted)) onAbort();
    });
  }
}

function pngSizeOf(bytes: Buffer): { width: number; height: number } {
  const size = inlinePngSize(bytes);
  if (size === null) throw new Error('not a PNG');
  return size;
}

async function readState(stateFile: string): Promise<Record<string, string>> {
  try {
    return JSON.parse(await fs.readFile(stateFile, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

/** The engine's rule: a request may lower the limit, never raise it. */
function effectiveTimeout(requestedMs: number | undefined, limitMs: number): number {
  if (requestedMs === undefined) return limitMs;
  if (!Number.isFinite(requestedMs) || requestedMs <= 0) {
    throw new CodecellError('INVALID_INPUT', 'timeout must be a positive number of seconds');
  }
  return Math.min(Math.round(requestedMs), limitMs);
}


export interface FakeEngineFixture {
  readonly engine: FakeEngine;
  readonly settings: Settings;
  readonly sessions: SessionStore;
  readonly files: FileService;
  readonly dataDir: string;
  /** Shuts the engine down and deletes the data dir. */
  close(): Promise<void>;
}

/** A FakeEngine on a throwaway data dir; `env` uses the real setting names (e.g. CODECELL_CONCURRENCY). */
export async function startFakeEngine(env: Record<string, string> = {}): Promise<FakeEngineFixture> {
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'codecell-fake-engine-'));
  const settings = loadSettings({}, { LOG_LEVEL: 'silent', ...env, CODECELL_DATA_DIR: dataDir });
  const sessions = await SessionStore.open({ dataDir, ttlMs: settings.sessions.ttlMs, maxSessions: settings.sessions.maxSessions });
  const files = new FileService({ sessions, settings });
  const engine = new FakeEngine({ settings, sessions, files });
  return {
    engine,
    settings,
    sessions,
    files,
    dataDir,
    async close() {
      await engine.shutdown();
      await fs.rm(dataDir, { recursive: true, force: true });
    },
  };
}
