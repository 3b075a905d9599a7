/**
 * LibreChat's real client (`@librechat/agents` tools through its ToolNode, and the server-side
 * upload, probe and download calls) against a real `codecell serve`, configured with recipe 3 of
 * docs/librechat-code-api.md ("private network without auth"): what current LibreChat sends without JWT mode.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startCodecell, type CodecellProcess } from './helpers/codecell-process.js';
import { LibreChatCodeTools, downloadAsLibreChat, probeAsLibreChat, uploadAsLibreChat } from './helpers/librechat.js';
import { applyLibreChatEnv, contextsFromEnv, openPrivateNetworkRecipe, pointAt } from './helpers/recipes.js';
import { ONE_SHOT_LANGUAGE_PROGRAMS, SESSION_LANGUAGE_PROGRAMS } from './helpers/language-programs.js';

let server: CodecellProcess;
let restoreEnv: () => void;

beforeAll(async () => {
  const recipe = openPrivateNetworkRecipe();
  server = await startCodecell(recipe.codecell);
  restoreEnv = applyLibreChatEnv(pointAt(recipe.libreChat, server.codeBaseUrl));
});

afterAll(async () => {
  restoreEnv?.();
  await server?.stop();
});

function toolsFor(userId: string, profile: 'default' | 'stateful' = 'default'): LibreChatCodeTools {
  const contexts = contextsFromEnv(userId);
  const context = profile === 'default' ? contexts.default : contexts.stateful;
  if (context === undefined) throw new Error('LIBRECHAT_CODE_BASEURL_STATEFUL is not set');
  return new LibreChatCodeTools(userId, context);
}

/** A failed expectation's message: what the model read, and the server's latest warnings and errors (pino level ≥ 40). */
function explain(result: { content: string }): string {
  const warnings = server.log.filter((entry) => Number(entry.level) >= 40).slice(-5);
  return `${result.content}\nserver warnings: ${JSON.stringify(warnings)}`;
}

/** Width and height from a PNG's IHDR chunk. */
function pngSize(bytes: Buffer): { width: number; height: number } {
  return { width: bytes.readUInt32BE(16), height: bytes.readUInt32BE(20) };
}

describe('execute_code and bash_tool from @librechat/agents', () => {
  it.each(SESSION_LANGUAGE_PROGRAMS)('runs $lang and the model reads its output', async ({ lang, code, stdout }) => {
    const result = await toolsFor('user-langs').executeCode({ lang, code });
    expect(result.content, explain(result)).toBe(`stdout:\n${stdout}`);
    expect(result.status).toBe('success');
    expect(result.artifact?.session_id).toMatch(/^[A-Za-z0-9_-]{21}$/);
  });

  it('passes args the way the tool sends them', async () => {
    const result = await toolsFor('user-args').executeCode({ lang: 'py', code: 'import sys\nprint(sys.argv[1:])', args: ['a b', 'c'] });
    expect(result.content).toBe("stdout:\n['a b', 'c']");
  });

  it('bash_tool runs a command', async () => {
    const result = await toolsFor('user-bash').bash('printf "%s\\n" "$((2**10))" "$(basename "$PWD")"');
    expect(result.status).toBe('success');
    expect(result.content).toBe('stdout:\n1024\ndata');
  });

  it('shows a failing program its traceback, as a result rather than an error, and registers no file it wrote', async () => {
    const code = 'open("/mnt/data/partial.txt", "w").write("half")\nprint("before")\n1/0';
    const result = await toolsFor('user-fail').executeCode({ lang: 'py', code });
    expect(result.status).toBe('success');
    expect(result.content).toContain('stdout:\nbefore\n');
    expect(result.content).toContain('ZeroDivisionError: division by zero');
    // LibreChat tells the model "Failed executions register nothing": no file comes back to download.
    expect(result.artifact?.files ?? []).toEqual([]);
  });
});

describe('the nine compiled and one-shot languages LibreChat offers', () => {
  it.each(ONE_SHOT_LANGUAGE_PROGRAMS)('runs $lang and the model reads its output', async ({ lang, code, stdout }) => {
    const result = await toolsFor('user-oneshot').executeCode({ lang, code });
    expect(result.content, explain(result)).toBe(`stdout:\n${stdout}`);
  });

  it('gives a compile error to the model as the compiler wrote it', async () => {
    const result = await toolsFor('user-oneshot').executeCode({ lang: 'c', code: 'int main(void) {\n  return undeclared_name;\n}\n' });
    expect(result.status).toBe('success');
    expect(result.content).toContain('stderr:');
    expect(result.content).toMatch(/error: .undeclared_name. undeclared/);
  });

  it('a C program reads an upload from /mnt/data and its output file downloads', async () => {
    const userId = 'user-oneshot-files';
    const uploaded = await uploadAsLibreChat(server.codeBaseUrl, { userId, filename: 'nums.txt', bytes: Buffer.from('3 4 5 6\n') });
    const fileId = uploaded.files[0]?.fileId ?? '';
    const tools = toolsFor(userId);
    tools.primeFiles([{ id: fileId, resource_id: fileId, name: 'nums.txt', storage_session_id: uploaded.storage_session_id, kind: 'user' }]);
    const code = [
      '#include <stdio.h>',
      'int main(void) {',
      '  FILE *in = fopen("/mnt/data/nums.txt", "r");',
      '  int n, product = 1;',
      '  while (fscanf(in, "%d", &n) == 1) product *= n;',
      '  FILE *out = fopen("/mnt/data/product.txt", "w");',
      '  fprintf(out, "%d", product);',
      '  fclose(out);',
      '  printf("product %d\\n", product);',
      '  return 0;',
      '}',
    ].join('\n');
    const result = await tools.executeCode({ lang: 'c', code });
    expect(result.content).toContain('stdout:\nproduct 360');
    const listed = result.artifact?.files?.find((file) => file.name === 'product.txt');
    expect(listed).toBeDefined();
    const download = await downloadAsLibreChat(server.codeBaseUrl, {
      sessionId: listed?.storage_session_id ?? result.artifact?.session_id ?? '',
      fileId: listed?.id ?? '',
      userId,
    });
    expect(download.bytes.toString()).toBe('360');
  });
});

describe('files, the way LibreChat moves them', () => {
  it('lists a plot a run saved, and LibreChat downloads it as a PNG of the figure size', async () => {
    const userId = 'user-plot';
    const code = [
      'import matplotlib',
      'matplotlib.use("Agg")',
      'import matplotlib.pyplot as plt',
      'fig = plt.figure(figsize=(4, 3), dpi=50)',
      'plt.plot([0, 1, 2], [2, 0, 1])',
      'plt.savefig("/mnt/data/plot.png")',
      'import hashlib',
      'print(hashlib.sha256(open("/mnt/data/plot.png", "rb").read()).hexdigest())',
    ].join('\n');
    const result = await toolsFor(userId).executeCode({ lang: 'py', code });
    const written = /^stdout:\n([0-9a-f]{64})$/m.exec(result.content)?.[1];
    expect(written, result.content).toBeDefined();
    const listed = result.artifact?.files ?? [];
    expect(listed.map((file) => file.name)).toEqual(['plot.png']);
    const plot = listed[0];
    if (plot === undefined) throw new Error('no file listed');

    const download = await downloadAsLibreChat(server.codeBaseUrl, {
      sessionId: plot.storage_session_id ?? result.artifact?.session_id ?? '',
      fileId: plot.id,
      userId,
    });
    expect(download.status).toBe(200);
    expect(download.contentType).toBe('image/png');
    expect(download.disposition).toMatch(/^attachment; filename="?plot\.png"?$/);
    expect(download.bytes.subarray(0, 8).toString('hex')).toBe('89504e470d0a1a0a');
    expect(createHash('sha256').update(download.bytes).digest('hex')).toBe(written);
    const size = pngSize(download.bytes);
    // 4 x 3 inches at 50 dpi, give or take what a tight bounding box trims
    expect(size.width).toBeGreaterThan(100);
    expect(size.width / size.height).toBeCloseTo(4 / 3, 0);

    const intruder = await downloadAsLibreChat(server.codeBaseUrl, { sessionId: plot.storage_session_id ?? '', fileId: plot.id, userId: 'user-other' });
    expect(intruder.status).toBe(404);
  });

  it('uploads as LibreChat does, probes it, and a later run reads it from /mnt/data', async () => {
    const userId = 'user-upload';
    const rows = Array.from({ length: 100 }, (_, i) => `${i},${i * i}`);
    const csv = Buffer.from(`n,square\n${rows.join('\n')}`);
    const uploaded = await uploadAsLibreChat(server.codeBaseUrl, { userId, filename: 'squares.csv', bytes: csv });
    expect(uploaded.files.map((file) => file.filename)).toEqual(['squares.csv']);
    const fileId = uploaded.files[0]?.fileId ?? '';

    const probe = await probeAsLibreChat(server.codeBaseUrl, { sessionId: uploaded.storage_session_id, fileId, userId });
    expect(probe.status).toBe(200);
    expect(probe.body.size).toBe(csv.length);
    // LibreChat's CodeFileInfo falls back to this name.
    expect(probe.body.originalFilename).toBe('squares.csv');
    expect(Date.now() - Date.parse(String(probe.body.lastModified))).toBeLessThan(23 * 3600 * 1000);

    const tools = toolsFor(userId);
    tools.primeFiles([{ id: fileId, resource_id: fileId, name: 'squares.csv', storage_session_id: uploaded.storage_session_id, kind: 'user' }]);
    const result = await tools.executeCode({
      lang: 'py',
      code: 'import csv\nrows = list(csv.DictReader(open("/mnt/data/squares.csv")))\nprint(len(rows), sum(int(r["square"]) for r in rows))',
    });
    // sum of i*i for i < 100 = 328350
    expect(result.content).toBe('stdout:\n100 328350');

    const other = toolsFor('user-not-owner');
    other.primeFiles([{ id: fileId, resource_id: fileId, name: 'squares.csv', storage_session_id: uploaded.storage_session_id, kind: 'user' }]);
    const stolen = await other.executeCode({ lang: 'bash', code: 'ls /mnt/data' });
    expect(stolen.content).not.toContain('squares.csv\n');
    expect(stolen.content).toContain('no longer available');
  });
});

describe('sessions', () => {
  it('stateful mode (LIBRECHAT_CODE_BASEURL_STATEFUL, runtime_session_hint) keeps Python, JS and bash variables', async () => {
    const tools = toolsFor('user-stateful', 'stateful');
    await tools.executeCode({ lang: 'py', code: 'x = 41' });
    const py = await tools.executeCode({ lang: 'py', code: 'print(x + 1)' });
    expect(py.content, explain(py)).toBe('stdout:\n42');
    await tools.executeCode({ lang: 'js', code: 'var total = 20;' });
    const js = await tools.executeCode({ lang: 'js', code: 'console.log(total + 2)' });
    expect(js.content, explain(js)).toBe('stdout:\n22');
    await tools.bash('COUNT=5');
    const sh = await tools.bash('echo $((COUNT + 1))');
    expect(sh.content, explain(sh)).toBe('stdout:\n6');

    const otherUser = toolsFor('user-stateful-2', 'stateful');
    expect((await otherUser.executeCode({ lang: 'py', code: 'print(x)' })).content).toContain("NameError: name 'x' is not defined");
  });

  it('the default profile is stateless, as LibreChat tells the model', async () => {
    const tools = toolsFor('user-stateless');
    await tools.executeCode({ lang: 'py', code: 'y = 5' });
    expect((await tools.executeCode({ lang: 'py', code: 'print(y)' })).content).toContain("NameError: name 'y' is not defined");
  });
});
