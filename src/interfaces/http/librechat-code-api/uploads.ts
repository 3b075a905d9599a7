/**
 * `POST /upload` and `POST /upload/batch`: files LibreChat puts into the sandbox for later runs.
 * Each request makes a new session that holds exactly its files (as LibreChat's own Code API
 * does), owned by the caller: the user of `User-Id` / X-User-Id, or the agent or skill named by
 * the `kind` and `id` fields. Those fields must come before the file parts (LibreChat sends them
 * first). `entity_id` marks the session as shared under the key (see identity.ts): readable by
 * every request under it, changed by none but its owner. `read_only` is accepted and needs no
 * handling: runs never happen in an upload session, they copy from it (exec.ts), so runs never
 * change an upload.
 *
 * /upload is all-or-nothing (413 when a file is over CODECELL_MAX_FILE_MB); /upload/batch stores
 * what it can and reports each file.
 */
import type { Readable } from 'node:stream';
import type { Request, Response } from 'express';
import { CodecellError } from '../../../errors.js';
import type { EngineApi } from '../../../engine/types.js';
import type { FileService } from '../../../files/file-service.js';
import { parseRelativePath } from '../../../files/safe-path.js';
import type { StagedUpload } from '../../../files/staged-upload.js';
import type { Logger } from '../../../logger.js';
import { receiveMultipart, type MultipartLimits } from '../multipart.js';
import { callerOf, type Caller, type SessionDirectory } from './identity.js';
import { encodeSessionId, fileIdFor } from './ids.js';

export interface UploadDeps {
  readonly engine: EngineApi;
  readonly files: FileService;
  readonly directory: SessionDirectory;
  readonly logger?: Logger | undefined;
}

const UPLOAD_LIMITS: Omit<MultipartLimits, 'maxFileBytes'> = { maxFiles: 100, maxFields: 50, maxFieldBytes: 1024 };
const IDENTITY_FIELDS = new Set(['entity_id', 'kind', 'id', 'version']);

interface UploadSession {
  readonly caller: Caller;
  readonly sessionId: string;
}

interface PartHandlers {
  /** Called once, before the first file, with the fields sent before it. */
  open(fields: ReadonlyMap<string, string>): Promise<UploadSession>;
  /** Stores one file. A rejection is the file's failure; the handler decides whether it ends the upload. */
  file(session: UploadSession, filename: string, content: Readable): Promise<void>;
}

/**
 * Reads a multipart body one file at a time into the session `handlers.open` makes for the first
 * file. Resolves with that session (null when there was no file) once the whole body is read.
 */
async function receiveParts(req: Request, maxFileBytes: number, handlers: PartHandlers): Promise<UploadSession | null> {
  let session: Promise<UploadSession> | null = null;
  await receiveMultipart(
    req,
    {
      limits: { ...UPLOAD_LIMITS, maxFileBytes },
      notMultipartMessage: 'send the file as multipart/form-data in a field named "file"',
    },
    {
      field: (name, _value, filesBefore) => {
        if (filesBefore > 0 && IDENTITY_FIELDS.has(name)) {
          throw new CodecellError('INVALID_INPUT', `send the "${name}" field before the file parts`);
        }
      },
      file: async ({ filename, content, fieldsBefore }) => {
        session ??= handlers.open(fieldsBefore);
        await handlers.file(await session, filename ?? '', content);
      },
    },
  );
  return session === null ? null : await session;
}

/** Makes the upload's session, for the caller the headers and the leading fields name. */
async function openSession(deps: UploadDeps, req: Request, fields: ReadonlyMap<string, string>): Promise<UploadSession> {
  const caller = callerOf(req, { resource: { kind: fields.get('kind'), id: fields.get('id'), version: fields.get('version') } });
  const entityId = fields.get('entity_id');
  const shared = caller.shared || (entityId !== undefined && entityId !== '');
  const created = await deps.engine.createSession(caller.principal);
  deps.directory.remember(created.id, caller, { upload: true, shared });
  return { caller, sessionId: created.id };
}

async function discard(deps: UploadDeps, session: UploadSession | null): Promise<void> {
  if (session === null) return;
  deps.directory.forget(session.sessionId);
  await deps.engine.closeSession(session.caller.principal, session.sessionId).catch(() => undefined);
}

export async function handleUpload(deps: UploadDeps, req: Request, res: Response): Promise<void> {
  // Filled in by the part handlers as the body streams in.
  const state: { opened: UploadSession | null; staged: StagedUpload | null } = { opened: null, staged: null };
  const stored: Array<{ fileId: string; filename: string }> = [];
  try {
    const session = await receiveParts(req, deps.files.maxFileBytes, {
      open: async (fields) => {
        const opened = await openSession(deps, req, fields);
        state.opened = opened;
        state.staged = await deps.files.beginUpload(opened.caller.principal, opened.sessionId);
        return opened;
      },
      file: async (_session, filename, content) => {
        if (state.staged === null) throw new Error('the upload was not begun');
        const target = parseRelativePath(filename);
        await state.staged.add(target, content);
        stored.push({ fileId: fileIdFor(target), filename: target });
      },
    });
    if (session === null || state.staged === null) {
      throw new CodecellError('INVALID_INPUT', 'the upload contains no file (send it in a field named "file")');
    }
    await deps.files.commitUpload(state.staged);
    state.staged = null;
    const id = encodeSessionId(session.sessionId);
    res.status(200).json({ message: 'success', session_id: id, storage_session_id: id, files: stored });
  } catch (error) {
    if (state.staged !== null) await state.staged.abort().catch(() => undefined);
    await discard(deps, state.opened);
    throw error;
  }
}

type BatchEntry =
  | { readonly status: 'success'; readonly fileId: string; readonly filename: string }
  | { readonly status: 'error'; readonly filename: string; readonly error: string };

export async function handleBatchUpload(deps: UploadDeps, req: Request, res: Response): Promise<void> {
  const entries: BatchEntry[] = [];
  const state: { opened: UploadSession | null } = { opened: null };
  let session: UploadSession | null;
  try {
    session = await receiveParts(req, deps.files.maxFileBytes, {
      open: async (fields) => {
        state.opened = await openSession(deps, req, fields);
        return state.opened;
      },
      file: async (current, filename, content) => {
        try {
          const target = parseRelativePath(filename);
          await deps.files.write(current.caller.principal, current.sessionId, target, content);
          entries.push({ status: 'success', fileId: fileIdFor(target), filename: target });
        } catch (error) {
          // One bad file (too large, bad name, over quota) does not sink the others.
          if (!(error instanceof CodecellError) || error.code === 'SESSION_NOT_FOUND') throw error;
          entries.push({ status: 'error', filename, error: error.message });
        }
      },
    });
  } catch (error) {
    await discard(deps, state.opened);
    throw error;
  }
  if (session === null) throw new CodecellError('INVALID_INPUT', 'the upload contains no file (send each in a field named "file")');
  const succeeded = entries.filter((entry) => entry.status === 'success').length;
  const failed = entries.length - succeeded;
  if (succeeded === 0) await discard(deps, session);
  res.status(200).json({
    message: failed === 0 ? 'success' : succeeded === 0 ? 'error' : 'partial_success',
    session_id: encodeSessionId(session.sessionId),
    storage_session_id: encodeSessionId(session.sessionId),
    files: entries,
    succeeded,
    failed,
  });
}
