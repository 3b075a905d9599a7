/**
 * The executor port: all the engine knows of where and how code runs. One run, in order:
 *
 *   Engine (src/engine/engine.ts) → Executor.run(job, inspect)
 *     → the implementation (today DockerExecutor, src/executor/docker/docker-executor.ts) moves the
 *       session's files, home and snapshot into a sandbox, runs the runner there (images/PROTOCOL.md)
 *       and captures its output and result frame
 *     → inspect(result, filesDir): the engine reads the files where the run left them
 *     → when inspect settles (returns or throws), the files go back: the scope makes forgetting impossible
 *     → run() resolves with the result; `settled` resolves once the sandbox is dead and the files are back.
 *
 * create-executor.ts picks the implementation from the settings.
 */
import type { CapturedText, ExecutionStatus, Language, OneShotLanguageInfo, OutputChunk, RuntimeInfo } from '../domain/types.js';
import type { PoolWarmth } from './warm-pool.js';
import type { PoolKey } from './pool-key.js';
import type { ResultFrame } from './runner-protocol.js';
import type { SessionPlaces } from './slot.js';

export type { SessionPlaces } from './slot.js';
export type { PoolWarmth } from './warm-pool.js';

/** One run of code in one session, as the engine hands it over. */
export interface ExecutorJob {
  /** Which warm runner fits (pool-key.ts): the scientific or the lean Python, node, bash, a one-shot image. */
  readonly pool: PoolKey;
  readonly sessionId: string;
  /** The session's files directory on the host (its /mnt/data). */
  readonly filesDir: string;
  /** The session's home directory on the host (its $HOME). */
  readonly homeDir: string;
  /** Where this runtime's snapshot lives on the host; replaced only by a good run. Null: a one-shot run, no snapshot. */
  readonly stateFile: string | null;
  /** The session's snapshot directory (what is in it counts toward the session's quota). */
  readonly stateDir: string;
  readonly code: string;
  readonly sourceLanguage: Language;
  /** TypeScript: maps `code` (the compiled JavaScript) back to the TypeScript, for tracebacks. */
  readonly sourceMap?: { readonly source: string; readonly mappings: string } | undefined;
  /** The program's command-line arguments (runner-protocol.ts argsProblem has already passed them). */
  readonly args: readonly string[];
  readonly timeoutMs: number;
  readonly maxImages: number;
  readonly onOutput?: ((chunk: OutputChunk) => void) | undefined;
  /** Aborting kills the run (status 'killed'); the files still go back. */
  readonly signal?: AbortSignal | undefined;
}

export interface ExecutorResult {
  readonly status: ExecutionStatus;
  readonly exitCode: number | null;
  readonly stdout: CapturedText;
  readonly stderr: CapturedText;
  readonly frame: ResultFrame | null;
  readonly stateSaved: boolean;
  readonly notice: string | null;
  /** True when the run got a runner started before it was asked for. */
  readonly warm: boolean;
  readonly durationMs: number;
}

/**
 * Reads the session's files where the run left them (`filesDir`), while they are still there.
 * They go back as soon as the returned promise settles, whether it resolves or rejects.
 */
export type InspectFiles<T> = (result: ExecutorResult, filesDir: string) => Promise<T>;

export interface FinishedRun<T> {
  readonly result: ExecutorResult;
  /** What the inspect callback returned. */
  readonly inspected: T;
  /**
   * Resolves once no process of the run is left and the session's files and home are back in place.
   * Keep the session locked until then. (When run() rejects, it has already waited for this.)
   */
  readonly settled: Promise<void>;
}

/** How runs are confined, for /healthz, get_system_info and the log. */
export interface IsolationReport {
  /** One word: 'container' for Docker. */
  readonly mode: string;
  /** Each layer in use and what it is ('runc', 'none', 'ALL dropped'…). */
  readonly layers: Readonly<Record<string, string>>;
}

export interface ExecutorHealth {
  readonly kind: ExecutorKind;
  /** Can a run start now (the Docker engine answers, …)? */
  readonly reachable: boolean;
  /** Why not, in the backend's own words. */
  readonly error?: string;
  readonly isolation: IsolationReport;
}

/** What get_system_info says about the executor. */
export type ExecutorInfo =
  | {
      readonly kind: 'docker';
      readonly engineVersion: string;
      readonly containerRuntime: string;
    }
  | {
      readonly kind: 'process';
      /** The isolation layer in use: 'bwrap', 'landlock', 'weak' or 'none' (runs refused). */
      readonly sandbox: string;
      /** One line: what confines a run here and what is missing. */
      readonly isolation: string;
    };

export type ExecutorKind = ExecutorInfo['kind'];

export interface Executor {
  readonly kind: ExecutorKind;
  /**
   * Puts right what a crashed predecessor left (leftover sandboxes; session files still in a slot go
   * back to `placesOf(sessionId)`, null: the session is gone), then starts warming runners.
   * Only for the data dir's owner (engine/data-dir-owner.ts).
   */
  start(placesOf: (sessionId: string) => SessionPlaces | null): Promise<void>;
  /**
   * Runs the job, calls `inspect` with the result while the session's files are in place, gives them
   * back when inspect settles, and resolves with the result as soon as inspect has returned.
   * Rejects (after the files are back) if the run could not happen or inspect threw.
   */
  run<T>(job: ExecutorJob, inspect: InspectFiles<T>): Promise<FinishedRun<T>>;
  health(): Promise<ExecutorHealth>;
  /** Warm runners ready, per pool. */
  poolSizes(): Readonly<Record<string, number>>;
  /** Per pool: has it had its first ready runner, or did its starts fail before that (for /readyz)? */
  poolWarmth(): Readonly<Record<string, PoolWarmth>>;
  /**
   * The executor itself, each runtime's language and package versions, and each one-shot language's
   * version or that it is not installed (cached per runtime build).
   */
  systemInfo(): Promise<{
    readonly executor: ExecutorInfo;
    readonly runtimes: readonly RuntimeInfo[];
    readonly oneShotLanguages: readonly OneShotLanguageInfo[];
  }>;
  /** Whether runs of this pool can start here (Docker: its image is built); asked before a one-shot run. */
  available(pool: PoolKey): Promise<boolean>;
  /** Kills every run (their sessions keep the last good state), removes every sandbox, puts files back. */
  shutdown(): Promise<void>;
}
