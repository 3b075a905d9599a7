/**
 * Reads a multipart/form-data body part by part, for every upload route. Fields go to a callback as
 * they arrive; file parts go to the handler one at a time, in order, each as a stream. Resolves once
 * the whole body is read; rejects with the first problem, after reading the rest of the body, so the
 * client gets the error answer instead of a reset connection.
 */
import { PassThrough, type Readable } from 'node:stream';
import busboy from 'busboy';
import type { Request } from 'express';
import { CodecellError } from '../../errors.js';

export interface MultipartLimits {
  readonly maxFileBytes: number;
  readonly maxFiles: number;
  readonly maxFields: number;
  readonly maxFieldBytes: number;
}

export interface MultipartFile {
  /** The part's filename, folders kept ("reports/q1.csv"); undefined when it has none. */
  readonly filename: string | undefined;
  /**
   * A copy of the part's bytes, cut one byte past maxFileBytes (enough for the consumer to tell "too
   * large"). The consumer may destroy it when it fails; the part itself is then drained here.
   */
  readonly content: Readable;
  /** The fields sent after the previous file part (or the start) and before this one. */
  readonly fieldsBefore: ReadonlyMap<string, string>;
}

export interface MultipartHandlers {
  /** Called as each field arrives, with how many file parts came before it. Throw to refuse the upload. */
  readonly field?: (name: string, value: string, filesBefore: number) => void;
  /** Consumes one file part. A rejection is the upload's failure: later parts are read past. */
  readonly file: (part: MultipartFile) => Promise<void>;
}

export interface MultipartOptions {
  readonly limits: MultipartLimits;
  /** The answer to a body that is not multipart/form-data: how this route wants its files sent. */
  readonly notMultipartMessage: string;
}

/** Resolves with the number of file parts the body held. */
export function receiveMultipart(req: Request, options: MultipartOptions, handlers: MultipartHandlers): Promise<number> {
  const { limits } = options;
  return new Promise<number>((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      if (!/^multipart\/form-data\b/i.test(req.get('content-type') ?? '')) throw new Error('not multipart');
      parser = busboy({
        headers: req.headers,
        preservePath: true, // keep "reports/q1.csv" instead of cutting it to "q1.csv"
        defParamCharset: 'utf8', // clients send UTF-8 filenames raw, not latin1
        limits: {
          fileSize: limits.maxFileBytes + 1,
          files: limits.maxFiles,
          fields: limits.maxFields,
          fieldSize: limits.maxFieldBytes,
        },
      });
    } catch {
      reject(new CodecellError('INVALID_INPUT', options.notMultipartMessage));
      return;
    }

    let firstError: unknown;
    let fileCount = 0;
    let fieldsBefore = new Map<string, string>();
    let chain: Promise<void> = Promise.resolve();
    const fail = (error: unknown): void => {
      firstError ??= error;
    };

    parser.on('field', (name, value, info) => {
      if (info.valueTruncated) fail(new CodecellError('INVALID_INPUT', `the "${name}" field is longer than ${limits.maxFieldBytes} bytes`));
      try {
        handlers.field?.(name, value, fileCount);
      } catch (error) {
        fail(error);
      }
      fieldsBefore.set(name, value);
    });
    parser.on('file', (_field, stream, info) => {
      fileCount += 1;
      const part = { filename: info.filename, fieldsBefore };
      fieldsBefore = new Map();
      if (firstError !== undefined) {
        stream.resume(); // nothing more will be stored: read past this part
        return;
      }
      // The consumer may destroy what it is given when it fails, and busboy stalls on a destroyed
      // part: it gets a copy, and the part itself is drained here after a failure.
      const copy = new PassThrough();
      stream.on('error', (error) => copy.destroy(error)); // body cut off: stop this file too
      stream.pipe(copy);
      const drain = (): void => {
        stream.unpipe(copy);
        stream.resume();
      };
      chain = chain.then(async () => {
        try {
          if (firstError === undefined) await handlers.file({ ...part, content: copy });
        } catch (error) {
          fail(error);
        } finally {
          drain(); // after success the part has ended and this does nothing; after a failure it reads past it
        }
      });
    });
    parser.on('filesLimit', () => fail(new CodecellError('INVALID_INPUT', `at most ${limits.maxFiles} files per upload`)));
    parser.on('fieldsLimit', () => fail(new CodecellError('INVALID_INPUT', `at most ${limits.maxFields} fields per upload`)));

    const settle = (): void => {
      void chain.then(() => {
        if (firstError === undefined) resolve(fileCount);
        else reject(firstError);
      });
    };
    parser.on('error', (error: unknown) => {
      req.unpipe(parser);
      const message = error instanceof Error ? error.message : String(error);
      fail(new CodecellError('INVALID_INPUT', `the multipart body is malformed: ${message}`));
      settle();
    });
    parser.on('finish', settle);
    // A client that goes away mid-body: without this the parser would wait for the rest forever.
    req.on('close', () => {
      if (!req.complete) parser.destroy(new Error('the client closed the connection before the upload was complete'));
    });
    req.pipe(parser);
  });
}
