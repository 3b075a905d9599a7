/**
 * What models write when they use execute_code and /v1/exec in everyday chats, on a real server with
 * the real images: language names in any case, R plots without a device, PHP without its open tag,
 * Java's null pointers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { callTool, connectStreamable, imagesOf, textOf } from '../interfaces/helpers/mcp-client.js';
import { startTestServer, TEST_KEY, type TestServer } from '../interfaces/helpers/test-server.js';

const PNG_SIGNATURE = '89504e470d0a1a0a';

describe('code as models write it, through MCP and /v1/exec', () => {
  let server: TestServer;
  let client: Client;

  beforeAll(async () => {
    server = await startTestServer({ env: { CODECELL_POOL_ONESHOT: '0' } });
    client = await connectStreamable(server.url);
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
  });

  it('execute_code takes a language name in any case, with spaces around it', async () => {
    const r = await callTool(client, 'execute_code', { language: 'R', code: 'cat(6 * 7, "\\n")' });
    const cpp = await callTool(client, 'execute_code', { language: ' C++ ', code: '#include <cstdio>\nint main(){ std::puts("cxx"); }' });
    const python = await callTool(client, 'execute_code', { language: 'Python', code: 'print(2 ** 10)' });
    const outputs = [r, cpp, python].map((result) => result.structuredContent as { language: string; status: string; stdout: string });
    expect(outputs.map((output) => [output.language, output.status, output.stdout])).toEqual([
      ['r', 'ok', '42 \n'],
      ['cpp', 'ok', 'cxx\n'],
      ['python', 'ok', '1024\n'],
    ]);
  });

  it('execute_code refuses a language it does not offer by naming the ones it does', async () => {
    const result = await callTool(client, 'execute_code', { language: 'C#', code: 'class P { static void Main() {} }' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toContain('Unsupported language: c#. This server runs python, javascript, typescript, bash, c, cpp');
    expect(textOf(result)).toContain('r, d and fortran');
  });

  it('an R plot drawn without opening a device comes back as a PNG image, not Rplots.pdf', async () => {
    const result = await callTool(client, 'execute_code', {
      language: 'r',
      code: 'x <- c(1, 2, 2, 3, 3, 3)\nhist(x)\ncat("bins drawn\\n")',
    });
    expect(result.isError, textOf(result)).toBeFalsy();
    const output = result.structuredContent as { stdout: string; files: Array<{ path: string }> };
    expect(output.stdout).toBe('bins drawn\n');
    expect(output.files.map((file) => file.path)).toEqual(['Rplot001.png']);
    const images = imagesOf(result);
    expect(images.map((image) => image.mimeType)).toEqual(['image/png']);
    expect(Buffer.from(images[0]?.data ?? '', 'base64').subarray(0, 8).toString('hex')).toBe(PNG_SIGNATURE);
  });

  it('/v1/exec runs PHP sent without <?php as code, keeps its line numbers, and prints an error once', async () => {
    const response = await fetch(`${server.url}/v1/exec`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', 'X-API-Key': TEST_KEY },
      body: JSON.stringify({ lang: 'php', code: '$a = [3, 4];\necho array_sum($a), "\\n";\nmissing_function();', user_id: 'php-user' }),
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { status: string; stdout: string; stderr: string };
    expect([body.status, body.stdout]).toEqual(['error', '7\n']);
    expect(body.stderr).toContain('Call to undefined function missing_function() in /run/codecell/build/src/main.php:3');
    expect(body.stderr.match(/Uncaught Error/g)).toHaveLength(1);
  });

  it('PHP that has its open tag runs unchanged, text before the tag included', async () => {
    const result = await callTool(client, 'execute_code', { language: 'php', code: 'Total: <?= 2 + 3 ?> items\n<?php echo "done\\n";' });
    expect((result.structuredContent as { stdout: string }).stdout).toBe('Total: 5 items\ndone\n');
  });

  it('a Java NullPointerException names the variable that was null, not <local1>', async () => {
    const result = await callTool(client, 'execute_code', {
      language: 'java',
      code: 'public class Report {\n  public static void main(String[] args) {\n    String title = null;\n    System.out.println(title.length());\n  }\n}',
    });
    const output = result.structuredContent as { status: string; stderr: string };
    expect(output.status).toBe('error');
    expect(output.stderr).toContain('Cannot invoke "String.length()" because "title" is null');
    expect(output.stderr).toContain('at Report.main(Report.java:4)');
  });

  it('a one-shot program that times out is told its files are kept, not that variables are', async () => {
    const result = await callTool(client, 'execute_code', {
      language: 'c',
      code: '#include <stdio.h>\nint main(void) { FILE *f = fopen("progress.txt", "w"); fputs("started\\n", f); fclose(f); for (;;) {} }',
      timeout: 2,
    });
    const output = result.structuredContent as { status: string; notice: string | null; files: Array<{ path: string }> };
    expect(output.status).toBe('timeout');
    expect(output.notice).toBe('timed out after 2 s (limit): the run was stopped. Files written so far are kept.');
  });
});
