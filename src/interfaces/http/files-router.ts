/**
 * REST routes for a session's files (mounted under /v1 behind the API-key check), and the signed
 * download route (mounted without it: the link is the permission). `:session` may be the word
 * `default`, the caller's default session. Failures answer `{error: CODE, message}` with the
 * status errors.ts gives the code; someone else's session is 404 exactly like a missing one.
 */
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import busboy from 'busboy';
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { CodecellError, type CodecellErrorCode } from '../../errors.js';
import type { FileService, OpenedFile, StoredFile } from '../../files/file-service.js';
import type { StagedUpload } from '../../files/staged-upload.js';
import type { Logger } from '../../logger.js';
import { sendJsonError } from './json-error.js';
import type { Principal } from '../../sessions/principal.js';

export interface FilesRouterDeps {
  readonly files: FileService;
  readonly principalOf: (req: Request) => Principal;
  /** Where unexpected failures are logged (their details never reach the client). */
  readonly logger?: Logger;
}

const DEFAULT_SESSION_WORD = 'default';
/** The signed route's only authority is the link: a bad or expired link is "forbidden", not "log in". */
const SIGNED_LINK_STATUS: Partial<Record<CodecellErrorCode, number>> = { UNAUTHORIZED: 403 };
const MAX_FILES_PER_UPLOAD = 100;
const MAX_FIELDS_PER_UPLOAD = 200;
const MAX_FIELD_BYTES = 4096;

export function createFilesRouter(deps: FilesRouterDeps): express.Router {
  const router = express.Router();
  const { files, principalOf } = deps;

  router.post(
    '/sessions/:session/files',
    guarded(deps, async (req, res) => {
      const upload = await files.beginUpload(principalOf(req), sessionParam(req));
      let stored: StoredFile[];
      try {
        await receiveMultipart(req, upload, files);
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
    guarded(deps, async (req, res) => {
      const listing = await files.list(principalOf(req), sessionParam(req));
      res.setHeader('X-Codecell-Session-Id', listing.sessionId);
      if (listing.truncated) res.setHeader('X-Codecell-Listing-Truncated', 'true');
      res.json(listing.files);
    }),
  );

  router.get(
    '/sessions/:session/files/*path',
    guarded(deps, async (req, res) => {
      const file = await files.openRead(principalOf(req), sessionParam(req), wildcardPath(req));
      await sendFile(req, res, file);
    }),
  );

  router.delete(
    '/sessions/:session/files/*path',
    guarded(deps, async (req, res) => {
      await files.remove(principalOf(req), sessionParam(req), wildcardPath(req));
      res.status(204).end();
    }),
  );

  router.use(malformedUrlHandler);
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
    guarded(deps, async (req, res) => {
      // The token is a credential: keep it out of Referer headers of anything the file links to.
      res.setHeader('Referrer-Policy', 'no-referrer');
      const file = await deps.files.openSigned(String(req.params.token));
      await sendFile(req, res, file);
    }, SIGNED_LINK_STATUS),
  );
  router.use(malformedUrlHandler);
  return router;
}

async function sendFile(req: Request, res: Response, file: OpenedFile): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', file.mimeType);
  res.setHeader('Content-Length', String(file.size));
  res.setHeader('Content-Disposition', attachmentDisposition(file.fileName));
  // Content made by untrusted code: never let a browser sniff it into HTML or run it on our origin.
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
  res.setHeader('Cache-Control', 'private, no-store');
  if (req.method === 'HEAD') {
    file.stream.destroy();
    res.end();
    return;
  }
  await pipeline(file.stream, res);
}

/**
 * `attachment` with an ASCII fallback name and the exact name as RFC 5987 `filename*`, so names
 * in any script survive and no name can break out of the header.
 */
export function attachmentDisposition(fileName: string): string {
  const fallback = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  const encoded = encodeURIComponent(fileName).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}

/**
 * Streams every file part of a multipart body into `upload`. A file's path is the value of a
 * `path` field sent just before it, else its filename (folders kept). Resolves once the whole body
 * is read; rejects with the first problem, after reading the rest of the body, so the client gets
 * the error response instead of a reset connection.
 */
function receiveMultipart(req: Request, upload: StagedUpload, files: FileService): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      if (!/^multipart\/form-data\b/i.test(req.get('content-type') ?? '')) throw new Error('not multipart');
      parser = busboy({
        headers: req.headers,
        preservePath: true, // keep "reports/q1.csv" instead of cutting it to "q1.csv"
        defParamCharset: 'utf8', // clients send UTF-8 filenames raw, not latin1
        limits: {
          // One byte over the limit is enough for the upload to tell "too large"; busboy drops the rest.
          fileSize: files.maxFileBytes + 1,
          files: MAX_FILES_PER_UPLOAD,
          fields: MAX_FIELDS_PER_UPLOAD,
          fieldSize: MAX_FIELD_BYTES,
        },
      });
    } catch {
      reject(new CodecellError('INVALID_INPUT', 'send files as multipart/form-data (e.g. curl -F "file=@data.csv" ...)'));
      return;
    }

    let firstError: unknown;
    let pathForNextFile: string | undefined;
    let fileCount = 0;
    const pending: Promise<void>[] = [];
    const fail = (error: unknown): void => {
      firstError ??= error;
    };

    parser.on('field', (name, value, info) => {
      if (name !== 'path') return;
      if (info.valueTruncated) fail(new CodecellError('INVALID_INPUT', `a "path" field is longer than ${MAX_FIELD_BYTES} bytes`));
      pathForNextFile = value;
    });
    parser.on('file', (_field, stream, info) => {
      fileCount += 1;
      const target = pathForNextFile ?? info.filename;
      pathForNextFile = undefined;
      if (firstError !== undefined || target === undefined || target === '') {
        if (firstError === undefined) fail(new CodecellError('INVALID_INPUT', 'a file part has neither a filename nor a preceding "path" field'));
        stream.resume(); // nothing more will be stored: read past this part
        return;
      }
      // The upload destroys what it is given when it fails, and busboy stalls on a destroyed part,
      // so the upload gets a copy and the part itself is drained here after a failure.
      const copy = new PassThrough();
      stream.on('error', (error) => copy.destroy(error)); // body cut off: stop this file too
      stream.pipe(copy);
      pending.push(
        upload.add(target, copy).then(
          () => undefined,
          (error: unknown) => {
            fail(error);
            stream.unpipe(copy);
            stream.resume();
          },
        ),
      );
    });
    parser.on('filesLimit', () => fail(new CodecellError('INVALID_INPUT', `at most ${MAX_FILES_PER_UPLOAD} files per upload`)));
    parser.on('fieldsLimit', () => fail(new CodecellError('INVALID_INPUT', `at most ${MAX_FIELDS_PER_UPLOAD} fields per upload`)));

    const settled = (): Promise<unknown> => Promise.allSettled(pending);
    parser.on('error', (error: unknown) => {
      req.unpipe(parser);
      const message = error instanceof Error ? error.message : String(error);
      void settled().then(() => reject(firstError ?? new CodecellError('INVALID_INPUT', `the multipart body is malformed: ${message}`)));
    });
    parser.on('finish', () => {
      void settled().then(() => {
        if (firstError === undefined && fileCount === 0) fail(new CodecellError('INVALID_INPUT', 'the upload contains no file'));
        if (firstError === undefined) resolve();
        else reject(firstError);
      });
    });
    // A client that goes away mid-body: without this the parser would wait for the rest forever.
    req.on('close', () => {
      if (!req.complete) parser.destroy(new Error('the client closed the connection before the upload was complete'));
    });
    req.pipe(parser);
  });
}

function sessionParam(req: Request): string | undefined {
  const session = String(req.params.session);
  return session === DEFAULT_SESSION_WORD ? undefined : session;
}

/** Express 5 hands a `*path` wildcard over as its decoded segments. */
function wildcardPath(req: Request): string {
  const raw: unknown = req.params.path;
  return Array.isArray(raw) ? raw.map(String).join('/') : String(raw ?? '');
}

/** Runs a route body and turns whatever it throws into the JSON error answer. */
function guarded(
  deps: Pick<FilesRouterDeps, 'logger'>,
  body: (req: Request, res: Response) => Promise<void>,
  statusOverrides: Partial<Record<CodecellErrorCode, number>> = {},
): RequestHandler {
  return async (req, res) => {
    try {
      await body(req, res);
    } catch (error) {
      sendJsonError(req, res, error, deps.logger, { what: 'files route', statusOverrides });
    }
  };
}

/**
 * Express rejects a path with a bad %-escape before any route runs, with a 4xx status on the error;
 * answered here in the same JSON shape. Anything else goes on to the app's handler.
 */
const malformedUrlHandler: ErrorRequestHandler = (error: unknown, _req, res, next) => {
  const status = typeof error === 'object' && error !== null && 'status' in error ? error.status : undefined;
  if (typeof status !== 'number' || status < 400 || status >= 500 || res.headersSent) {
    next(error);
    return;
  }
  res.status(400).json({ error: 'INVALID_INPUT', message: 'the request URL is malformed (a bad %-escape?)' });
};
