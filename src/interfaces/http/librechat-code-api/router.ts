/**
 * LibreChat's "Code API" (what LIBRECHAT_CODE_BASEURL points at), served by Codecell under /v1,
 * behind the same API keys and LibreChat tokens as the rest of /v1 (mount it after apiKeyAuth). The routes, relative to the base URL:
 *
 *   POST   /exec                                   run code (exec.ts)
 *   POST   /upload, /upload/batch                  files in (uploads.ts)
 *   GET    /download/:session_id/:fileId           raw bytes
 *   GET    /files/:session_id?detail=summary|full  what a session holds (older clients)
 *   GET    /sessions/:session_id/objects/:fileId   one file's lastModified, originalFilename (newer clients)
 *   DELETE /files/:session_id/:fileId, /sessions/:session_id/objects/:fileId
 *
 * They sit beside the /v1/sessions/:session/files routes (files-router.ts) without overlapping:
 * those use the segment "files" under a session, these "objects". Ids: see ids.ts. Who may use
 * which session: see identity.ts. Documentation: docs/librechat-code-api.md.
 */
import express, { type Request, type Response } from 'express';
import { CodecellError } from '../../../errors.js';
import type { EngineApi } from '../../../engine/types.js';
import type { FileEntry, FileService } from '../../../files/file-service.js';
import type { Logger } from '../../../logger.js';
import { AdmittedRuns } from './admitted-runs.js';
import { handleExec } from './exec.js';
import { guardedBy } from '../guarded.js';
import { restRequestErrorHandler } from '../request-errors.js';
import { sendFile } from '../send-file.js';
import { sendApiError } from './http-errors.js';
import { accessSession, accessSessionToChange, callerOf, SessionDirectory, type SessionAccess } from './identity.js';
import { encodeSessionId, fileIdFor, findFileById } from './ids.js';
import { handleBatchUpload, handleUpload } from './uploads.js';

export interface LibreChatCodeApiDeps {
  readonly engine: EngineApi;
  readonly files: FileService;
  readonly logger?: Logger | undefined;
  /** How long sessions live idle (settings.sessions.ttlMs): the directory forgets them as soon. */
  readonly sessionTtlMs: number;
  /** Shared between routers in tests; one per app otherwise. */
  readonly directory?: SessionDirectory | undefined;
}

/** Room for a 1,000,000-character program once JSON-escaped, plus inline files. */
export const EXEC_BODY_LIMIT_BYTES = 16 * 1024 * 1024;

function queryText(req: Request, name: string): string | undefined {
  const value: unknown = req.query[name];
  return typeof value === 'string' ? value : undefined;
}

function param(req: Request, name: string): string {
  return String(req.params[name] ?? '');
}

export function createLibreChatCodeApiRouter(deps: LibreChatCodeApiDeps): express.Router {
  const { engine, files, logger } = deps;
  const directory = deps.directory ?? new SessionDirectory({ ttlMs: deps.sessionTtlMs });
  const shared = { engine, files, directory, logger, admitted: new AdmittedRuns() };
  const router = express.Router();
  const guarded = guardedBy((req, res, error) => sendApiError(req, res, error, logger));

  /**
   * The session named in the URL, for the caller the headers and `?kind=&id=` name: to read it, or
   * to change it (a shared upload of someone else is then "not found").
   */
  const sessionOf = (req: Request, purpose: 'read' | 'change' = 'read'): Promise<SessionAccess> => {
    const caller = callerOf(req, {
      resource: { kind: queryText(req, 'kind'), id: queryText(req, 'id'), version: queryText(req, 'version') },
    });
    const access = purpose === 'read' ? accessSession : accessSessionToChange;
    return access(engine, directory, caller, param(req, 'session_id'));
  };

  /** The session's real files (links are listed by Codecell but never served, so not here). */
  const filesOf = async (access: SessionAccess): Promise<FileEntry[]> =>
    (await files.list(access.principal, access.sessionId)).files.filter((file) => file.kind === 'file');

  const fileOf = async (req: Request, purpose: 'read' | 'change' = 'read'): Promise<{ access: SessionAccess; file: FileEntry }> => {
    const access = await sessionOf(req, purpose);
    const fileId = param(req, 'fileId');
    const file = findFileById(await filesOf(access), fileId);
    if (file === undefined) throw new CodecellError('FILE_NOT_FOUND', `file ${JSON.stringify(fileId.slice(0, 64))} is not in this session`);
    return { access, file };
  };

  router.post('/exec', express.json({ limit: EXEC_BODY_LIMIT_BYTES }), guarded((req, res) => handleExec(shared, req, res)));
  router.post('/upload', guarded((req, res) => handleUpload(shared, req, res)));
  router.post('/upload/batch', guarded((req, res) => handleBatchUpload(shared, req, res)));

  router.get(
    '/download/:session_id/:fileId',
    guarded(async (req, res) => {
      const { access, file } = await fileOf(req);
      await sendFile(req, res, await files.openRead(access.principal, access.sessionId, file.path));
    }),
  );

  router.get(
    '/files/:session_id',
    guarded(async (req, res) => {
      const access = await sessionOf(req);
      const full = queryText(req, 'detail') === 'full';
      const sessionId = encodeSessionId(access.sessionId);
      res.json(
        (await filesOf(access)).map((file) => {
          const summary = { name: `${sessionId}/${fileIdFor(file.path)}`, lastModified: file.mtime };
          if (!full) return summary;
          return {
            ...summary,
            size: file.size,
            metadata: { 'content-type': file.mimeType, 'original-filename': file.path },
          };
        }),
      );
    }),
  );

  router.get(
    '/sessions/:session_id/objects/:fileId',
    guarded(async (req, res) => {
      const { access, file } = await fileOf(req);
      const sessionId = encodeSessionId(access.sessionId);
      res.json({
        lastModified: file.mtime,
        size: file.size,
        contentType: file.mimeType,
        name: file.path,
        // What LibreChat's freshness probe reads as the file's name (its CodeFileInfo).
        originalFilename: file.path,
        fileId: fileIdFor(file.path),
        session_id: sessionId,
        storage_session_id: sessionId,
      });
    }),
  );

  const remove = guarded(async (req: Request, res: Response) => {
    const { access, file } = await fileOf(req, 'change');
    await files.remove(access.principal, access.sessionId, file.path);
    res.status(200).json({ message: 'success', fileId: fileIdFor(file.path) });
  });
  router.delete('/files/:session_id/:fileId', remove);
  router.delete('/sessions/:session_id/objects/:fileId', remove);

  router.use(restRequestErrorHandler({ bytes: EXEC_BODY_LIMIT_BYTES, hint: 'put large data in files (POST /v1/upload)' }));
  return router;
}
