/**
 * API keys, LibreChat tokens and users. With keys configured, a request must present one of them;
 * the principal is the key plus the optional X-User-Id header (LibreChat fills it per user from
 * `{{LIBRECHAT_USER_ID}}`), so users behind one shared key still cannot see each other's sessions.
 *
 * With a JWT public key configured (LibreChat's JWT mode), `Authorization: Bearer <JWT>` is
 * accepted too, on every route (/v1 and MCP alike). A Bearer value shaped like a JWT is judged as
 * a token only, never also as a key: a bad token is 401 even when the request also carries a good
 * X-API-Key. The token's `sub` is the user and nothing the request says can change that; its
 * principal lives under a namespace of its own, "jwt NUL issuer NUL tenant_id", which no API key
 * can equal (environment variables cannot hold NUL), so tenants and key users never meet.
 *
 * With neither keys nor a token key the server is open (listen-policy.ts decides whether that is
 * allowed) and the principal is "open" plus X-User-Id.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { Logger } from '../../logger.js';
import { principalFor, USER_ID_PATTERN, type Principal } from '../../sessions/principal.js';
import { looksLikeJwt, type JwtVerifier, type TokenIdentity } from './jwt-verifier.js';
import { requestLogger } from './request-context.js';

/** What apiKeyAuth found, per request: the key is matched once, here, and read by later routes. */
interface Authentication {
  /** The configured key the request presented, or a token's namespace; null on an open server. */
  readonly key: string | null;
  /** The user a verified token names (its `sub`); null for keys and open servers. */
  readonly tokenSubject: string | null;
  readonly principal: Principal;
}

export interface AuthOptions {
  /** LibreChat JWT mode; absent: Bearer values are only ever API keys. */
  readonly jwt?: JwtVerifier | undefined;
  /** Where refused tokens' reasons go (never into the answer). */
  readonly logger?: Logger | undefined;
}

/** The principal namespace of a verified token: one per issuer and tenant. */
export function tokenNamespace(identity: TokenIdentity): string {
  return `jwt\0${identity.issuer}\0${identity.tenant}`;
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

/** The value of `Authorization: Bearer <value>`, if the request has one. */
function bearerOf(req: Request): string | undefined {
  const [scheme, value] = (req.get('authorization') ?? '').trim().split(/\s+/, 2);
  return value !== undefined && scheme?.toLowerCase() === 'bearer' ? value : undefined;
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

/**
 * Whether a request offers a configured key or a valid token; true for every request when neither
 * keys nor a token key are configured.
 */
export function offersValidKey(apiKeys: readonly string[], jwt?: JwtVerifier): (req: Request) => Promise<boolean> {
  const keyDigests = apiKeys.map(digest);
  return async (req) => {
    if (apiKeys.length === 0 && jwt === undefined) return true;
    const bearer = bearerOf(req);
    if (jwt !== undefined && bearer !== undefined && looksLikeJwt(bearer)) return (await jwt(bearer)).ok;
    return offeredKeys(req).some((candidate) => matchApiKey(candidate, keyDigests, apiKeys) !== null);
  };
}

/**
 * Whether a request offers one of the metrics-only tokens (`Authorization: Bearer` or X-API-Key), compared
 * in constant time like API keys. Such a token opens GET /metrics and nothing else: apiKeyAuth never
 * accepts it, so every other route answers it 401.
 */
export function offersMetricsKey(metricsKeys: readonly string[]): (req: Request) => boolean {
  const keyDigests = metricsKeys.map(digest);
  return (req) => {
    if (metricsKeys.length === 0) return false;
    const offered = [bearerOf(req), req.get('x-api-key')?.trim()].filter((value): value is string => value !== undefined && value.length > 0);
    let matched = false;
    for (const candidate of offered) if (matchApiKey(candidate, keyDigests, metricsKeys) !== null) matched = true;
    return matched;
  };
}

/** One body for every refused credential (wrong key, forged or expired token): the reason is logged, never told. */
export const INVALID_CREDENTIALS_MESSAGE = 'the API key or token is not valid for this server';

const KEY_HINT = 'an API key: send "Authorization: Bearer <key>" or "X-API-Key: <key>"';
const TOKEN_HINT = 'a LibreChat Code API token ("Authorization: Bearer <JWT>", LibreChat\'s CODEAPI_AUTH_PROVIDER=librechat-jwt)';

/** What a request without credentials is told to send: what this server accepts. */
function missingCredentialsMessage(keys: boolean, tokens: boolean): string {
  if (tokens && keys) return `this server needs ${TOKEN_HINT} or ${KEY_HINT}`;
  return `this server needs ${tokens ? TOKEN_HINT : KEY_HINT}`;
}

function rejectUnauthorized(res: Response, message: string): void {
  res.status(401).set('WWW-Authenticate', 'Bearer realm="codecell", charset="UTF-8"').json({ error: 'unauthorized', message });
}

/**
 * Authenticates the request and records its key and principal for apiKeyOf() and principalOf(). Answers 401 for a
 * missing or wrong key or token and 400 for an X-User-Id that is not 1–200 printable ASCII characters.
 */
export function apiKeyAuth(apiKeys: readonly string[], options: AuthOptions = {}): RequestHandler {
  const keyDigests = apiKeys.map(digest);
  const { jwt, logger } = options;
  const open = apiKeys.length === 0 && jwt === undefined;
  const authenticateToken = async (req: Request, res: Response, next: NextFunction, verify: JwtVerifier, token: string): Promise<void> => {
    const verdict = await verify(token);
    if (!verdict.ok) {
      if (logger !== undefined) requestLogger(req, logger).warn({ reason: verdict.reason }, 'refused a LibreChat Code API token');
      rejectUnauthorized(res, INVALID_CREDENTIALS_MESSAGE);
      return;
    }
    const namespace = tokenNamespace(verdict.identity);
    const subject = verdict.identity.subject;
    authentications.set(req, { key: namespace, tokenSubject: subject, principal: principalFor(namespace, subject) });
    next();
  };
  return (req: Request, res: Response, next: NextFunction) => {
    const bearer = bearerOf(req);
    if (jwt !== undefined && bearer !== undefined && looksLikeJwt(bearer)) {
      authenticateToken(req, res, next, jwt, bearer).catch(next);
      return;
    }
    let key: string | null = null;
    if (!open) {
      const offered = offeredKeys(req);
      for (const candidate of offered) key ??= matchApiKey(candidate, keyDigests, apiKeys);
      if (key === null) {
        rejectUnauthorized(res, offered.length > 0 ? INVALID_CREDENTIALS_MESSAGE : missingCredentialsMessage(apiKeys.length > 0, jwt !== undefined));
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
    authentications.set(req, { key, tokenSubject: null, principal: principalFor(key, userId) });
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

/** The API key apiKeyAuth() matched, or a token's namespace (null on an open server). Throws like principalOf(). */
export function apiKeyOf(req: Request): string | null {
  return authenticationOf(req).key;
}

/** The user a verified LibreChat token names; null when the request came with a key or none. Throws like principalOf(). */
export function tokenSubjectOf(req: Request): string | null {
  return authenticationOf(req).tokenSubject;
}
