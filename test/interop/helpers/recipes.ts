/**
 * The configurations docs/librechat-code-api.md gives, as environments: what Codecell runs with and
 * what LibreChat's .env holds. The tier applies the LibreChat side to process.env, where the real
 * client package reads it (getCodeBaseURL reads LIBRECHAT_CODE_BASEURL).
 */
import { getCodeBaseURL } from '@librechat/agents';
import type { CodecellProcess } from './codecell-process.js';
import { defaultProfile, statefulProfile, type CodeExecutionContext } from './librechat.js';

export interface LibreChatEnv {
  LIBRECHAT_CODE_BASEURL: string;
  LIBRECHAT_CODE_BASEURL_STATEFUL?: string;
  [name: string]: string | undefined;
}

/** Sets LibreChat's variables for the duration of a file; returns the function that restores them. */
export function applyLibreChatEnv(env: LibreChatEnv): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [name, value] of Object.entries(env)) {
    saved.set(name, process.env[name]);
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
  return () => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  };
}

/** LibreChat's two execution contexts, from its environment (resolveCodeExecutionContext). */
export function contextsFromEnv(userId: string): { default: CodeExecutionContext; stateful: CodeExecutionContext | undefined } {
  const stateful = process.env.LIBRECHAT_CODE_BASEURL_STATEFUL?.trim().replace(/\/$/, '');
  return {
    default: defaultProfile(getCodeBaseURL().replace(/\/+$/, '')),
    stateful: stateful ? statefulProfile(stateful, userId) : undefined,
  };
}

/** LibreChat's .env for a Codecell reached at `server`: both base URLs point at its /v1. */
export function libreChatEnvFor(server: CodecellProcess, extra: Record<string, string> = {}): LibreChatEnv {
  return { LIBRECHAT_CODE_BASEURL: server.codeBaseUrl, LIBRECHAT_CODE_BASEURL_STATEFUL: server.codeBaseUrl, ...extra };
}

/** "3. Private network without auth": no keys, CODECELL_ALLOW_OPEN=true. */
export const OPEN_PRIVATE_NETWORK_RECIPE = { CODECELL_API_KEYS: '', CODECELL_ALLOW_OPEN: 'true' } as const;

/**
 * "1. JWT mode": Codecell is given the public half of LibreChat's key, as a file
 * (CODECELL_JWT_PUBLIC_KEY_FILE) or as PEM text (CODECELL_JWT_PUBLIC_KEY); the tier uses both forms.
 */
export function codecellJwtRecipe(key: { publicPem: string; publicPemFile: string }, form: 'file' | 'text'): Record<string, string> {
  return form === 'file' ? { CODECELL_JWT_PUBLIC_KEY_FILE: key.publicPemFile } : { CODECELL_JWT_PUBLIC_KEY: key.publicPem };
}

/** "2. Key header" (LibreChat ≤ 0.8.5, X-API-Key): Codecell has keys; LibreChat's .env has one as LIBRECHAT_CODE_API_KEY. */
export const INTEROP_API_KEY = 'interop-key-0123456789abcdef';
export const KEY_HEADER_RECIPE = { CODECELL_API_KEYS: INTEROP_API_KEY } as const;
