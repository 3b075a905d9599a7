/**
 * Where the server may listen, and which Host headers it answers. Running code for anyone who can
 * reach the port is remote code execution as a service, so an open (keyless) server stays on
 * loopback unless the operator says otherwise in so many words (CODECELL_ALLOW_OPEN).
 */
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { hostHeaderValidation } from '@modelcontextprotocol/sdk/server/middleware/hostHeaderValidation.js';
import type { Settings } from '../../config/settings.js';
import type { Logger } from '../../logger.js';

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(host);
}

/** LibreChat JWT mode counts as authentication, like keys (absent: off). */
type TokenAuth = Partial<Pick<Settings, 'jwt'>>;

export class ListenPolicyError extends Error {
  override readonly name = 'ListenPolicyError';
}

/** Throws when an open server would be reachable from other machines; warns when allowed anyway. */
export function enforceListenPolicy(settings: Pick<Settings, 'host' | 'apiKeys' | 'allowOpen'> & TokenAuth, logger: Logger): void {
  if (settings.apiKeys.length > 0 || (settings.jwt ?? null) !== null) return;
  if (isLoopbackHost(settings.host)) {
    logger.info({ host: settings.host }, 'no API keys configured: open to local clients only');
    return;
  }
  if (!settings.allowOpen) {
    throw new ListenPolicyError(
      `refusing to listen on ${settings.host} without API keys: anyone who reaches the port could run code. ` +
        'Set CODECELL_API_KEYS (or CODECELL_JWT_PUBLIC_KEY for LibreChat JWT mode), or listen on 127.0.0.1, or set CODECELL_ALLOW_OPEN=true on a network you trust.',
    );
  }
  logger.warn(
    { host: settings.host },
    '!!! OPEN SERVER: no API keys and listening beyond loopback (CODECELL_ALLOW_OPEN=true). ' +
      'Anyone who can reach this port can run code in your sandboxes. !!!',
  );
}

/**
 * DNS-rebinding guard for loopback servers: a web page that re-points its own name to 127.0.0.1
 * still sends its own name as Host, so only loopback names (plus the public URL's host, for a
 * reverse proxy that keeps Host) get through. Returns null when bound beyond loopback, where the
 * API key is the guard.
 */
export function hostValidation(settings: Pick<Settings, 'host' | 'publicUrl'>): RequestHandler | null {
  if (!isLoopbackHost(settings.host)) return null;
  const allowed = ['localhost', '127.0.0.1', '[::1]'];
  if (settings.publicUrl !== undefined) allowed.push(new URL(settings.publicUrl).hostname);
  return hostHeaderValidation(allowed);
}

/** Methods that change nothing: a cross-site page cannot read their answers without CORS, which Codecell never sends. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The only bodies Codecell's routes take: MCP and /v1/exec are JSON, uploads are multipart. */
const BODY_TYPES = ['application/json', 'multipart/form-data'];

/** Whether the request carries a body, by its framing headers. */
function hasBody(req: Request): boolean {
  const length = req.get('content-length');
  return req.get('transfer-encoding') !== undefined || (length !== undefined && length !== '0');
}

/**
 * Cross-site guard for a server without keys: any web page the user visits could otherwise POST a
 * "simple" CORS request (a form, a multipart upload) to it, with nothing to stop it but the port.
 * Browsers say where a request comes from (Origin, Sec-Fetch-Site); CLI, LibreChat and MCP clients
 * send neither. A changing request is refused when a browser marks it as coming from another site
 * (any origin but the server's own or the public URL's), and its body must be JSON or multipart,
 * so a text/plain or urlencoded form body is refused too. Returns null when keys or a JWT key are
 * configured: a browser cannot attach either to a cross-site request without a preflight, which fails.
 */
export function crossSiteGuard(settings: Pick<Settings, 'apiKeys' | 'publicUrl'> & TokenAuth): RequestHandler | null {
  if (settings.apiKeys.length > 0 || (settings.jwt ?? null) !== null) return null;
  const publicOrigin = settings.publicUrl !== undefined ? new URL(settings.publicUrl).origin : undefined;
  const refuse = (res: Response, status: number, error: string, message: string): void => {
    res.status(status).json({ error, message });
  };
  return (req: Request, res: Response, next: NextFunction) => {
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    const fetchSite = req.get('sec-fetch-site');
    const origin = req.get('origin');
    const ownOrigin = `${req.protocol}://${req.get('host') ?? ''}`;
    const crossSite =
      (fetchSite !== undefined && fetchSite !== 'same-origin' && fetchSite !== 'none') ||
      (origin !== undefined && origin !== ownOrigin && origin !== publicOrigin);
    if (crossSite) {
      refuse(res, 403, 'cross_site_request', 'this server has no API key, so it refuses requests that a web page on another site sends through your browser');
      return;
    }
    const type = (req.get('content-type') ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
    if (hasBody(req) && !BODY_TYPES.includes(type)) {
      refuse(res, 415, 'unsupported_media_type', 'send the body as application/json (MCP, /v1/exec) or multipart/form-data (uploads)');
      return;
    }
    next();
  };
}
