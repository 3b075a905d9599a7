/**
 * Recipe 2 (key header): Codecell with CODECELL_API_KEYS, LibreChat's .env with LIBRECHAT_CODE_API_KEY.
 * Only the older client (3.0.50) sends that key (as X-API-Key); the current one (3.9.2) never reads it,
 * so against a keyed Codecell its runs are refused, which is why current LibreChat needs the JWT or
 * the private-network recipe. Both are shown here with the real packages.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCodecell, type CodecellProcess } from './helpers/codecell-process.js';
import { legacyCodeTool } from './helpers/legacy-client.js';
import { LibreChatCodeTools, defaultProfile, uploadAsLibreChat } from './helpers/librechat.js';
import { INTEROP_API_KEY, applyLibreChatEnv, contextsFromEnv, keyHeaderRecipe, pointAt } from './helpers/recipes.js';

let server: CodecellProcess;
let restoreEnv: () => void;

beforeAll(async () => {
  const recipe = keyHeaderRecipe();
  server = await startCodecell(recipe.codecell);
  restoreEnv = applyLibreChatEnv(pointAt(recipe.libreChat, server.codeBaseUrl));
});

afterAll(async () => {
  restoreEnv?.();
  await server?.stop();
});

describe('recipe 2 (key header): LibreChat with LIBRECHAT_CODE_API_KEY (client 3.0.50, X-API-Key)', () => {
  it('runs code, and a later call that names the session gets the files the first one wrote', async () => {
    const run = await legacyCodeTool('key-user');
    const first = await run({ lang: 'py', code: 'open("/mnt/data/count.txt", "w").write("17")\nprint("written")' });
    expect(first.content).toContain('stdout:\nwritten');
    expect(first.content).toContain('/mnt/data/count.txt');
    const sessionId = first.artifact?.session_id;
    expect(sessionId).toMatch(/^[A-Za-z0-9_-]{21}$/);
    // The old client lists the session's files (GET /files/{sid}?detail=full with X-API-Key) and passes them on.
    const second = await run({ lang: 'py', code: 'print(int(open("/mnt/data/count.txt").read()) + 25)', session_id: sessionId ?? '' });
    expect(second.content).toContain('stdout:\n42');
  });

  it('is refused with a wrong key', async () => {
    const saved = process.env.LIBRECHAT_CODE_API_KEY;
    process.env.LIBRECHAT_CODE_API_KEY = 'not-the-key-000000';
    try {
      const run = await legacyCodeTool('key-user');
      await expect(run({ lang: 'py', code: 'print(1)' })).rejects.toThrow('HTTP error! status: 401');
    } finally {
      process.env.LIBRECHAT_CODE_API_KEY = saved;
    }
  });
});

describe('current LibreChat (client 3.9.2) against the same keyed Codecell', () => {
  it('sends no key, so the model reads "not authorized"', async () => {
    const tools = new LibreChatCodeTools('key-user-new', contextsFromEnv('key-user-new').default);
    const result = await tools.executeCode({ lang: 'py', code: 'print(1)' });
    expect(result.content).toBe('Error: Execution error:\n\nCode execution is not authorized. Verify access before trying again.\n Please fix your mistakes.');
  });
});

describe('the key in the URL, which the docs advise against', () => {
  it('never reaches Codecell from execute_code: node-fetch refuses the URL and the model is told to retry', async () => {
    const keyInUrl = server.codeBaseUrl.replace('http://', `http://${INTEROP_API_KEY}@`);
    const tools = new LibreChatCodeTools('key-in-url', defaultProfile(keyInUrl));
    const result = await tools.executeCode({ lang: 'py', code: 'print(1)' });
    expect(result.content).toBe('Error: Execution error:\n\nCode execution is temporarily unavailable. Please retry.\n Please fix your mistakes.');
  });

  it('while uploads through axios get through with it (Basic auth), which makes the setup look half-working', async () => {
    const keyInUrl = server.codeBaseUrl.replace('http://', `http://${INTEROP_API_KEY}@`);
    const uploaded = await uploadAsLibreChat(keyInUrl, { userId: 'key-in-url', filename: 'a.txt', bytes: Buffer.from('a') });
    expect(uploaded.files.map((file) => file.filename)).toEqual(['a.txt']);
  });
});
