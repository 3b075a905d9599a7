import { link, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { CallToolResultSchema, type CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { registerFileTools } from '../../../src/interfaces/mcp/tools/file-tools.js';
import { filesFixture, type FilesFixture } from './helpers.js';

// The 8-byte PNG signature and an IHDR chunk: enough to be a png by name and bytes.
const PNG_BYTES = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489', 'hex');

interface Connected {
  readonly fx: FilesFixture;
  call(name: string, args: Record<string, unknown>): Promise<CallToolResult>;
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

/** A real MCP client talking to a server with only the file tools, acting for alice. */
async function connect(env: Record<string, string> = {}): Promise<Connected> {
  const fx = await filesFixture(env);
  const server = new McpServer({ name: 'codecell-test', version: '0.0.0' });
  registerFileTools(server, { files: fx.files, principal: fx.alice });
  const client = new Client({ name: 'test-client', version: '0.0.0' });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  cleanups.push(async () => {
    await client.close();
    await server.close();
    await fx.cleanup();
  });
  return {
    fx,
    call: async (name, args) => CallToolResultSchema.parse(await client.callTool({ name, arguments: args })),
  };
}

function textOf(result: CallToolResult): string {
  return result.content.map((block) => (block.type === 'text' ? block.text : `[${block.type}]`)).join('\n');
}

describe('file tools over MCP', () => {
  it('offers upload_file, list_files and read_file with input schemas', async () => {
    const fx = await filesFixture();
    const server = new McpServer({ name: 'codecell-test', version: '0.0.0' });
    registerFileTools(server, { files: fx.files, principal: fx.alice });
    const client = new Client({ name: 'test-client', version: '0.0.0' });
    const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(['list_files', 'read_file', 'upload_file']);
    const upload = tools.find((tool) => tool.name === 'upload_file');
    expect(upload?.inputSchema.required).toEqual(['filename', 'content']);
    await client.close();
    await fx.cleanup();
  });

  it('uploads text and base64, lists, and reads text back', async () => {
    const { fx, call } = await connect();
    const { id } = await fx.aliceSession();

    const uploaded = await call('upload_file', { filename: 'data/sales.csv', content: 'month,total\njan,10\n', session_id: id });
    expect(uploaded.isError).toBeFalsy();
    expect(textOf(uploaded)).toContain('/mnt/data/data/sales.csv');
    expect(uploaded.structuredContent).toMatchObject({ session_id: id, path: 'data/sales.csv', size: 19 });

    const binary = await call('upload_file', { filename: '/mnt/data/img.png', content: PNG_BYTES.toString('base64'), encoding: 'base64', session_id: id });
    expect(binary.structuredContent).toMatchObject({ path: 'img.png', size: PNG_BYTES.length, mime_type: 'image/png' });

    const listed = await call('list_files', { session_id: id });
    expect(textOf(listed)).toContain('2 files');
    expect(textOf(listed)).toContain('data/sales.csv');
    expect(listed.structuredContent).toMatchObject({ total: 2 });

    const read = await call('read_file', { path: 'data/sales.csv', session_id: id });
    expect(read.isError).toBeFalsy();
    expect(textOf(read)).toContain('month,total\njan,10\n');
  });

  it('uses the default session when session_id is left out or empty', async () => {
    const { call } = await connect();
    await call('upload_file', { filename: 'note.md', content: '# hi' });
    const read = await call('read_file', { path: 'note.md', session_id: '' });
    expect(textOf(read)).toContain('# hi');
  });

  it('returns images as image content', async () => {
    const { fx, call } = await connect();
    const { id, dir } = await fx.aliceSession();
    await writeFile(path.join(dir, 'plot.png'), PNG_BYTES);
    const read = await call('read_file', { path: 'plot.png', session_id: id });
    const image = read.content.find((block) => block.type === 'image');
    expect(image).toEqual({ type: 'image', data: PNG_BYTES.toString('base64'), mimeType: 'image/png' });
  });

  it('cuts long text and says so, without splitting a character', async () => {
    const { fx, call } = await connect();
    const { id, dir } = await fx.aliceSession();
    await writeFile(path.join(dir, 'long.txt'), 'é'.repeat(80_000)); // 160,000 bytes
    const text = textOf(await call('read_file', { path: 'long.txt', session_id: id }));
    expect(text).toContain('Showing the first 100 KiB of 156 KiB');
    expect(text).not.toContain('\uFFFD');
  });

  it('offers binary files as a signed link, or explains the REST route without a public URL', async () => {
    const withUrl = await connect({ CODECELL_PUBLIC_URL: 'https://codecell.test' });
    const a = await withUrl.fx.aliceSession();
    await writeFile(path.join(a.dir, 'model.parquet'), Buffer.from([0x50, 0x41, 0x52, 0x31, 0, 0, 0]));
    const linked = textOf(await withUrl.call('read_file', { path: 'model.parquet', session_id: a.id }));
    expect(linked).toMatch(/Download link \(valid for 60 min\): https:\/\/codecell\.test\/files\/signed\/\S+/);

    const withoutUrl = await connect();
    const b = await withoutUrl.fx.aliceSession();
    await writeFile(path.join(b.dir, 'model.parquet'), Buffer.from([0, 1, 2]));
    const hint = textOf(await withoutUrl.call('read_file', { path: 'model.parquet', session_id: b.id }));
    expect(hint).toContain(`GET /v1/sessions/${b.id}/files/model.parquet`);
  });

  it('refuses a symlink to /etc/shadow and a hardlink, showing none of the target', async () => {
    const { fx, call } = await connect({ CODECELL_PUBLIC_URL: 'https://codecell.test' });
    const { id, dir } = await fx.aliceSession();
    await symlink('/etc/shadow', path.join(dir, 'shadow'));
    await symlink('/etc/shadow', path.join(dir, 'shadow.png'));
    await writeFile(path.join(dir, 'real.txt'), 'x');
    await link(path.join(dir, 'real.txt'), path.join(dir, 'alias.txt'));

    for (const target of ['shadow', 'shadow.png', 'alias.txt']) {
      const result = await call('read_file', { path: target, session_id: id });
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/INVALID_INPUT: .*(symbolic|hard) link/);
      expect(textOf(result)).not.toContain('root:');
    }
    const listed = textOf(await call('list_files', { session_id: id }));
    expect(listed).toContain('shadow (symbolic link: never read or served)');
  });

  it('reports bad input as tool errors', async () => {
    const { fx, call } = await connect({ CODECELL_MAX_FILE_MB: '1' });
    const { id } = await fx.aliceSession();
    const escape = await call('upload_file', { filename: '../../etc/cron.d/x', content: 'x', session_id: id });
    expect(escape.isError).toBe(true);
    expect(textOf(escape)).toContain("'..'");

    const badBase64 = await call('upload_file', { filename: 'a.bin', content: 'not base64!!', encoding: 'base64', session_id: id });
    expect(textOf(badBase64)).toContain('not valid base64');

    const tooBig = await call('upload_file', { filename: 'big.txt', content: 'x'.repeat(1024 * 1024 + 1), session_id: id });
    expect(textOf(tooBig)).toContain('FILE_TOO_LARGE');

    const missing = await call('read_file', { path: 'nope.txt', session_id: id });
    expect(textOf(missing)).toContain('FILE_NOT_FOUND');

    const foreign = await call('list_files', { session_id: (await fx.sessions.create(fx.bob)).id });
    expect(textOf(foreign)).toContain('SESSION_NOT_FOUND');
  });
});
