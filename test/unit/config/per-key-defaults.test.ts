/** Per-key budgets: the server caps with one key (or none), half of them with several; set values win, up to the server cap. */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';

const JWT_PUBLIC_KEY = generateKeyPairSync('ed25519').publicKey.export({ format: 'pem', type: 'spki' }).toString();

describe('per-key budget defaults', () => {
  it('equal the server caps with one key, and without keys', () => {
    for (const keys of [{ CODECELL_API_KEYS: 'only-key' }, {}]) {
      const settings = loadSettings({}, { MAX_SESSIONS: '40', CODECELL_MCP_SESSIONS: '60', CODECELL_MAX_CONNECTIONS: '100', ...keys });
      expect(settings.sessions.maxSessionsPerKey).toBe(40);
      expect(settings.budgets.mcpSessionsPerKey).toBe(60);
      // Requests and streams: a quarter of the connections each whatever the keys, so one key leaves room for /healthz.
      expect(settings.budgets.requestsPerKey).toBe(25);
      expect(settings.budgets.streamsPerKey).toBe(25);
    }
  });

  it('are half the server caps with several keys', () => {
    const settings = loadSettings({}, { CODECELL_API_KEYS: 'key-one,key-two,key-three', MAX_SESSIONS: '40', CODECELL_MCP_SESSIONS: '60' });
    expect(settings.sessions.maxSessionsPerKey).toBe(20);
    expect(settings.budgets.mcpSessionsPerKey).toBe(30);
  });

  it('count JWT mode as one more key: half beside an API key, the whole server alone', () => {
    const caps = { MAX_SESSIONS: '40', CODECELL_MCP_SESSIONS: '60', CODECELL_JWT_PUBLIC_KEY: JWT_PUBLIC_KEY };
    const beside = loadSettings({}, { ...caps, CODECELL_API_KEYS: 'only-key' });
    expect(beside.sessions.maxSessionsPerKey).toBe(20);
    expect(beside.budgets.mcpSessionsPerKey).toBe(30);
    const alone = loadSettings({}, { ...caps, CODECELL_API_KEYS: '' });
    expect(alone.sessions.maxSessionsPerKey).toBe(40);
    expect(alone.budgets.mcpSessionsPerKey).toBe(60);
  });

  it('take a set value, never above the server cap', () => {
    const settings = loadSettings({}, { CODECELL_API_KEYS: 'a-key,b-key', MAX_SESSIONS: '40', MAX_SESSIONS_PER_KEY: '500', CODECELL_MCP_SESSIONS_PER_KEY: '7', CODECELL_REQUESTS_PER_KEY: '9' });
    expect(settings.sessions.maxSessionsPerKey).toBe(40);
    expect(settings.budgets.mcpSessionsPerKey).toBe(7);
    expect(settings.budgets.requestsPerKey).toBe(9);
  });
});
