/**
 * What the interfaces (MCP, REST, CLI) see of Codecell: the Engine and its typed results.
 * One execution: interface → Engine.execute (src/engine/engine.ts) → session lock → job queue →
 * DockerExecutor.run (src/executor/docker/docker-executor.ts) → warm container → runner → result.
 */
import type { Principal } from '../sessions/principal.js';

/** Languages whose runs keep state (variables, functions) in the session from one run to the next. */
export const STATEFUL_LANGUAGES = ['python', 'javascript', 'typescript', 'bash'] as const;
/**
 * One-shot languages: each run compiles (where the language needs it) and runs a whole program;
 * nothing but the session's files carries over (images/PROTOCOL.md, "One-shot runner").
 */
export const ONE_SHOT_LANGUAGES = ['c', 'cpp', 'go', 'java', 'rust', 'php', 'r', 'd', 'fortran'] as const;
export const LANGUAGES = [...STATEFUL_LANGUAGES, ...ONE_SHOT_LANGUAGES] as const;
export type Language = (typeof LANGUAGES)[number];
export type OneShotLanguage = (typeof ONE_SHOT_LANGUAGES)[number];

export function isOneShot(language: Language): language is OneShotLanguage {
  return (ONE_SHOT_LANGUAGES as readonly string[]).includes(language);
}

export const EXECUTION_STATUSES = ['ok', 'error', 'timeout', 'oom', 'killed'] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

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

export interface NotCarriedValue {
  readonly name: string;
  readonly type: string;
  readonly reason: string;
}

export interface FileChange {
  /** Relative to /mnt/data, '/'-separated. */
  readonly path: string;
  readonly size: number;
  readonly mimeType: string;
  readonly change: 'created' | 'modified';
  /** Links made in the sandbox are listed, never served. */
  readonly kind: 'file' | 'symlink' | 'hardlink';
  /** Signed download link, when the server knows its public URL. */
  readonly downloadUrl?: string;
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

export interface CapturedText {
  readonly text: string;
  /** Characters cut from the middle (head and tail are kept). 0 when nothing was cut. */
  readonly truncatedChars: number;
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

export interface OutputChunk {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
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

export interface SessionInfo {
  readonly id: string;
  readonly createdAt: string;
  readonly lastUsedAt: string;
  readonly expiresAt: string;
  readonly isDefault: boolean;
  readonly executions: number;
}

export interface HistoryEntry {
  readonly at: string;
  readonly language: Language;
  readonly code: string;
  readonly status: ExecutionStatus;
  readonly durationMs: number;
  readonly stdoutPreview: string;
  readonly errorName: string | null;
}

export interface RuntimeInfo {
  readonly runtime: 'python' | 'node' | 'bash';
  readonly image: string;
  readonly languageVersion: string;
  readonly packages: Readonly<Record<string, string>>;
}

/** A one-shot language as get_system_info reports it: its image, and its version when that is installed. */
export interface OneShotLanguageInfo {
  readonly language: OneShotLanguage;
  readonly image: string;
  readonly installed: boolean;
  /** The compiler's or interpreter's version (gcc, go, javac, rustc, php, R); null when not installed. */
  readonly version: string | null;
}

export interface SystemInfo {
  readonly codecellVersion: string;
  readonly executor: { readonly kind: 'docker'; readonly engineVersion: string; readonly containerRuntime: string };
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
  };
  readonly network: 'none';
  readonly workingDirectory: '/mnt/data';
}

export interface HealthReport {
  readonly ok: boolean;
  readonly docker: { readonly reachable: boolean; readonly error?: string };
  readonly pool: Readonly<Record<string, number>>;
  readonly queue: { readonly running: number; readonly waiting: number };
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
  /** Stops taking work, cancels queued jobs, kills running containers, removes every container. */
  shutdown(): Promise<void>;
}
