/**
 * What the interfaces (MCP, REST, CLI) see of Codecell: the Engine and its typed results. The words
 * shared with the lower layers (Language, FileChange, SessionInfo…) are in src/domain/types.ts.
 * One execution: interface → Engine.execute (src/engine/engine.ts) → session lock → job queue →
 * Executor.run, the port (src/executor/executor.ts) → DockerExecutor (src/executor/docker/docker-executor.ts)
 * → warm container → runner → result → engine inspects the files → files back → ExecutionResult.
 */
import type {
  CapturedText,
  ExecutionStatus,
  FileChange,
  HistoryEntry,
  Language,
  OneShotLanguageInfo,
  OutputChunk,
  RuntimeInfo,
  SessionInfo,
} from '../domain/types.js';
import type { ExecutorHealth, ExecutorInfo, PoolWarmth } from '../executor/executor.js';
import type { Principal } from '../sessions/principal.js';

export interface ExecutionError {
  readonly name: string;
  readonly message: string;
  readonly traceback: string;
}

export interface ResultImage {
  readonly name: string;
  readonly mimeType: 'image/png';
  readonly base64: string;
  readonly width: number;
  readonly height: number;
  /**
   * Set when this inline copy was downscaled to the inline budget: the original's size, and the
   * file in /mnt/data that holds it in full (null when it could not be kept).
   */
  readonly fullSize?: { readonly width: number; readonly height: number; readonly bytes: number; readonly path: string | null };
}

/** A cell of a table display: text, a number, a boolean, or null for a missing value. */
export type TableCell = string | number | boolean | null;

/**
 * A rich display the code produced (Python: a pandas DataFrame or Series, an object with
 * _repr_html_), for clients that render it; the text output says the same for models.
 */
/**
 * Where a display's text is in the run's stdout: [start, end) in UTF-16 code units of `stdout.text`;
 * null when unknown (a trailing value, text not found) or when stdout was cut.
 */
export type StdoutSpan = readonly [start: number, end: number] | null;

export type ResultDisplay =
  | {
      readonly type: 'table';
      readonly stdoutSpan: StdoutSpan;
      readonly columns: readonly string[];
      /** Row labels; null for the default 0, 1, 2… index. */
      readonly index: readonly string[] | null;
      /** Names of the index levels (groupby("region") → ["region"]); null when none is named. */
      readonly indexNames: readonly (string | null)[] | null;
      /** Names of the column levels; null when none is named. */
      readonly columnNames: readonly (string | null)[] | null;
      /** At most 200 rows of at most 50 cells; `truncated` when the table had more. */
      readonly rows: readonly (readonly TableCell[])[];
      readonly totalRows: number;
      readonly totalColumns: number;
      readonly truncated: boolean;
    }
  | {
      readonly type: 'html';
      readonly stdoutSpan: StdoutSpan;
      /** Raw HTML from user code: untrusted, to be shown only in a sandboxed frame. */
      readonly html: string;
    };

export interface NotCarriedValue {
  readonly name: string;
  readonly type: string;
  readonly reason: string;
}

/** Changed files counted, not listed one by one: a whole directory's worth. */
export interface FileGroup {
  /** Relative to /mnt/data, ending in '/'; '' for the top level; null for the groups past the cap, merged. */
  readonly directory: string | null;
  /** How many directories the group stands for: 1 unless `directory` is null. */
  readonly directories: number;
  readonly files: number;
  readonly bytes: number;
}

/** A VCS or cache directory (.git/, __pycache__/, node_modules/…) folded into one line. */
export interface FoldedFiles extends FileGroup {
  /** What the directory is, for people: "git repository", "Python bytecode cache". */
  readonly label: string;
}

/** The changed files a result does not list one by one; list_files (or code) shows them all. */
export interface UnlistedFiles {
  readonly folded: readonly FoldedFiles[];
  /** Past the listing limit, counted per top-level directory. */
  readonly omitted: readonly FileGroup[];
}

export interface ExecutionResult {
  readonly sessionId: string;
  readonly language: Language;
  readonly status: ExecutionStatus;
  readonly exitCode: number | null;
  readonly stdout: CapturedText;
  readonly stderr: CapturedText;
  /** Repr of the trailing expression (Python, JS/TS), else null. */
  readonly value: string | null;
  readonly error: ExecutionError | null;
  readonly images: readonly ResultImage[];
  readonly imagesOmitted: number;
  /** Tables and HTML the code displayed, in output order. */
  readonly displays: readonly ResultDisplay[];
  /** At most the listing limit (CODECELL_MAX_LISTED_FILES); the rest are counted in `unlistedFiles`. */
  readonly files: readonly FileChange[];
  readonly unlistedFiles: UnlistedFiles;
  readonly notCarried: readonly NotCarriedValue[];
  /** True when this run's interpreter state was saved for the next run. */
  readonly stateSaved: boolean;
  /** Plain-language remark for the model: timeout, OOM, quota, state kept from before. */
  readonly notice: string | null;
  readonly durationMs: number;
  readonly queuedMs: number;
}

export interface ExecuteRequest {
  readonly principal: Principal;
  /** Absent: the principal's default session (created on first use). */
  readonly sessionId?: string | undefined;
  readonly language: Language;
  readonly code: string;
  /** Command-line arguments for the program: sys.argv[1:], process.argv.slice(2), "$@". */
  readonly args?: readonly string[] | undefined;
  /** May lower the configured limit, never raise it. */
  readonly timeoutMs?: number | undefined;
  readonly onOutput?: ((chunk: OutputChunk) => void) | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface SystemInfo {
  readonly codecellVersion: string;
  readonly executor: ExecutorInfo;
  readonly languages: readonly Language[];
  readonly runtimes: readonly RuntimeInfo[];
  readonly oneShotLanguages: readonly OneShotLanguageInfo[];
  readonly limits: {
    readonly timeoutSeconds: number;
    readonly maxOutputChars: number;
    readonly memoryMb: number;
    readonly cpus: number;
    readonly pidsLimit: number;
    readonly maxFileMb: number;
    readonly sessionQuotaMb: number;
    readonly maxImagesPerRun: number;
    readonly sessionTtlSeconds: number;
    readonly maxSessions: number;
    /** /tmp's size where it is a memory-backed tmpfs of its own (Docker); null where /tmp is disk counted in the session's quota. */
    readonly tmpMb: number | null;
  };
  readonly network: 'none';
  readonly workingDirectory: '/mnt/data';
}

export interface HealthReport {
  readonly ok: boolean;
  /** Which executor runs code, whether it can now, and how runs are confined. */
  readonly executor: ExecutorHealth;
  /** The same reachability, under the name clients before the executor port read (Docker executor only). */
  readonly docker?: { readonly reachable: boolean; readonly error?: string };
  readonly pool: Readonly<Record<string, number>>;
  readonly queue: { readonly running: number; readonly waiting: number };
}

/** Whether the server can take work now (/readyz): the executor answers and every warm pool had its first runner. */
export interface ReadinessReport {
  readonly ready: boolean;
  /** Why not, when not ready. */
  readonly reason?: string;
  readonly pools: Readonly<Record<string, PoolWarmth>>;
}

/** What the interfaces call. Implemented by Engine (src/engine/engine.ts). */
export interface EngineApi {
  execute(request: ExecuteRequest): Promise<ExecutionResult>;
  /**
   * Throws QUEUE_FULL (or SHUTTING_DOWN) when a run asked for now would be refused: an interface
   * calls it before doing work for a run (making a session, copying its inputs). `reserved`: runs
   * the interface has admitted that way and not yet handed to execute, which take room too.
   */
  assertRoom(reserved?: number): void;
  createSession(principal: Principal): Promise<SessionInfo>;
  listSessions(principal: Principal): Promise<SessionInfo[]>;
  /** Throws SESSION_NOT_FOUND for unknown, expired or foreign sessions. */
  getHistory(principal: Principal, sessionId: string): Promise<{ session: SessionInfo; history: HistoryEntry[] }>;
  /** Forgets the session's variables in every language; its files stay. */
  resetSession(principal: Principal, sessionId: string | undefined): Promise<SessionInfo>;
  /** Deletes the session with its files and state. */
  closeSession(principal: Principal, sessionId: string): Promise<void>;
  /** The session id a call without session_id would use (creates the default session if needed). */
  resolveSessionId(principal: Principal, sessionId: string | undefined): Promise<string>;
  systemInfo(): Promise<SystemInfo>;
  health(): Promise<HealthReport>;
  readiness(): Promise<ReadinessReport>;
  /** Stops taking work, cancels queued jobs, kills running containers, removes every container. */
  shutdown(): Promise<void>;
}
