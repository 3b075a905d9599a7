/**
 * `POST /exec`: one run, the LibreChat way.
 *
 *   body → language (py/js/ts/bash and their long names) → caller → the session to run in
 *   (session_id if the caller may use it, else the one remembered for runtime_session_hint, else a
 *   new one) → files[] copied into its /mnt/data → Engine.execute (args travel in the runner's job
 *   line, so the code runs as sent) → plots saved as files
 *   → {session_id, stdout, stderr, files, code, signal, status, wall_time}, HTTP 200 however the
 *   program ended.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { CodecellError } from '../../../errors.js';
import type { EngineApi, ExecutionResult, Language } from '../../../engine/types.js';
import type { FileService } from '../../../files/file-service.js';
import { parseRelativePath } from '../../../files/safe-path.js';
import type { Logger } from '../../../logger.js';
import { argsProblem, MAX_ARGS } from '../../../executor/runner-protocol.js';
import {
  accessSession,
  callerAs,
  callerOf,
  checkedIdentity,
  sharedIdentity,
  type Caller,
  type SessionAccess,
  type SessionDirectory,
} from './identity.js';
import { encodeSessionId, fileIdFor, findFileById } from './ids.js';

export interface ExecDeps {
  readonly engine: EngineApi;
  readonly files: FileService;
  readonly directory: SessionDirectory;
  readonly logger?: Logger | undefined;
}

/** A Map, not an object literal: a name like `__proto__` or `constructor` must not find anything. */
const LANGUAGE_ALIASES: ReadonlyMap<string, Language> = new Map<string, Language>([
  ['py', 'python'],
  ['python', 'python'],
  ['python3', 'python'],
  ['js', 'javascript'],
  ['javascript', 'javascript'],
  ['node', 'javascript'],
  ['nodejs', 'javascript'],
  ['ts', 'typescript'],
  ['typescript', 'typescript'],
  ['bash', 'bash'],
  ['sh', 'bash'],
  ['shell', 'bash'],
]);

export const MAX_INPUT_FILES = 100;
const MAX_HINT_CHARS = 200;
/** LibreChat downloads every listed file right after the run: a run that writes thousands is cut here. */
export const MAX_LISTED_FILES = 50;

const optionalText = z.string().nullish();

const FileRefSchema = z.object({
  id: optionalText,
  name: optionalText,
  /** Old shape. */
  session_id: optionalText,
  /** New shape. */
  storage_session_id: optionalText,
  resource_id: optionalText,
  kind: optionalText,
  version: z.union([z.string(), z.number()]).nullish(),
  /** Inline content instead of a stored file. */
  content: optionalText,
  encoding: z.enum(['utf8', 'utf-8', 'base64', 'hex']).nullish(),
});
type FileRef = z.infer<typeof FileRefSchema>;

const ExecBodySchema = z.object({
  lang: z.string(),
  code: z.string(),
  args: z.array(z.string()).max(MAX_ARGS).nullish(),
  user_id: optionalText,
  files: z.array(FileRefSchema).max(MAX_INPUT_FILES).nullish(),
  session_id: optionalText,
  runtime_session_hint: optionalText,
  /** Milliseconds; may lower the server's limit, never raise it. */
  timeout: z.number().nullish(),
  run_timeout: z.number().nullish(),
  stdin: optionalText,
});
type ExecBody = z.infer<typeof ExecBodySchema>;

export interface ExecFileEntry {
  readonly id: string;
  readonly name: string;
  readonly path: string;
  readonly storage_session_id: string;
}

export interface ExecResponse {
  readonly session_id: string;
  readonly stdout: string;
  readonly stderr: string;
  readonly files: ExecFileEntry[];
  readonly code: number | null;
  readonly signal: string | null;
  readonly status: ExecutionResult['status'];
  readonly wall_time: number;
}

export function parseExecBody(raw: unknown): ExecBody {
  const parsed = ExecBodySchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .slice(0, 5)
      .map((issue) => `${issue.path.length > 0 ? issue.path.join('.') : 'body'}: ${issue.message}`)
      .join('; ');
    throw new CodecellError('INVALID_INPUT', `invalid /exec request: ${problems}`);
  }
  return parsed.data;
}

/** `py` → python, …; anything else is INVALID_INPUT "Unsupported language: X". */
export function languageOf(lang: string): Language {
  const language = LANGUAGE_ALIASES.get(lang.trim().toLowerCase());
  if (language === undefined) throw new CodecellError('INVALID_INPUT', `Unsupported language: ${lang.slice(0, 40)}`);
  return language;
}

function timeoutOf(body: ExecBody): number | undefined {
  const timeout = body.timeout ?? body.run_timeout ?? undefined;
  if (timeout === undefined) return undefined;
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new CodecellError('INVALID_INPUT', 'timeout must be a positive number of milliseconds');
  }
  return timeout;
}

function isNotFound(error: unknown): boolean {
  return error instanceof CodecellError && (error.code === 'SESSION_NOT_FOUND' || error.code === 'FILE_NOT_FOUND');
}

/** The session this run uses; a new one when the request names none it may use. */
async function execSession(deps: ExecDeps, caller: Caller, body: ExecBody): Promise<SessionAccess> {
  const { engine, directory } = deps;
  const hint = body.runtime_session_hint ?? undefined;
  if (hint !== undefined && (hint.length > MAX_HINT_CHARS || !/^[\x20-\x7e]+$/.test(hint))) {
    throw new CodecellError('INVALID_INPUT', `runtime_session_hint must be 1 to ${MAX_HINT_CHARS} printable ASCII characters`);
  }
  const remember = (access: SessionAccess): SessionAccess => {
    if (hint !== undefined && access.principal.id === caller.principal.id) directory.rememberHint(caller, hint, access.sessionId);
    return access;
  };
  const requested = body.session_id ?? undefined;
  if (requested !== undefined && requested !== '') {
    try {
      return remember(await accessSession(engine, directory, caller, requested));
    } catch (error) {
      // An expired or unknown session_id starts afresh (LibreChat re-sends the files it needs).
      if (!isNotFound(error)) throw error;
    }
  }
  if (hint !== undefined) {
    const hinted = directory.hinted(caller, hint);
    if (hinted !== undefined) {
      try {
        await engine.resolveSessionId(caller.principal, hinted);
        return { sessionId: hinted, principal: caller.principal };
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }
  const created = await engine.createSession(caller.principal);
  directory.remember(created.id, caller);
  return remember({ sessionId: created.id, principal: caller.principal });
}

function decodeInline(ref: FileRef, content: string): Buffer {
  const encoding = ref.encoding ?? 'utf8';
  if (encoding === 'base64') return Buffer.from(content, 'base64');
  if (encoding === 'hex') return Buffer.from(content, 'hex');
  return Buffer.from(content, 'utf8');
}

/** Who owns the storage session a files[] entry names. */
function storageCallerOf(caller: Caller, ref: FileRef): Caller {
  const kind = ref.kind ?? undefined;
  const resourceId = ref.resource_id ?? undefined;
  const version = ref.version ?? undefined;
  const shared = sharedIdentity({ kind, id: resourceId, version });
  if (shared !== null) return callerAs(caller, shared, true);
  // kind "user": the user is the caller; a caller that names no user takes the entry's.
  if (caller.identity === null && kind === 'user' && resourceId !== undefined && resourceId !== '') {
    return callerAs(caller, checkedIdentity(resourceId, 'resource_id'), false);
  }
  return caller;
}

/**
 * Puts every files[] entry into the run's /mnt/data under its `name`: inline content is written,
 * a stored file is copied from its session (opened without following links, streamed, written
 * through the file service with its limits). Entries whose session or file is gone are skipped
 * with a note for stderr, so one expired input does not fail the run.
 */
async function stageInputs(deps: ExecDeps, caller: Caller, run: SessionAccess, refs: readonly FileRef[]): Promise<string[]> {
  const { engine, files, directory } = deps;
  const notes: string[] = [];
  for (const ref of refs) {
    const name = ref.name ?? '';
    if (name === '') throw new CodecellError('INVALID_INPUT', 'every files[] entry needs a name');
    const target = parseRelativePath(name);
    if (ref.content !== undefined && ref.content !== null) {
      await files.write(run.principal, run.sessionId, target, decodeInline(ref, ref.content));
      continue;
    }
    const storageParam = ref.storage_session_id ?? ref.session_id ?? '';
    const fileId = ref.id ?? '';
    if (storageParam === '' || fileId === '') {
      throw new CodecellError('INVALID_INPUT', `files[] entry "${name}" needs an id and a session_id (or storage_session_id)`);
    }
    let source: SessionAccess;
    let sourcePath: string;
    try {
      source = await accessSession(engine, directory, storageCallerOf(caller, ref), storageParam);
      const listing = await files.list(source.principal, source.sessionId);
      const entry = findFileById(listing.files.filter((file) => file.kind === 'file'), fileId);
      if (entry === undefined) throw new CodecellError('FILE_NOT_FOUND', 'no such file');
      sourcePath = entry.path;
    } catch (error) {
      if (!isNotFound(error)) throw error;
      notes.push(`codecell: input file ${JSON.stringify(name)} is no longer available (its session expired or the file was deleted), so it is not in /mnt/data; upload it again.`);
      continue;
    }
    if (source.sessionId === run.sessionId && sourcePath === target) continue;
    const opened = await files.openRead(source.principal, source.sessionId, sourcePath);
    try {
      await files.write(run.principal, run.sessionId, target, opened.stream);
    } finally {
      opened.stream.destroy();
    }
  }
  return notes;
}

function capturedText(text: string, truncatedChars: number): string {
  return truncatedChars > 0 ? `${text}\n[${truncatedChars} characters cut from the middle]\n` : text;
}

function errorText(result: ExecutionResult): string | null {
  const error = result.error;
  if (error === null) return null;
  const headline = `${error.name}: ${error.message}`;
  const traceback = error.traceback.trimEnd();
  // The runner may have printed the traceback to stderr already.
  if (traceback.length > 0 && result.stderr.text.includes(traceback)) return null;
  if (traceback.length === 0) return result.stderr.text.includes(headline) ? null : headline;
  return traceback.endsWith(headline) ? traceback : `${headline}\n${traceback}`;
}

function joinBlocks(blocks: ReadonlyArray<string | null>): string {
  const present = blocks.filter((block): block is string => block !== null && block.length > 0);
  return present.map((block, index) => (index < present.length - 1 && !block.endsWith('\n') ? `${block}\n` : block)).join('');
}

/**
 * Figures the run showed become plot-N.png in the session (N unused so far), so that LibreChat,
 * which only shows files, shows them. The runner also renders figures left open, and code that
 * follows LibreChat's advice saves its plots with plt.savefig() and leaves them open: when the run
 * wrote image files itself, its figures are taken to be those and are not saved a second time.
 */
async function savePlots(
  deps: ExecDeps,
  run: SessionAccess,
  result: ExecutionResult,
): Promise<{ saved: string[]; notes: string[] }> {
  const changed = new Set(result.files.map((file) => file.path));
  if (result.files.some((file) => file.kind === 'file' && file.mimeType.startsWith('image/'))) return { saved: [], notes: [] };
  const shown = result.images.filter((image) => !changed.has(image.name));
  if (shown.length === 0) return { saved: [], notes: [] };
  const existing = new Set((await deps.files.list(run.principal, run.sessionId)).files.map((file) => file.path));
  const saved: string[] = [];
  const notes: string[] = [];
  let number = 1;
  for (const image of shown) {
    while (existing.has(`plot-${number}.png`)) number += 1;
    const name = `plot-${number}.png`;
    existing.add(name);
    try {
      await deps.files.write(run.principal, run.sessionId, name, Buffer.from(image.base64, 'base64'));
      saved.push(name);
    } catch (error) {
      if (!(error instanceof CodecellError)) throw error;
      notes.push(`codecell: a figure could not be saved as ${name}: ${error.message}`);
    }
  }
  return { saved, notes };
}

export async function handleExec(deps: ExecDeps, req: Request, res: Response): Promise<void> {
  const body = parseExecBody(req.body);
  const language = languageOf(body.lang);
  if (body.stdin !== undefined && body.stdin !== null && body.stdin !== '') {
    throw new CodecellError('INVALID_INPUT', 'stdin is not supported: programs here have no standard input; write the data to a file in /mnt/data instead');
  }
  const args = body.args ?? [];
  const argsRefused = argsProblem(args);
  if (argsRefused !== undefined) throw new CodecellError('INVALID_INPUT', argsRefused);
  const timeoutMs = timeoutOf(body);
  const caller = callerOf(req, { bodyUserId: body.user_id ?? undefined });
  const run = await execSession(deps, caller, body);
  const inputNotes = await stageInputs(deps, caller, run, body.files ?? []);

  // A client that goes away stops waiting in the queue (and its run, if it started).
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  const result = await deps.engine.execute({
    principal: run.principal,
    sessionId: run.sessionId,
    language,
    code: body.code,
    args,
    timeoutMs,
    signal: abort.signal,
  });
  const plots = await savePlots(deps, run, result);

  const storageSessionId = encodeSessionId(run.sessionId);
  const entry = (relativePath: string): ExecFileEntry => ({
    id: fileIdFor(relativePath),
    name: relativePath,
    path: `/mnt/data/${relativePath}`,
    storage_session_id: storageSessionId,
  });
  // Links made in the sandbox are never served, so they are not offered for download.
  const produced = result.files.filter((file) => file.kind === 'file').map((file) => entry(file.path));
  const room = Math.max(0, MAX_LISTED_FILES - plots.saved.length);
  const unlisted = Math.max(0, produced.length - room);
  const response: ExecResponse = {
    session_id: storageSessionId,
    stdout: capturedText(result.stdout.text, result.stdout.truncatedChars),
    stderr: joinBlocks([
      ...inputNotes,
      capturedText(result.stderr.text, result.stderr.truncatedChars),
      errorText(result),
      result.notice,
      ...plots.notes,
      unlisted > 0 ? `codecell: ${unlisted} more changed file(s) are in /mnt/data but not listed (at most ${MAX_LISTED_FILES} per run).` : null,
    ]),
    files: [...produced.slice(0, room), ...plots.saved.map(entry)],
    code: result.exitCode,
    signal: result.status === 'timeout' || result.status === 'oom' || result.status === 'killed' ? 'SIGKILL' : null,
    status: result.status,
    wall_time: result.durationMs,
  };
  res.status(200).json(response);
}
