/**
 * The words every layer shares: languages, run statuses, captured output, file changes, sessions and
 * their history, runtimes. Executor, sessions and files import them from here; the engine's own
 * types (requests, results, health, the EngineApi) are in src/engine/types.ts.
 */
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

export interface CapturedText {
  readonly text: string;
  /** Characters cut from the middle (head and tail are kept). 0 when nothing was cut. */
  readonly truncatedChars: number;
}

export interface OutputChunk {
  readonly stream: 'stdout' | 'stderr';
  readonly text: string;
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
