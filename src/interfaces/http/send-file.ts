/**
 * The one way a session's file goes out over HTTP, for every download route: as an attachment,
 * with headers that keep a browser from treating content made by untrusted code as a page of ours.
 */
import { pipeline } from 'node:stream/promises';
import { create as contentDisposition } from 'content-disposition';
import type { Request, Response } from 'express';
import type { OpenedFile } from '../../files/file-service.js';

export async function sendFile(req: Request, res: Response, file: OpenedFile): Promise<void> {
  res.status(200);
  res.setHeader('Content-Type', file.mimeType);
  res.setHeader('Content-Length', String(file.size));
  // An ASCII fallback name plus the exact name as RFC 8187 filename*: names in any script survive,
  // and no name can break out of the header.
  res.setHeader('Content-Disposition', contentDisposition(file.fileName));
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
