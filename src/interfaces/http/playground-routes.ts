/**
 * The browser playground: static files built by scripts/build-web.ts into dist/web, served at `/`
 * before the API-key check (the page holds no secret; it asks for a key when the API answers 401).
 * The page gets a strict Content-Security-Policy: its own origin only, no inline script. HTML that
 * user code outputs is shown without scripts (srcdoc, sandbox="") unless the user asks; then in
 * /playground/frame.html, which its own policy always sandboxes (an opaque origin even when opened
 * directly) and forbids every request CSP can name. WebRTC is the known gap of that opt-in: no CSP
 * directive governs it in Chromium, so a frame with scripts can still send STUN/TURN packets.
 * The page's files go out compressed (gzip or brotli, as the browser accepts): only these routes,
 * never the MCP event streams, which must not be buffered.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import compression from 'compression';
import express, { type Request, type Response, type NextFunction } from 'express';

export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "connect-src 'self'",
  "frame-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** User HTML runs its own inline scripts here, in an opaque origin that can load nothing by URL (WebRTC aside). */
export const FRAME_CSP = [
  'sandbox allow-scripts',
  "default-src 'none'",
  "script-src 'unsafe-inline'",
  "style-src 'unsafe-inline'",
  'img-src data: blob:',
  'media-src data: blob:',
  'font-src data:',
  "connect-src 'none'",
  "form-action 'none'",
  "base-uri 'none'",
  "frame-ancestors 'self'",
].join('; ');

const FRAME_PATH = '/playground/frame.html';

/** dist/web beside the build, found from this module in src/ (tests) and dist/src/ (installed) alike. */
export function defaultWebRoot(): string {
  for (let dir = path.dirname(fileURLToPath(import.meta.url)); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json'))) return path.join(dir, 'dist', 'web');
  }
  return path.resolve('dist', 'web');
}

function commonHeaders(res: Response): void {
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
}

/** Serves the page at `/` and its assets; a missing build leaves the routes to the 404 handler. */
export function createPlaygroundRouter(webRoot: string = defaultWebRoot()): express.Router {
  const router = express.Router();
  if (!existsSync(path.join(webRoot, 'index.html'))) return router;
  const statics = express.static(webRoot, {
    index: 'index.html',
    redirect: false,
    fallthrough: true,
    setHeaders: (res) => {
      commonHeaders(res);
      res.setHeader('Cache-Control', 'no-cache');
    },
  });
  const pagePaths = ['/', '/index.html', '/playground/*asset'];
  router.get(pagePaths, compression(), (req: Request, res: Response, next: NextFunction) => {
    res.setHeader('Content-Security-Policy', req.path === FRAME_PATH ? FRAME_CSP : PAGE_CSP);
    statics(req, res, next);
  });
  return router;
}
