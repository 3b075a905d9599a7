/**
 * Results that fit a model's context, through the real server and the official MCP SDK client over
 * Streamable HTTP: a run that writes thousands of files, a git repository, a 6,300 px plot, and
 * upload_file at its stated limit.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ExecutionOutputSchema } from '../../src/interfaces/mcp/render-result.js';
import { callTool, connectStreamable, imagesOf, sessionOf, textOf } from './helpers/mcp-client.js';
import { startTestServer, TEST_KEY, type TestServer } from './helpers/test-server.js';
import { TESTS_USE_DOCKER } from '../helpers/engine.js';

const RESULT_BUDGET = 24_000;

let server: TestServer;
let client: Client;
/** The same server with the bounds lifted: what a result took before they existed. */
let unbounded: TestServer;
let unboundedClient: Client;

beforeAll(async () => {
  server = await startTestServer({ publicUrl: true, env: { EXECUTION_TIMEOUT: '60' } });
  client = await connectStreamable(server.url, { userId: 'bounded-user' });
  unbounded = await startTestServer({
    publicUrl: true,
    env: { EXECUTION_TIMEOUT: '60', CODECELL_MAX_LISTED_FILES: '100000', CODECELL_MAX_RESULT_CHARS: '100000000' },
  });
  unboundedClient = await connectStreamable(unbounded.url, { userId: 'bounded-user' });
});

afterAll(async () => {
  await client?.close();
  await unboundedClient?.close();
  await server?.close();
  await unbounded?.close();
});

/** What a result puts in a model's context besides images: its text and structuredContent. */
function resultChars(result: CallToolResult): number {
  return textOf(result).length + JSON.stringify(result.structuredContent).length;
}

function writeFilesCommand(count: number): string {
  return `mkdir -p out && for i in $(seq ${count}); do echo "row $i,$((i * 7))" > out/part-$i.csv; done && echo done > summary.txt`;
}

describe('changed-file lists', () => {
  it.each([3000, 399])('keeps the result of a run that writes %i files under the budget, counting the rest', async (count) => {
    const session = sessionOf(await callTool(client, 'create_execution_session'));
    const unboundedSession = sessionOf(await callTool(unboundedClient, 'create_execution_session'));
    const before = await callTool(unboundedClient, 'execute_bash_command', { command: writeFilesCommand(count), session_id: unboundedSession });
    const after = await callTool(client, 'execute_bash_command', { command: writeFilesCommand(count), session_id: session });
    console.info(`result for ${count} files: ${resultChars(before)} characters unbounded, ${resultChars(after)} bounded`);
    expect(before.isError, textOf(before)).toBe(false);
    expect(after.isError, textOf(after)).toBe(false);
    expect(resultChars(before)).toBeGreaterThan(count * 200);
    expect(resultChars(after)).toBeLessThanOrEqual(RESULT_BUDGET);

    const output = ExecutionOutputSchema.parse(after.structuredContent);
    expect(output.files_total).toBe(count + 1);
    // The top-level file is listed first; the rest of out/ is one counted line.
    expect(output.files.map((file) => file.path)).toContain('summary.txt');
    expect(output.files.length).toBeLessThanOrEqual(50);
    const outGroup = output.files_unlisted.omitted.find((group) => group.directory === 'out/');
    expect(outGroup?.files).toBe(count + 1 - output.files.length);
    expect(textOf(after)).toContain(`+ ${(count + 1 - output.files.length).toLocaleString('en-US')} more files in /mnt/data/out/`);

    // Every file is still there to list and read.
    const listing = await callTool(client, 'list_files', { session_id: session });
    expect(listing.structuredContent?.total).toBe(count + 1);
  });

  it('folds a git repository into one line', async () => {
    // A real repository where git runs; in a Space (process executor sharing the server's uid) chmod by
    // path is refused and git cannot write its lock files, so the same kind of tree is made by hand there.
    const makeRepository = TESTS_USE_DOCKER
      ? 'git init -q && echo hi > readme.md && git add readme.md && git -c user.email=a@b -c user.name=a commit -qm first'
      : 'mkdir -p .git/refs/heads .git/objects/info && echo "ref: refs/heads/main" > .git/HEAD && for i in $(seq 1 12); do echo $i > .git/objects/o$i; done && echo hi > readme.md';
    const result = await callTool(client, 'execute_bash_command', { command: `mkdir proj && cd proj && ${makeRepository}` });
    expect(result.isError, textOf(result)).toBe(false);
    const output = ExecutionOutputSchema.parse(result.structuredContent);
    expect(output.files.map((file) => file.path)).toEqual(['proj/readme.md']);
    const git = output.files_unlisted.folded.find((group) => group.directory === 'proj/.git/');
    expect(git?.label).toBe('git repository');
    expect(git?.files).toBeGreaterThan(10);
    expect(output.files_total).toBe(1 + (git?.files ?? 0));
    expect(textOf(result)).toMatch(/- git repository \/mnt\/data\/proj\/\.git\/: \d+ files/);
  });
});

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function download(url: string): Promise<Buffer> {
  const response = await fetch(url);
  expect(response.status).toBe(200);
  return Buffer.from(await response.arrayBuffer());
}

function pngSize(bytes: Buffer): { width: number; height: number } {
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('large images', () => {
  const PLOT = [
    'import hashlib',
    'import matplotlib',
    'matplotlib.use("Agg")',
    'import matplotlib.pyplot as plt',
    'import numpy as np',
    'fig = plt.figure(figsize=(6.3, 2.1), dpi=1000)',
    'x = np.linspace(0, 20, 4000)',
    'for k in range(12): plt.plot(x, np.sin(x * (k + 1) / 3) + k, linewidth=0.4)',
  ];

  it('shows a saved 6,300 px plot downscaled and keeps the file in full', async () => {
    const code = [...PLOT, 'plt.rcParams["savefig.bbox"] = "standard"  # the whole 6,300 px canvas, not trimmed to the drawing', 'plt.savefig("big.png", dpi=1000)', 'plt.close(fig)', 'print(hashlib.sha256(open("big.png", "rb").read()).hexdigest())'].join('\n');
    const result = await callTool(client, 'execute_python_code', { code });
    expect(result.isError, textOf(result)).toBe(false);
    const output = ExecutionOutputSchema.parse(result.structuredContent);
    const [image] = imagesOf(result);
    const inline = Buffer.from(image?.data ?? '', 'base64');
    expect(inline.length).toBeLessThanOrEqual(1024 * 1024);
    expect(Math.max(pngSize(inline).width, pngSize(inline).height)).toBeLessThanOrEqual(2048);
    const file = output.files.find((entry) => entry.path === 'big.png');
    const full = await download(file?.download_url ?? '');
    expect(sha256(full)).toBe(output.stdout.trim());
    const { width, height } = pngSize(full);
    console.info(`saved plot: ${width}×${height}, ${full.length} bytes in full; inline ${pngSize(inline).width}×${pngSize(inline).height}, ${inline.length} bytes`);
    expect([width, height]).toEqual([6300, 2100]);
    expect(output.images[0]).toMatchObject({ name: 'big.png', full_size: { width, height, bytes: full.length, path: 'big.png' } });
    expect(textOf(result)).toContain(`downscaled from ${width}×${height}`);
  });

  it('keeps a shown 6,300 px figure in full as a file next to its downscaled copy', async () => {
    const code = [...PLOT, 'plt.show()'].join('\n');
    const result = await callTool(client, 'execute_python_code', { code });
    expect(result.isError, textOf(result)).toBe(false);
    const output = ExecutionOutputSchema.parse(result.structuredContent);
    expect(imagesOf(result)).toHaveLength(1);
    const inline = Buffer.from(imagesOf(result)[0]?.data ?? '', 'base64');
    expect(inline.length).toBeLessThanOrEqual(1024 * 1024);
    const fullPath = output.images[0]?.full_size?.path;
    expect(fullPath, textOf(result)).toMatch(/^figure-\d+-full-size\.png$/);
    const file = output.files.find((entry) => entry.path === fullPath);
    expect(file, textOf(result)).toBeDefined();
    const full = await download(file?.download_url ?? '');
    console.info(`shown figure: ${pngSize(full).width}×${pngSize(full).height}, ${full.length} bytes in full; inline ${inline.length} bytes`);
    expect(pngSize(full).width).toBeGreaterThan(5000);
    expect(output.images[0]?.full_size).toMatchObject({ ...pngSize(full), bytes: full.length });
    // Code sees the same bytes in /mnt/data.
    const check = await callTool(client, 'execute_python_code', {
      code: `import hashlib\nprint(hashlib.sha256(open(${JSON.stringify(fullPath)}, "rb").read()).hexdigest())`,
      session_id: sessionOf(result),
    });
    expect(ExecutionOutputSchema.parse(check.structuredContent).stdout.trim()).toBe(sha256(full));
  });
});

describe('upload_file at its stated limit', () => {
  const LIMIT = 25 * 1024 * 1024;

  it('states the real limit in its description', async () => {
    const { tools } = await client.listTools();
    expect(tools.find((tool) => tool.name === 'upload_file')?.description).toContain('Up to 25 MiB per file (as base64, 33 MiB of text)');
  });

  it('stores a file just under the limit byte for byte', async () => {
    const bytes = randomBytes(LIMIT - 1);
    const stored = await callTool(client, 'upload_file', { filename: 'blob.bin', content: bytes.toString('base64'), encoding: 'base64' });
    expect(stored.isError ?? false, textOf(stored)).toBe(false);
    expect(stored.structuredContent?.size).toBe(LIMIT - 1);
    const response = await fetch(`${server.url}/v1/sessions/${sessionOf(stored)}/files/blob.bin`, {
      headers: { Authorization: `Bearer ${TEST_KEY}`, 'X-User-Id': 'bounded-user' },
    });
    expect(response.status).toBe(200);
    expect(sha256(Buffer.from(await response.arrayBuffer()))).toBe(sha256(bytes));
  });

  it('refuses a file just over the limit with an error about files', async () => {
    const refused = await callTool(client, 'upload_file', {
      filename: 'too-big.bin',
      content: randomBytes(LIMIT + 1).toString('base64'),
      encoding: 'base64',
    });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain('larger than the limit of 25 MiB per file');
  });

  it('answers a body past the cap with the file limit, not advice about code', async () => {
    await expect(
      callTool(client, 'upload_file', { filename: 'huge.bin', content: 'A'.repeat(36 * 1024 * 1024), encoding: 'base64' }),
    ).rejects.toThrow(/upload_file takes files up to 25 MiB/);
  });
});
