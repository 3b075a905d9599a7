/**
 * REST routes for a session's files (mounted under /v1 behind the API-key check), and the signed
 * download route (mounted without it: the link is the permission). `:session` may be the word
 * `default`, the caller's default session. Failures answer `{error: CODE, message}` with the
 * status errors.ts gives the code; someone else's session is 404 exactly like a missing one.
 */
import express, { type Request } from 'express';
import { CodecellError, type CodecellErrorCode } from '../../errors.js';
import type { FileService, StoredFile } from '../../files/file-service.js';
import type { StagedUpload } from '../../files/staged-upload.js';
import type { Logger } from '../../logger.js';
import type { Principal } from '../../sessions/principal.js';
import { guardedBy } from './guarded.js';
import { sendJsonError } from './json-error.js';
import { receiveMultipart, type MultipartLimits } from './multipart.js';
import { restRequestErrorHandler } from './request-errors.js';
import { sendFile } from './send-file.js';
import { sessionIdFrom } from '../session-word.js';

export interface FilesRouterDeps {
  readonly files: FileService;
  readonly principalOf: (req: Request) => Principal;
  /** Where unexpected failures are logged (their details never reach the client). */
  readonly logger?: Logger;
}

/** The signed route's only authority is the link: a bad or expired link is "forbidden", not "log in". */
const SIGNED_LINK_STATUS: Partial<Record<CodecellErrorCode, number>> = { UNAUTHORIZED: 403 };
const UPLOAD_LIMITS: Omit<MultipartLimits, 'maxFileBytes'> = { maxFiles: 100, maxFields: 200, maxFieldBytes: 4096 };

/** Route bodies whose failures answer `{error: CODE, message}`. */
function restGuarded(deps: Pick<FilesRouterDeps, 'logger'>, statusOverrides: Partial<Record<CodecellErrorCode, number>> = {}) {
  return guardedBy((req, res, error) => sendJsonError(req, res, error, deps.logger, { what: 'files route', statusOverrides, defaultSessionWord: true }));
}

export function createFilesRouter(deps: FilesRouterDeps): express.Router {
  const router = express.Router();
  const { files, principalOf } = deps;
  const guarded = restGuarded(deps);

  router.post(
    '/sessions/:session/files',
    guarded(async (req, res) => {
      const upload = await files.beginUpload(principalOf(req), sessionParam(req));
      let stored: StoredFile[];
      try {
        await receiveFiles(req, upload, files);
        stored = await files.commitUpload(upload);
      } catch (error) {
        await upload.abort();
        throw error;
      }
      res.status(201).json({
        sessionId: upload.sessionId,
        files: stored.map(({ path, size, mimeType }) => ({ path, size, mimeType, kind: 'file' })),
      });
    }),
  );

  router.get(
    '/sessions/:session/files',
    guarded(async (req, res) => {
      const listing = await files.list(principalOf(req), sessionParam(req));
      res.setHeader('X-Codecell-Session-Id', listing.sessionId);
      if (listing.truncated) res.setHeader('X-Codecell-Listing-Truncated', 'true');
      // What the session takes against its quota: every file (listed or not) and its saved variables.
      res.setHeader('X-Codecell-Usage-Bytes', String(listing.usage.bytes));
      res.setHeader('X-Codecell-Quota-Bytes', String(listing.usage.quotaBytes));
      res.json(listing.files);
    }),
  );

  router.get(
    '/sessions/:session/files/*path',
    guarded(async (req, res) => {
      const file = await files.openRead(principalOf(req), sessionParam(req), wildcardPath(req));
      await sendFile(req, res, file);
    }),
  );

  router.delete(
    '/sessions/:session/files/*path',
    guarded(async (req, res) => {
      await files.remove(principalOf(req), sessionParam(req), wildcardPath(req));
      res.status(204).end();
    }),
  );

  router.use(restRequestErrorHandler());
  return router;
}

/**
 * `GET /files/signed/:token`, the links FileService.downloadUrl makes: mount it at the root, WITHOUT
 * the API-key middleware. Takes the same deps as createFilesRouter; principalOf is not used.
 */
export function createSignedDownloadRouter(deps: Pick<FilesRouterDeps, 'files' | 'logger'> & Partial<FilesRouterDeps>): express.Router {
  const router = express.Router();
  router.get(
    '/files/signed/:token',
    restGuarded(deps, SIGNED_LINK_STATUS)(async (req, res) => {
      // The token is a credential: keep it out of Referer headers of anything the file links to.
      res.setHeader('Referrer-Policy', 'no-referrer');
      const file = await deps.files.openSigned(String(req.params.token));
      await sendFile(req, res, file);
    }),
  );
  router.use(restRequestErrorHandler());
  return router;
}

/**
 * Streams every file part of a multipart body into `upload`. A file's path is the value of a
 * `path` field sent just before it, else its filename (folders kept).
 */
async function receiveFiles(req: Request, upload: StagedUpload, files: FileService): Promise<void> {
  const count = await receiveMultipart(
    req,
    {
      limits: { ...UPLOAD_LIMITS, maxFileBytes: files.maxFileBytes },
      notMultipartMessage: 'send files as multipart/form-data (e.g. curl -F "file=@data.csv" ...)',
    },
    {
      file: async ({ filename, content, fieldsBefore }) => {
        const target = fieldsBefore.get('path') ?? filename;
        if (target === undefined || target === '') {
          throw new CodecellError('INVALID_INPUT', 'a file part has neither a filename nor a preceding "path" field');
        }
        await upload.add(target, content);
      },
    },
  );
  if (count === 0) throw new CodecellError('INVALID_INPUT', 'the upload contains no file');
}

function sessionParam(req: Request): string | undefined {
  return sessionIdFrom(String(req.params.session));
}

/** Express 5 hands a `*path` wildcard over as its decoded segments. */
function wildcardPath(req: Request): string {
  const raw: unknown = req.params.path;
  return Array.isArray(raw) ? raw.map(String).join('/') : String(raw ?? '');
}
