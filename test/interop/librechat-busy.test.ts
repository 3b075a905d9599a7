/**
 * A full Codecell, seen through LibreChat's client: recipe 3 with room for two sessions. Every
 * stateless run is a session, so the third run is refused with 429, and the model reads the client's
 * "rate-limited, retry after N seconds" built from Codecell's retry_after_seconds.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startCodecell, type CodecellProcess } from './helpers/codecell-process.js';
import { LibreChatCodeTools } from './helpers/librechat.js';
import { applyLibreChatEnv, contextsFromEnv, openPrivateNetworkRecipe, pointAt } from './helpers/recipes.js';

let server: CodecellProcess;
let restoreEnv: () => void;

beforeAll(async () => {
  const recipe = openPrivateNetworkRecipe();
  server = await startCodecell({ ...recipe.codecell, MAX_SESSIONS: '2' });
  restoreEnv = applyLibreChatEnv(pointAt(recipe.libreChat, server.codeBaseUrl));
});

afterAll(async () => {
  restoreEnv?.();
  await server?.stop();
});

it('the run past MAX_SESSIONS reads "rate-limited, retry after N seconds"', async () => {
  const tools = new LibreChatCodeTools('busy-user', contextsFromEnv('busy-user').default);
  expect((await tools.executeCode({ lang: 'py', code: 'print(1)' })).content).toBe('stdout:\n1');
  expect((await tools.executeCode({ lang: 'py', code: 'print(2)' })).content).toBe('stdout:\n2');
  const third = await tools.executeCode({ lang: 'py', code: 'print(3)' });
  expect(third.status).toBe('error');
  expect(third.content).toMatch(/^Error: Execution error:\n\nCode execution is temporarily rate-limited\. Retry after [1-9]\d* seconds\.\n Please fix your mistakes\.$/);
});
