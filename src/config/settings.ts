/**
 * Every setting Codecell has, parsed once at start-up from environment variables (and CLI flags,
 * which the CLI passes in as `overrides` under the same names). No other module reads process.env.
 *
 * The README's settings table is written by hand; test/unit/config/readme-settings.test.ts fails
 * when its names or defaults drift from the schema below.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { DEFAULT_DOCKER_SOCKET, dockerEndpoint, parseDockerHost, type DockerEndpoint } from './docker-endpoint.js';
import { JwtKeyError, parseJwtPublicKey, type JwtVerificationKey } from './jwt-key.js';
import { parseTrustProxy, type TrustProxy } from './trust-proxy.js';

const csv = z
  .string()
  .transform((raw) => raw.split(',').map((item) => item.trim()).filter((item) => item.length > 0));

const bool = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', 'on', 'off', ''])
  .transform((raw) => ['1', 'true', 'yes', 'on'].includes(raw));

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);

function defaultDataDir(env: Record<string, string | undefined>): string {
  const base = env.XDG_DATA_HOME ?? path.join(env.HOME ?? os.homedir(), '.local', 'share');
  return path.join(base, 'codecell');
}

/** Raw schema: names are the environment variable names, values are strings. */
const EnvSchema = z.object({
  HOST: z.string().min(1).default('127.0.0.1'),
  PORT: int(0, 65535).default(7860),
  CODECELL_API_KEYS: csv.default([]),
  // Bearer tokens that open GET /metrics and nothing else (for Prometheus), inline or in a file.
  CODECELL_METRICS_KEYS: csv.default([]),
  // Empty means unset: compose passes `${CODECELL_METRICS_KEYS_FILE:-}` when .env leaves it out.
  CODECELL_METRICS_KEYS_FILE: z
    .string()
    .optional()
    .transform((raw) => (raw === undefined || raw.trim() === '' ? undefined : raw)),
  CODECELL_ALLOW_OPEN: bool.default(false),
  CODECELL_PUBLIC_URL: z.string().url().optional(),
  CODECELL_TRUST_PROXY: z
    .string()
    .optional()
    .transform((raw, ctx) => {
      const parsed = parseTrustProxy(raw);
      if (typeof parsed === 'object' && 'problem' in parsed) {
        ctx.addIssue({ code: 'custom', message: parsed.problem });
        return z.NEVER;
      }
      return parsed;
    }),
  CODECELL_SIGNING_KEY: z.string().min(32).optional(),
  CODECELL_DATA_DIR: z.string().min(1).optional(),
  // LibreChat's Code API tokens (CODEAPI_AUTH_PROVIDER=librechat-jwt): the public key as PEM text or a file.
  CODECELL_JWT_PUBLIC_KEY: z.string().optional(),
  CODECELL_JWT_PUBLIC_KEY_FILE: z.string().min(1).optional(),
  CODECELL_JWT_ISSUER: z.string().min(1).default('librechat'),
  CODECELL_JWT_AUDIENCE: z.string().min(1).default('codeapi'),
  CODECELL_JWT_CLOCK_SKEW_SECONDS: int(0, 300).default(30),
  // LibreChat mints tokens for at most 300 s; a token that claims a longer life (exp - iat) is refused.
  CODECELL_JWT_MAX_TTL_SECONDS: int(1, 3600).default(300),

  EXECUTION_TIMEOUT: z.coerce.number().positive().max(3600).default(30),
  MAX_OUTPUT_LENGTH: int(100, 10_000_000).default(10_000),
  MAX_SESSIONS: int(1, 1_000_000).default(1000),
  MAX_SESSIONS_PER_USER: int(1, 1_000_000).default(100),
  // Per-key budgets: unset means "the server cap with one key or none, half of it with several".
  MAX_SESSIONS_PER_KEY: int(1, 1_000_000).optional(),
  CODECELL_SESSION_TTL_SECONDS: int(60, 60 * 60 * 24 * 365).default(3600),

  CODECELL_MEMORY_MB: int(64, 1_048_576).default(512),
  CODECELL_CPUS: z.coerce.number().positive().max(256).default(1),
  CODECELL_PIDS_LIMIT: int(16, 100_000).default(128),
  CODECELL_TMPFS_MB: int(1, 1_048_576).default(64),
  CODECELL_ARTIFACTS_MB: int(1, 1_048_576).default(64),

  CODECELL_CONCURRENCY: int(1, 256).default(2),
  CODECELL_QUEUE_LIMIT: int(0, 100_000).default(32),

  CODECELL_MCP_SESSIONS: int(1, 1_000_000).default(1000),
  CODECELL_MCP_SESSIONS_PER_USER: int(1, 1_000_000).default(32),
  CODECELL_STREAMS_PER_USER: int(1, 100_000).default(32),
  CODECELL_REQUESTS_PER_USER: int(1, 100_000).default(16),
  CODECELL_MCP_SESSIONS_PER_KEY: int(1, 1_000_000).optional(),
  // Unset: a quarter of CODECELL_MAX_CONNECTIONS each, so one key's streams and requests together hold at most half the connections.
  CODECELL_STREAMS_PER_KEY: int(1, 1_000_000).optional(),
  CODECELL_REQUESTS_PER_KEY: int(1, 1_000_000).optional(),

  CODECELL_MAX_CONNECTIONS: int(16, 1_000_000).default(1000),
  CODECELL_MAX_PENDING_CONNECTIONS: int(1, 1_000_000).default(128),
  CODECELL_HEADERS_TIMEOUT_SECONDS: int(1, 600).default(10),
  CODECELL_REQUEST_TIMEOUT_SECONDS: int(1, 3600).default(120),
  CODECELL_KEEP_ALIVE_TIMEOUT_SECONDS: int(1, 600).default(5),

  CODECELL_POOL_PYTHON: int(0, 64).default(2),
  CODECELL_POOL_PYTHON_LEAN: int(0, 64).default(1),
  CODECELL_POOL_NODE: int(0, 64).default(1),
  CODECELL_POOL_BASH: int(0, 64).default(1),
  /** Warm containers per one-shot image (gcc, go, java, rust, php, r); 0: each run starts its own. */
  CODECELL_POOL_ONESHOT: int(0, 64).default(0),
  // The pools above are minimums; demand (recent takes, bursts) grows each pool up to this many ready runners.
  CODECELL_POOL_MAX: int(0, 64).default(8),
  // Memory the ready runners above their minimums may hold together (estimated per kind, see pool-sizing.ts).
  CODECELL_POOL_MEMORY_MB: int(0, 1_048_576).default(1024),
  // Runner starts in flight at once (each keeps about one core busy); unset: the host's cores.
  CODECELL_POOL_REFILL_CPUS: int(1, 256).optional(),
  // How far back demand is measured; a pool is back at its minimum this long after its last take.
  CODECELL_POOL_IDLE_SECONDS: int(1, 86_400).default(60),

  CODECELL_RUNTIME: z.enum(['runc', 'runsc']).default('runc'),
  CODECELL_IMAGE_PREFIX: z.string().regex(/^[a-z0-9][a-z0-9._/-]*$/).default('codecell'),
  /** Docker's own variable (unix:///path or tcp://host:port), e.g. a socket proxy; wins over DOCKER_SOCKET. */
  DOCKER_HOST: z
    .string()
    .default('')
    .superRefine((value, ctx) => {
      if (value === '') return;
      try {
        parseDockerHost(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: error instanceof Error ? error.message : String(error) });
      }
    }),
  DOCKER_SOCKET: z.string().min(1).default(DEFAULT_DOCKER_SOCKET),

  CODECELL_EXECUTOR: z.enum(['docker', 'process', 'auto']).default('auto'),
  CODECELL_SANDBOX_DIR: z.string().regex(/^\//, 'an absolute path').default('/opt/codecell'),
  CODECELL_ALLOW_WEAK_SANDBOX: bool.default(false),

  CODECELL_MAX_FILE_MB: int(1, 1_048_576).default(25),
  CODECELL_SESSION_QUOTA_MB: int(1, 10_485_760).default(500),
  CODECELL_SESSION_MAX_FILES: int(100, 100_000_000).default(100_000),
  CODECELL_DISK_BUDGET_MB: int(0, 1_073_741_824).default(20_480),
  CODECELL_MAX_IMAGES: int(0, 100).default(10),
  CODECELL_MAX_LISTED_FILES: int(0, 100_000).default(50),
  CODECELL_MAX_RESULT_CHARS: int(2_000, 100_000_000).default(24_000),
  CODECELL_INLINE_IMAGE_MAX_PX: int(64, 10_000).default(2048),
  CODECELL_INLINE_IMAGE_MAX_KB: int(16, 10_240).default(1024),
  CODECELL_SIGNED_URL_TTL_SECONDS: int(10, 60 * 60 * 24 * 7).default(3600),
  // The data dir owner's lease (engine/data-dir-owner.ts): renewed this often; a record from another
  // host or container not renewed for the stale time is taken over (a crashed container's).
  CODECELL_OWNER_LEASE_RENEW_SECONDS: int(1, 300).default(10),
  CODECELL_OWNER_LEASE_STALE_SECONDS: int(3, 3600).default(30),

  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type RuntimeName = 'python' | 'node' | 'bash';

/** How LibreChat's Code API tokens are verified; null when JWT mode is off. */
export interface JwtSettings extends JwtVerificationKey {
  readonly issuer: string;
  readonly audience: string;
  readonly clockSkewSeconds: number;
  readonly maxTtlSeconds: number;
}

export interface Settings {
  readonly host: string;
  readonly port: number;
  readonly apiKeys: readonly string[];
  /** Tokens that open GET /metrics only (CODECELL_METRICS_KEYS or _FILE). */
  readonly metricsKeys: readonly string[];
  /** LibreChat JWT mode: tokens verified with this key are accepted beside (or instead of) API keys. */
  readonly jwt: JwtSettings | null;
  readonly allowOpen: boolean;
  readonly publicUrl: string | undefined;
  /** Whose X-Forwarded-* headers to believe (express "trust proxy"); false: nobody's. */
  readonly trustProxy: TrustProxy;
  readonly signingKey: string | undefined;
  readonly dataDir: string;
  readonly logLevel: z.infer<typeof EnvSchema>['LOG_LEVEL'];
  readonly limits: {
    readonly timeoutMs: number;
    readonly maxOutputChars: number;
    readonly memoryBytes: number;
    readonly nanoCpus: number;
    readonly pidsLimit: number;
    readonly tmpfsBytes: number;
    readonly artifactsBytes: number;
    readonly maxFileBytes: number;
    readonly sessionQuotaBytes: number;
    readonly sessionMaxFiles: number;
    /** What all sessions together may take on disk; 0: no budget. */
    readonly diskBudgetBytes: number;
    readonly maxImagesPerRun: number;
    /** Changed files a result lists one by one; the rest are counted per directory. */
    readonly maxListedFiles: number;
    /** What an MCP execution result's text and structuredContent may take together, in characters. */
    readonly maxResultChars: number;
    /** Inline images larger than this (longest side, or bytes) are sent downscaled; the full one stays a file. */
    readonly inlineImageMaxSide: number;
    readonly inlineImageMaxBytes: number;
  };
  readonly sessions: {
    readonly maxSessions: number;
    /** Sessions one principal (key + X-User-Id) may hold: no single user fills MAX_SESSIONS. */
    readonly maxSessionsPerPrincipal: number;
    /** Sessions all principals of one API key may hold together: no key fills MAX_SESSIONS for the others. */
    readonly maxSessionsPerKey: number;
    readonly ttlMs: number;
  };
  /** Per-principal budgets at the HTTP edge, so one principal cannot starve the rest. */
  readonly budgets: {
    /** Live MCP transport sessions on this server, and per principal. */
    readonly mcpSessions: number;
    readonly mcpSessionsPerPrincipal: number;
    /** Event streams (legacy SSE, Streamable HTTP GET) one principal may hold open at once. */
    readonly streamsPerPrincipal: number;
    /** Other requests (tool calls, runs, uploads) one principal may have in progress at once. */
    readonly requestsPerPrincipal: number;
    /** The same four budgets for all principals of one API key together (X-User-Id costs nothing to change). */
    readonly mcpSessionsPerKey: number;
    readonly streamsPerKey: number;
    readonly requestsPerKey: number;
  };
  /** Socket limits: half-open and slow connections must not exhaust file descriptors. */
  readonly connections: {
    readonly maxConnections: number;
    /** Connections that have not yet sent a complete request; past this the oldest is closed. */
    readonly maxPending: number;
    readonly headersTimeoutMs: number;
    readonly requestTimeoutMs: number;
    readonly keepAliveTimeoutMs: number;
  };
  readonly queue: {
    readonly concurrency: number;
    readonly maxWaiting: number;
  };
  readonly pool: {
    readonly python: number;
    readonly pythonLean: number;
    readonly node: number;
    readonly bash: number;
    readonly oneShot: number;
    /** Upper bound of any pool's demand-driven depth. */
    readonly max: number;
    /** Memory budget (bytes) of ready runners held above their pools' minimums. */
    readonly memoryBudgetBytes: number;
    /** Runner starts in flight at once. */
    readonly refillConcurrency: number;
    /** Window of demand; a pool shrinks back to its minimum this long after its last take. */
    readonly idleMs: number;
  };
  readonly docker: {
    /** DOCKER_HOST, else DOCKER_SOCKET (config/docker-endpoint.ts). */
    readonly endpoint: DockerEndpoint;
    readonly runtime: 'runc' | 'runsc';
    readonly imagePrefix: string;
  };
  /** Which executor runs code: Docker containers, sandboxed processes, or Docker when an engine answers. */
  readonly executor: 'docker' | 'process' | 'auto';
  readonly process: {
    /** Where the runners and the launcher are (<dir>/python/runner, node/runner, bash/runner, sandbox/launcher.py). */
    readonly sandboxDir: string;
    /** Run code even when neither bubblewrap nor Landlock + seccomp can confine it (warned loudly). */
    readonly allowWeakSandbox: boolean;
  };
  readonly signedUrlTtlMs: number;
  /** The data dir owner's lease: how often it is renewed, and when an unrenewed foreign one counts as lapsed. */
  readonly ownerLease: { readonly renewEveryMs: number; readonly staleAfterMs: number };
}

export class SettingsError extends Error {
  override readonly name = 'SettingsError';
}

/**
 * Parses settings from `env` (default: process.env) with `overrides` (CLI flags, same names) on top.
 * Throws SettingsError naming every bad variable.
 */
export function loadSettings(
  env: Record<string, string | undefined> = process.env,
  overrides: Record<string, string | undefined> = {},
): Settings {
  const merged: Record<string, string | undefined> = { ...env };
  for (const [key, value] of Object.entries(overrides)) if (value !== undefined) merged[key] = value;
  const known = Object.fromEntries(
    Object.keys(EnvSchema.shape)
      .filter((key) => merged[key] !== undefined)
      .map((key) => [key, merged[key]]),
  );
  const parsed = EnvSchema.safeParse(known);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new SettingsError(`invalid settings: ${problems}`);
  }
  const e = parsed.data;
  if (e.CODECELL_OWNER_LEASE_STALE_SECONDS < 3 * e.CODECELL_OWNER_LEASE_RENEW_SECONDS) {
    throw new SettingsError(
      'invalid settings: CODECELL_OWNER_LEASE_STALE_SECONDS must be at least 3 × CODECELL_OWNER_LEASE_RENEW_SECONDS (a live owner must not look stale after one late renewal)',
    );
  }
  const mb = 1024 * 1024;
  const jwt = jwtSettings(e);
  // JWT mode's tenants hold sessions under a key of their own, so beside an API key they share the server as two keys do.
  const keyHolders = e.CODECELL_API_KEYS.length + (jwt === null ? 0 : 1);
  return Object.freeze({
    host: e.HOST,
    port: e.PORT,
    apiKeys: Object.freeze([...e.CODECELL_API_KEYS]),
    metricsKeys: Object.freeze(metricsKeys(e)),
    jwt,
    allowOpen: e.CODECELL_ALLOW_OPEN,
    publicUrl: e.CODECELL_PUBLIC_URL,
    trustProxy: e.CODECELL_TRUST_PROXY,
    signingKey: e.CODECELL_SIGNING_KEY,
    dataDir: path.resolve(e.CODECELL_DATA_DIR ?? defaultDataDir(merged)),
    logLevel: e.LOG_LEVEL,
    limits: Object.freeze({
      timeoutMs: Math.round(e.EXECUTION_TIMEOUT * 1000),
      maxOutputChars: e.MAX_OUTPUT_LENGTH,
      memoryBytes: e.CODECELL_MEMORY_MB * mb,
      nanoCpus: Math.round(e.CODECELL_CPUS * 1e9),
      pidsLimit: e.CODECELL_PIDS_LIMIT,
      tmpfsBytes: e.CODECELL_TMPFS_MB * mb,
      artifactsBytes: e.CODECELL_ARTIFACTS_MB * mb,
      maxFileBytes: e.CODECELL_MAX_FILE_MB * mb,
      sessionQuotaBytes: e.CODECELL_SESSION_QUOTA_MB * mb,
      sessionMaxFiles: e.CODECELL_SESSION_MAX_FILES,
      diskBudgetBytes: e.CODECELL_DISK_BUDGET_MB * mb,
      maxImagesPerRun: e.CODECELL_MAX_IMAGES,
      maxListedFiles: e.CODECELL_MAX_LISTED_FILES,
      maxResultChars: e.CODECELL_MAX_RESULT_CHARS,
      inlineImageMaxSide: e.CODECELL_INLINE_IMAGE_MAX_PX,
      inlineImageMaxBytes: e.CODECELL_INLINE_IMAGE_MAX_KB * 1024,
    }),
    sessions: Object.freeze({
      maxSessions: e.MAX_SESSIONS,
      maxSessionsPerPrincipal: Math.min(e.MAX_SESSIONS_PER_USER, e.MAX_SESSIONS),
      maxSessionsPerKey: perKey(e.MAX_SESSIONS_PER_KEY, e.MAX_SESSIONS, keyHolders),
      ttlMs: e.CODECELL_SESSION_TTL_SECONDS * 1000,
    }),
    budgets: Object.freeze({
      mcpSessions: e.CODECELL_MCP_SESSIONS,
      mcpSessionsPerPrincipal: Math.min(e.CODECELL_MCP_SESSIONS_PER_USER, e.CODECELL_MCP_SESSIONS),
      streamsPerPrincipal: e.CODECELL_STREAMS_PER_USER,
      requestsPerPrincipal: e.CODECELL_REQUESTS_PER_USER,
      mcpSessionsPerKey: perKey(e.CODECELL_MCP_SESSIONS_PER_KEY, e.CODECELL_MCP_SESSIONS, keyHolders),
      streamsPerKey: e.CODECELL_STREAMS_PER_KEY ?? quarterOf(e.CODECELL_MAX_CONNECTIONS),
      requestsPerKey: e.CODECELL_REQUESTS_PER_KEY ?? quarterOf(e.CODECELL_MAX_CONNECTIONS),
    }),
    connections: Object.freeze({
      maxConnections: e.CODECELL_MAX_CONNECTIONS,
      maxPending: Math.min(e.CODECELL_MAX_PENDING_CONNECTIONS, e.CODECELL_MAX_CONNECTIONS),
      headersTimeoutMs: e.CODECELL_HEADERS_TIMEOUT_SECONDS * 1000,
      requestTimeoutMs: Math.max(e.CODECELL_REQUEST_TIMEOUT_SECONDS, e.CODECELL_HEADERS_TIMEOUT_SECONDS) * 1000,
      keepAliveTimeoutMs: e.CODECELL_KEEP_ALIVE_TIMEOUT_SECONDS * 1000,
    }),
    queue: Object.freeze({ concurrency: e.CODECELL_CONCURRENCY, maxWaiting: e.CODECELL_QUEUE_LIMIT }),
    pool: Object.freeze({
      python: e.CODECELL_POOL_PYTHON,
      pythonLean: e.CODECELL_POOL_PYTHON_LEAN,
      node: e.CODECELL_POOL_NODE,
      bash: e.CODECELL_POOL_BASH,
      oneShot: e.CODECELL_POOL_ONESHOT,
      max: e.CODECELL_POOL_MAX,
      memoryBudgetBytes: e.CODECELL_POOL_MEMORY_MB * 1024 * 1024,
      refillConcurrency: e.CODECELL_POOL_REFILL_CPUS ?? os.availableParallelism(),
      idleMs: e.CODECELL_POOL_IDLE_SECONDS * 1000,
    }),
    docker: Object.freeze({
      endpoint: Object.freeze(dockerEndpoint(e.DOCKER_HOST, e.DOCKER_SOCKET)),
      runtime: e.CODECELL_RUNTIME,
      imagePrefix: e.CODECELL_IMAGE_PREFIX,
    }),
    executor: e.CODECELL_EXECUTOR,
    process: Object.freeze({
      sandboxDir: e.CODECELL_SANDBOX_DIR,
      allowWeakSandbox: e.CODECELL_ALLOW_WEAK_SANDBOX,
    }),
    signedUrlTtlMs: e.CODECELL_SIGNED_URL_TTL_SECONDS * 1000,
    ownerLease: Object.freeze({
      renewEveryMs: e.CODECELL_OWNER_LEASE_RENEW_SECONDS * 1000,
      staleAfterMs: e.CODECELL_OWNER_LEASE_STALE_SECONDS * 1000,
    }),
  });
}

type ParsedEnv = z.infer<typeof EnvSchema>;

/**
 * The metrics-only tokens, from CODECELL_METRICS_KEYS or a file (commas or one per line; a file lets
 * Prometheus and the server share one mounted secret). One that is also an API key is refused: it
 * would open more than /metrics.
 */
function metricsKeys(e: ParsedEnv): string[] {
  const file = e.CODECELL_METRICS_KEYS_FILE;
  if (file !== undefined && e.CODECELL_METRICS_KEYS.length > 0) {
    throw new SettingsError('invalid settings: set CODECELL_METRICS_KEYS or CODECELL_METRICS_KEYS_FILE, not both');
  }
  let keys = e.CODECELL_METRICS_KEYS;
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new SettingsError(`invalid settings: CODECELL_METRICS_KEYS_FILE (${file}) cannot be read: ${(error as Error).message}`);
    }
    keys = text.split(/[,\n]/).map((item) => item.trim()).filter((item) => item.length > 0);
    if (keys.length === 0) throw new SettingsError(`invalid settings: CODECELL_METRICS_KEYS_FILE (${file}) holds no key`);
  }
  if (keys.some((key) => e.CODECELL_API_KEYS.includes(key))) {
    throw new SettingsError('invalid settings: a metrics key must not also be an API key (CODECELL_API_KEYS)');
  }
  return keys;
}

/** Reads and checks the JWT public key at start-up, so a bad key stops the server with a clear message. */
function jwtSettings(e: ParsedEnv): JwtSettings | null {
  const inline = e.CODECELL_JWT_PUBLIC_KEY !== undefined && e.CODECELL_JWT_PUBLIC_KEY.trim() !== '' ? e.CODECELL_JWT_PUBLIC_KEY : undefined;
  const file = e.CODECELL_JWT_PUBLIC_KEY_FILE;
  if (inline === undefined && file === undefined) return null;
  if (inline !== undefined && file !== undefined) {
    throw new SettingsError('invalid settings: set CODECELL_JWT_PUBLIC_KEY or CODECELL_JWT_PUBLIC_KEY_FILE, not both');
  }
  let text: string;
  let source: string;
  if (file !== undefined) {
    source = `CODECELL_JWT_PUBLIC_KEY_FILE (${file})`;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new SettingsError(`invalid settings: ${source} cannot be read: ${(error as Error).message}`);
    }
  } else {
    source = 'CODECELL_JWT_PUBLIC_KEY';
    text = inline ?? '';
  }
  try {
    const key = parseJwtPublicKey(text, source);
    return Object.freeze({
      ...key,
      issuer: e.CODECELL_JWT_ISSUER,
      audience: e.CODECELL_JWT_AUDIENCE,
      clockSkewSeconds: e.CODECELL_JWT_CLOCK_SKEW_SECONDS,
      maxTtlSeconds: e.CODECELL_JWT_MAX_TTL_SECONDS,
    });
  } catch (error) {
    if (error instanceof JwtKeyError) throw new SettingsError(`invalid settings: ${error.message}`);
    throw error;
  }
}

function halfOf(cap: number): number {
  return Math.max(1, Math.floor(cap / 2));
}

function quarterOf(cap: number): number {
  return Math.max(1, Math.floor(cap / 4));
}

/** A per-key cap: as set (at most the server cap), else the server cap for one key (or none), half of it for several. */
function perKey(configured: number | undefined, serverCap: number, keys: number): number {
  if (configured !== undefined) return Math.min(configured, serverCap);
  return keys <= 1 ? serverCap : halfOf(serverCap);
}

/** Every setting's name, for `codecell --set` and `codecell --help`. */
export const SETTING_NAMES = Object.keys(EnvSchema.shape);
