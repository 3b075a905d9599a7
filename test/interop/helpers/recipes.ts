/**
 * The three recipes of docs/librechat-code-api.md as the tier runs them: read from the document
 * (helpers/doc-recipes.ts), placeholders filled with this run's key, key files and server address.
 * LibreChat's side is applied to process.env, where the real client package reads it
 * (getCodeBaseURL reads LIBRECHAT_CODE_BASEURL, the old client LIBRECHAT_CODE_API_KEY, the minter CODEAPI_JWT_*).
 */
import { execFileSync } from 'node:child_process';
import { getCodeBaseURL } from '@librechat/agents';
import type { CodeApiKeyPair } from './codeapi-jwt.js';
import { docRecipe, pointAt, type DocRecipe } from './doc-recipes.js';
import { defaultProfile, statefulProfile, type CodeExecutionContext } from './librechat.js';

/** Sets LibreChat's variables (clearing any other LIBRECHAT_* / CODEAPI_*) for a file; returns the function that restores them. */
export function applyLibreChatEnv(env: Record<string, string>): () => void {
  const saved = new Map<string, string | undefined>();
  const names = new Set([...Object.keys(process.env).filter((name) => /^(LIBRECHAT|CODEAPI)_/.test(name)), ...Object.keys(env)]);
  for (const name of names) {
    saved.set(name, process.env[name]);
    const value = env[name];
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

export { pointAt, type DocRecipe };

/** "3. Private network without auth". */
export function openPrivateNetworkRecipe(): DocRecipe {
  return docRecipe(3, {});
}

/** "2. Key header" (LibreChat ≤ 0.8.5, X-API-Key), with this key. */
export const INTEROP_API_KEY = 'interop-key-0123456789abcdef';
export function keyHeaderRecipe(): DocRecipe {
  return docRecipe(2, { "<one of Codecell's CODECELL_API_KEYS>": INTEROP_API_KEY, '<key>': INTEROP_API_KEY });
}

/**
 * "1. JWT mode" with a key pair made by the recipe's openssl commands. EdDSA as written (public key
 * as a file); RS256 as the recipe's comments say (CODEAPI_JWT_ALGORITHM=RS256, public key as PEM text
 * in CODECELL_JWT_PUBLIC_KEY).
 */
export function jwtRecipe(pair: CodeApiKeyPair): DocRecipe {
  const recipe = docRecipe(1, {
    '<output of: base64 -w0 codeapi-private.pem>': execFileSync('base64', ['-w0', pair.privatePemFile], { encoding: 'utf8' }),
    '/run/secrets/codeapi-public.pem': pair.publicPemFile,
  });
  if (pair.alg === 'EdDSA') return recipe;
  const { CODECELL_JWT_PUBLIC_KEY_FILE: _file, ...codecell } = recipe.codecell;
  return { codecell: { ...codecell, CODECELL_JWT_PUBLIC_KEY: pair.publicPem }, libreChat: { ...recipe.libreChat, CODEAPI_JWT_ALGORITHM: 'RS256' } };
}
