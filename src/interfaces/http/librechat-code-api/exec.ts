/**
 * `POST /exec`: one run, the LibreChat way.
 *
 *   body → language (LibreChat's 13 codes and the long names), files[] entries checked → caller
 *   → admission (a busy server answers 429 here, before any work) → the session to run in
 *   → inputs copied into its /mnt/data → Engine.execute (args travel in the runner's job line,
 *   so the code runs as sent) → plots saved as files
 *   → {session_id, stdout, stderr, files, code, signal, status, wall_time}, HTTP 200 however the
 *   program ended.
 *
 * Runs happen only in the caller's own sessions. session_id names the run session when the caller
 * may change it and it is not an upload; an upload, or a session the caller may only read (an
 * agent's, skill's or entity_id upload), is a read-only source instead: its files are copied into
 * the caller's run session (the one remembered for runtime_session_hint, else a new one), so no run
 * ever changes an upload or reaches into a session it shares with other users. A new session made
 * for a run that then fails before running is closed again.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { CodecellError } from '../../../errors.js';
import type { Language } from '../../../domain/types.js';
import type { EngineApi, ExecutionResult } from '../../../engine/types.js';
import type { FileService } from '../../../files/file-service.js';
import type { Logger } from '../../../logger.js';
import { argsProblem, codeTextProblem, MAX_ARGS } from '../../../executor/runner-protocol.js';
import { accessSession, callerOf, type Caller, type SessionAccess, type SessionDirectory } from './identity.js';
import type { AdmittedRuns } from './admitted-runs.js';
import { encodeSessionId, fileIdFor } from './ids.js';
import { checkedInputs, FileRefSchema, isNotFound, stageInputs } from './run-inputs.js';
import { describeError, describeUnlisted } from '../../execution-text.js';
import { languageNamed, LIBRECHAT_LANGUAGE_CODES } from '../../language-codes.js';

export interface ExecDeps {
  readonly engine: EngineApi;
  readonly files: FileService;
  readonly directory: SessionDirectory;
  /** Runs admitted and still being prepared: one per router. */
  readonly admitted: AdmittedRuns;
  readonly logger?: Logger | undefined;
}


export const MAX_INPUT_FILES = 100;
const MAX_HINT_CHARS = 200;

const optionalText = z.string().nullish();

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

/** `py` → python, `rs` → rust, `f90` → fortran, …; anything else is INVALID_INPUT "Unsupported language: X". */
export function languageOf(lang: string): Language {
  const language = languageNamed(lang);
  if (language === undefined) {
    throw new CodecellError(
      'INVALID_INPUT',
      `Unsupported language: ${lang.slice(0, 40)}. Supported: ${[...LIBRECHAT_LANGUAGE_CODES.keys()].join(', ')}`,
    );
  }
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

function checkedHint(body: ExecBody): string | undefined {
  const hint = body.runtime_session_hint ?? undefined;
  if (hint !== undefined && (hint.length > MAX_HINT_CHARS || !/^[\x20-\x7e]+$/.test(hint))) {
    throw new CodecellError('INVALID_INPUT', `runtime_session_hint must be 1 to ${MAX_HINT_CHARS} printable ASCII characters`);
  }
  return hint;
}

/** Where a run happens, and what it copies in first. */
interface RunPlan {
  /** Always a session the caller may change, and never an upload. */
  readonly run: SessionAccess;
  /** True when this request made the run session: it is closed again if the request fails before its run. */
  readonly created: boolean;
  /** The session session_id named when the run may not happen in it: its files are copied in. */
  readonly source: SessionAccess | null;
}

/** The caller's run session: session_id if the caller may run in it, else the hinted one, else a new one. */
async function planRun(deps: ExecDeps, caller: Caller, body: ExecBody, hint: string | undefined): Promise<RunPlan> {
  const { engine, directory } = deps;
  let source: SessionAccess | null = null;
  const requested = body.session_id ?? undefined;
  if (requested !== undefined && requested !== '') {
    try {
      const named = await accessSession(engine, directory, caller, requested);
      if (named.writable && !named.upload) return { run: named, created: false, source: null };
      source = named;
    } catch (error) {
      // An expired or unknown session_id starts afresh (LibreChat re-sends the files it needs).
      if (!isNotFound(error)) throw error;
    }
  }
  if (hint !== undefined) {
    const hinted = directory.hinted(caller, hint);
    if (hinted !== undefined && !directory.isUpload(hinted)) {
      try {
        await engine.resolveSessionId(caller.principal, hinted);
        return { run: { sessionId: hinted, principal: caller.principal, writable: true, upload: false }, created: false, source };
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }
  const created = await engine.createSession(caller.principal);
  directory.remember(created.id, caller, { upload: false, shared: false });
  return { run: { sessionId: created.id, principal: caller.principal, writable: true, upload: false }, created: true, source };
}

/** Closes a session this request made for a run that never happened. */
async function discardRunSession(deps: ExecDeps, run: SessionAccess): Promise<void> {
  deps.directory.forget(run.sessionId);
  await deps.engine.closeSession(run.principal, run.sessionId).catch((error: unknown) => {
    deps.logger?.warn({ err: error, session: run.sessionId }, 'could not close the session of a failed /exec');
  });
}

function errorText(result: ExecutionResult): string | null {
  const error = result.error;
  if (error === null) return null;
  const traceback = error.traceback.trimEnd();
  // The runner may have printed the traceback to stderr already.
  if (traceback.length > 0 && result.stderr.text.includes(traceback)) return null;
  if (traceback.length === 0 && result.stderr.text.includes(`${error.name}: ${error.message}`)) return null;
  return describeError(error);
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
  // A shown figure too large to send inline is a file in full already (figure-N-full-size.png): the
  // engine wrote that one, not the code, and the figure needs no plot-N.png.
  const keptInFull = new Map<string, string>();
  for (const image of result.images) {
    const fullPath = image.fullSize?.path;
    if (fullPath !== undefined && fullPath !== null && fullPath !== image.name) keptInFull.set(fullPath, image.name);
  }
  const codeWroteImages = result.files.some(
    (file) => file.kind === 'file' && file.mimeType.startsWith('image/') && !keptInFull.has(file.path),
  );
  if (codeWroteImages) return { saved: [], notes: [] };
  const shownInFull = new Set(keptInFull.values());
  const shown = result.images.filter((image) => !changed.has(image.name) && !shownInFull.has(image.name));
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

const NAMED_FAILED_FILES = 5;

/** Says which files a failed run wrote and that they are not delivered; null when it wrote none. */
export function failedRunFilesNote(names: readonly string[], more: boolean): string | null {
  if (names.length === 0 && !more) return null;
  const shown = names.slice(0, NAMED_FAILED_FILES).join(', ');
  const rest = names.length > NAMED_FAILED_FILES || more ? ' and more' : '';
  return `codecell: the run failed, so the files it wrote (${shown}${rest}) are not delivered; fix the error and run again to produce them.`;
}

export async function handleExec(deps: ExecDeps, req: Request, res: Response): Promise<void> {
  // Only a JSON body is parsed; any other is not read at all (400, as the upload routes answer a non-multipart body).
  if (!req.is('application/json')) throw new CodecellError('INVALID_INPUT', 'send a JSON body with Content-Type: application/json');
  const body = parseExecBody(req.body);
  const language = languageOf(body.lang);
  if (body.stdin !== undefined && body.stdin !== null && body.stdin !== '') {
    throw new CodecellError('INVALID_INPUT', 'stdin is not supported: programs here have no standard input; write the data to a file in /mnt/data instead');
  }
  const args = body.args ?? [];
  // The engine checks these too; here they are refused before a session is made or a file copied.
  const textRefused = codeTextProblem(body.code) ?? argsProblem(args);
  if (textRefused !== undefined) throw new CodecellError('INVALID_INPUT', textRefused);
  const timeoutMs = timeoutOf(body);
  const hint = checkedHint(body);
  const inputs = checkedInputs(body.files ?? []);
  const caller = callerOf(req, { bodyUserId: body.user_id ?? undefined });
  // Admission before any work: a busy server refuses here, before a session is made or a byte
  // copied. The place is held until the run is handed to the engine (or given up).
  const handOver = deps.admitted.admit(deps.engine);
  let plan: RunPlan;
  try {
    plan = await planRun(deps, caller, body, hint);
  } catch (error) {
    handOver();
    throw error;
  }
  const run = plan.run;

  // A client that goes away stops waiting in the queue (and its run, if it started).
  const abort = new AbortController();
  res.on('close', () => {
    if (!res.writableFinished) abort.abort();
  });
  let inputNotes: string[];
  let result: ExecutionResult;
  try {
    inputNotes = await stageInputs(deps, caller, run, plan.source, inputs);
    const running = deps.engine.execute({
      principal: run.principal,
      sessionId: run.sessionId,
      language,
      code: body.code,
      args,
      timeoutMs,
      signal: abort.signal,
    });
    handOver(); // execute has made its own check for room: from here the engine counts this run
    result = await running;
  } catch (error) {
    handOver();
    if (plan.created) await discardRunSession(deps, run);
    throw error;
  }
  if (hint !== undefined && run.principal.id === caller.principal.id) deps.directory.rememberHint(caller, hint, run.sessionId);
  // LibreChat tells the model that "failed executions register nothing": a run that did not end
  // ok lists no files (and saves no plots); what it wrote stays in the session, unlisted.
  const failed = result.status !== 'ok';
  const plots = failed ? { saved: [], notes: [] } : await savePlots(deps, run, result);

  const storageSessionId = encodeSessionId(run.sessionId);
  const entry = (relativePath: string): ExecFileEntry => ({
    id: fileIdFor(relativePath),
    name: relativePath,
    path: `/mnt/data/${relativePath}`,
    storage_session_id: storageSessionId,
  });
  // Links made in the sandbox are never served, so they are not offered for download. LibreChat
  // downloads every listed file right after the run: the engine has bounded the list
  // (CODECELL_MAX_LISTED_FILES), and the rest are named per directory in stderr, still listed by
  // GET /files/:session_id.
  const produced = result.files.filter((file) => file.kind === 'file').map((file) => entry(file.path));
  const unlisted = failed ? [] : describeUnlisted(result.unlistedFiles);
  const response: ExecResponse = {
    session_id: storageSessionId,
    stdout: result.stdout.text, // a cut one says so in the text (output-capture.ts)
    stderr: joinBlocks([
      ...inputNotes,
      result.stderr.text,
      errorText(result),
      result.notice,
      ...plots.notes,
      unlisted.length > 0
        ? `codecell: not every changed file is listed; the session's file list has them all:\n${unlisted.map((line) => `  ${line}`).join('\n')}`
        : null,
      failed ? failedRunFilesNote(produced.map((file) => file.name), describeUnlisted(result.unlistedFiles).length > 0) : null,
    ]),
    files: failed ? [] : [...produced, ...plots.saved.map(entry)],
    code: result.exitCode,
    signal: result.status === 'timeout' || result.status === 'oom' || result.status === 'killed' ? 'SIGKILL' : null,
    status: result.status,
    wall_time: result.durationMs,
  };
  res.status(200).json(response);
}
