/**
 * API keys and users. With keys configured, a request must present one of them; the principal is
 * the key plus the optional X-User-Id header (LibreChat fills it per user from
 * `{{LIBRECHAT_USER_ID}}`), so users behind one shared key still cannot see each other's sessions.
 * Without keys the server is open (listen-policy.ts decides whether that is allowed) and the
 * principal is "open" plus X-User-Id.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { principalFor, USER_ID_PATTERN, type Principal } from '../../sessions/principal.js';

/** What apiKeyAuth found, per request: the key is matched once, here, and read by later routes. */
interface Authentication {
  /** The configured key the request presented; null on a server without keys. */
  readonly key: string | null;
  readonly principal: Principal;
}

const authentications = new WeakMap<Request, Authentication>();

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}

/**
 * Finds the configured key equal to `candidate` in time that does not depend on where the strings
 * differ: both sides are hashed to 32 bytes, and every key is compared even after a match.
 */
function matchApiKey(candidate: string, keyDigests: readonly Buffer[], keys: readonly string[]): string | null {
  const candidateDigest = digest(candidate);
  let matched: string | null = null;
  keyDigests.forEach((keyDigest, index) => {
    if (timingSafeEqual(candidateDigest, keyDigest) && matched === null) matched = keys[index] ?? null;
  });
  return matched;
}

/** Every key the request offers: Bearer, Basic (key as user name, as in http://KEY@host/v1), X-API-Key. */
function offeredKeys(req: Request): string[] {
  const offered: string[] = [];
  const authorization = req.get('authorization');
  if (authorization !== undefined) {
    const [scheme, value] = authorization.trim().split(/\s+/, 2);
    if (value !== undefined && scheme?.toLowerCase() === 'bearer') offered.push(value);
    if (value !== undefined && scheme?.toLowerCase() === 'basic') {
      const decoded = Buffer.from(value, 'base64').toString('utf8');
      const user = decoded.split(':', 1)[0];
      if (user) offered.push(user);
    }
  }
  const apiKey = req.get('x-api-key');
  if (apiKey !== undefined && apiKey.length > 0) offered.push(apiKey.trim());
  return offered;
}

/** Whether a request offers a configured key; true for every request when no keys are configured. */
export function offersValidKey(apiKeys: readonly string[]): (req: Request) => boolean {
  const keyDigests = apiKeys.map(digest);
  return (req) =>
    apiKeys.length === 0 || offeredKeys(req).some((candidate) => matchApiKey(candidate, keyDigests, apiKeys) !== null);
}

function rejectUnauthorized(res: Response, offeredAny: boolean): void {
  res
    .status(401)
    .set('WWW-Authenticate', 'Bearer realm="codecell", charset="UTF-8"')
    .json({
      error: 'unauthorized',
      message: offeredAny
        ? 'the API key is not valid for this server'
        : 'this server needs an API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
    });
}

/**
 * Authenticates the request and records its key and principal for apiKeyOf() and principalOf(). Answers 401 for a
 * missing or wrong key and 400 for an X-User-Id that is not 1–200 printable ASCII characters.
 */
export function apiKeyAuth(apiKeys: readonly string[]): RequestHandler {
  const keyDigests = apiKeys.map(digest);
  return (req: Request, res: Response, next: NextFunction) => {
    let key: string | null = null;
    if (apiKeys.length > 0) {
      const offered = offeredKeys(req);
      for (const candidate of offered) key ??= matchApiKey(candidate, keyDigests, apiKeys);
      if (key === null) {
        rejectUnauthorized(res, offered.length > 0);
        return;
      }
    }
    // An empty header is the same principal as no header (principalFor hashes both as ''), so accept it.
    const userId = req.get('x-user-id') || null;
    if (userId !== null && !USER_ID_PATTERN.test(userId)) {
      res.status(400).json({
        error: 'invalid_user_id',
        message: 'X-User-Id must be 1 to 200 printable ASCII characters without spaces',
      });
      return;
    }
    authentications.set(req, { key, principal: principalFor(key, userId) });
    next();
  };
}

function authenticationOf(req: Request): Authentication {
  const authentication = authentications.get(req);
  if (!authentication) throw new Error(`no principal for ${req.method} ${req.path}: route is not behind apiKeyAuth`);
  return authentication;
}

/** The principal apiKeyAuth() recorded. Throws for a route mounted before it: that is a wiring bug. */
export function principalOf(req: Request): Principal {
  return authenticationOf(req).principal;
}

/** The API key apiKeyAuth() matched (null on a server without keys). Throws like principalOf(). */
export function apiKeyOf(req: Request): string | null {
  return authenticationOf(req).key;
}
