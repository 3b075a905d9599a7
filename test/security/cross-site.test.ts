/**
 * A keyless server on loopback must refuse what a web page can make the user's browser send it: a
 * "simple" cross-site request (a form POST, a multipart upload, a text/plain body) needs no CORS
 * preflight, so only the browser's own headers (Origin, Sec-Fetch-Site) tell it apart. Clients that
 * are not browsers (CLI, LibreChat, MCP SDKs) send neither and keep working.
 *
 * The requests are real HTTP requests with the headers a browser sends (node:http, which lets a
 * test set Origin and Sec-Fetch-* as a browser would).
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectStreamable } from '../interfaces/helpers/mcp-client.js';
import { Harness, type Run } from './helpers/harness.js';

let harness: Harness;

beforeAll(async () => {
  // No keys: the loopback, open-to-local-clients mode.
  harness = await Harness.start({ env: { CODECELL_API_KEYS: '' } });
});

afterAll(async () => {
  await harness?.close();
});

interface Reply {
  readonly status: number;
  readonly body: string;
}

function send(method: string, path: string, headers: Record<string, string>, body: string | Buffer = ''): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const request = http.request(new URL(path, harness.server.url), { method, headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    request.once('error', reject);
    request.end(body);
  });
}

/** A multipart body as a browser's FormData (or an HTML form with enctype=multipart/form-data) sends it. */
function multipart(filename: string, content: string): { type: string; body: string } {
  const boundary = '----WebKitFormBoundary7MA4YWxkTrZu0gW';
  const body =
    `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\n` +
    `Content-Type: text/x-python\r\n\r\n${content}\r\n--${boundary}--\r\n`;
  return { type: `multipart/form-data; boundary=${boundary}`, body };
}

/** What Chrome sends with a fetch(…, {mode: 'no-cors'}) from https://evil.example. */
const CROSS_SITE_BROWSER = {
  Origin: 'https://evil.example',
  'Sec-Fetch-Site': 'cross-site',
  'Sec-Fetch-Mode': 'no-cors',
  'Sec-Fetch-Dest': 'empty',
  'User-Agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
};

const PLANT = "print('planted by a web page')\n__version__ = 'evil'\n";

/** Whether `name` is in the default session of the keyless user with no X-User-Id (the browser's principal). */
async function plantedIn(name: string): Promise<boolean> {
  const victim = await connectStreamable(harness.server.url, { apiKey: null });
  try {
    const run: Run = await harness.run('python', `import os\nprint(os.path.exists('/mnt/data/${name}'))`, { client: victim });
    expect(run.out?.status, run.text).toBe('ok');
    return run.out?.stdout === 'True\n';
  } finally {
    await victim.close();
  }
}

/** As Harness.stillServing, for a keyless server (whose /healthz shows details to everyone). */
async function stillServing(): Promise<void> {
  const health = await fetch(new URL('/healthz', harness.server.url));
  expect(health.status).toBe(200);
  expect(((await health.json()) as { ok: boolean }).ok).toBe(true);
  const fresh = await harness.exec('python', 'print(6 * 7)', { session: await harness.newSession() });
  expect(fresh.stdout, fresh.stderr).toBe('42\n');
}

describe('keyless mode refuses cross-site requests from browsers', () => {
  it('a multipart upload from another site plants nothing', async () => {
    const form = multipart('sympy.py', PLANT);
    const reply = await send('POST', '/v1/sessions/default/files', { ...CROSS_SITE_BROWSER, 'Content-Type': form.type }, form.body);
    expect(reply.status, reply.body).toBe(403);
    // LibreChat's upload route too.
    const librechat = await send('POST', '/v1/upload', { ...CROSS_SITE_BROWSER, 'Content-Type': form.type }, form.body);
    expect(librechat.status, librechat.body).toBe(403);
    expect(await plantedIn('sympy.py')).toBe(false);
    await stillServing();
  });

  it('an old browser that sends only Origin, or only Sec-Fetch-Site, is refused as well', async () => {
    const form = multipart('numpy.py', PLANT);
    const onlyOrigin = await send('POST', '/v1/sessions/default/files', { Origin: 'http://localhost:3000', 'Content-Type': form.type }, form.body);
    expect(onlyOrigin.status, onlyOrigin.body).toBe(403);
    const onlyFetchSite = await send('POST', '/v1/sessions/default/files', { 'Sec-Fetch-Site': 'same-site', 'Content-Type': form.type }, form.body);
    expect(onlyFetchSite.status, onlyFetchSite.body).toBe(403);
    const sandboxedFrame = await send('POST', '/v1/sessions/default/files', { Origin: 'null', 'Content-Type': form.type }, form.body);
    expect(sandboxedFrame.status, sandboxedFrame.body).toBe(403);
    expect(await plantedIn('numpy.py')).toBe(false);
  });

  it('a text/plain or form-encoded body (what a page can send without a preflight) does not reach MCP or /v1/exec', async () => {
    const call = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-03-26', capabilities: {}, clientInfo: { name: 'page', version: '1' } } });
    const textPlain = await send('POST', '/mcp', { 'Content-Type': 'text/plain', Accept: 'application/json, text/event-stream' }, call);
    expect(textPlain.status, textPlain.body).toBe(415);
    const exec = await send('POST', '/v1/exec', { 'Content-Type': 'application/x-www-form-urlencoded' }, 'code=print(1)&lang=py');
    expect(exec.status, exec.body).toBe(415);
    await stillServing();
  });

  it('clients that are not browsers, and pages of the server itself, still work', async () => {
    const form = multipart('helper.py', 'VALUE = 7\n');
    const cli = await send('POST', '/v1/sessions/default/files', { 'Content-Type': form.type }, form.body);
    expect(cli.status, cli.body).toBe(201);
    const own = new URL(harness.server.url);
    const sameOrigin = await send(
      'POST',
      '/v1/sessions/default/files',
      { Origin: own.origin, 'Sec-Fetch-Site': 'same-origin', 'Content-Type': form.type },
      multipart('helper2.py', 'VALUE = 8\n').body,
    );
    expect(sameOrigin.status, sameOrigin.body).toBe(201);
    expect(await plantedIn('helper.py')).toBe(true);
    await stillServing();
  });
});
