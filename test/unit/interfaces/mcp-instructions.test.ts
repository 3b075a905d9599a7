/**
 * The server's `instructions` name every tool a client is offered, and no tool it is not: read both
 * through the MCP SDK's own client, over an in-memory transport (no Docker: listing tools runs none).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../../src/config/settings.js';
import type { EngineApi } from '../../../src/engine/types.js';
import { FileService } from '../../../src/files/file-service.js';
import { createLogger } from '../../../src/logger.js';
import { createMcpServer } from '../../../src/interfaces/mcp/create-mcp-server.js';
import { principalFor } from '../../../src/sessions/principal.js';
import { SessionStore } from '../../../src/sessions/session-store.js';

/** An engine this test never reaches: listing tools and reading instructions run nothing. */
const UNREACHED_ENGINE = new Proxy({} as EngineApi, {
  get: (_target, member) => () => {
    throw new Error(`the engine was not meant to be used here (${String(member)})`);
  },
});

let dataDir: string;
let client: Client;

beforeAll(async () => {
  dataDir = mkdtempSync(path.join(os.tmpdir(), 'codecell-instructions-'));
  const settings = loadSettings({}, { CODECELL_DATA_DIR: dataDir, LOG_LEVEL: 'silent' });
  const sessions = await SessionStore.open({ dataDir, ttlMs: settings.sessions.ttlMs, maxSessions: 10 });
  const server = createMcpServer({
    engine: UNREACHED_ENGINE,
    files: new FileService({ sessions, settings }),
    principal: principalFor(null, 'instructions-test'),
    settings,
    logger: createLogger('silent'),
  });
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  client = new Client({ name: 'instructions-test', version: '1.0.0' });
  await client.connect(clientSide);
});

afterAll(async () => {
  await client?.close();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** Tool-shaped names (snake_case) in the instructions' "Tools:" section. */
function toolsNamedIn(instructions: string): string[] {
  const section = /^Tools:\n((?:- .*\n?)+)/m.exec(instructions)?.[1] ?? '';
  const names = section.split('\n').flatMap((line) => /^- ([^:]+):/.exec(line)?.[1]?.split(', ') ?? []);
  return names.map((name) => name.trim());
}

describe('MCP instructions', () => {
  it('name every registered tool once, and only registered tools', async () => {
    const instructions = client.getInstructions() ?? '';
    const offered = (await client.listTools()).tools.map((tool) => tool.name).sort();
    const named = toolsNamedIn(instructions);
    expect(offered.length).toBeGreaterThan(0);
    expect(new Set(named).size).toBe(named.length);
    expect([...named].sort()).toEqual(offered);
  });
});
