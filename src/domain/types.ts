/**
 * The words every layer shares: languages, run statuses, captured output, file changes, sessions and
 * their history, runtimes. Executor, sessions and files import them from here; the engine's own
 * types (requests, results, health, the EngineApi) are in src/engine/types.ts.
 */
export const LANGUAGES = ['python', 'javascript', 'typescript', 'bash'] as const;
export type Language = (typeof LANGUAGES)[number];

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
