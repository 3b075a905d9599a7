/**
 * Work the host does for user input, attacked from outside (issue 15: item 4 and four low ones):
 * a TypeScript program built to crash the host's compiler, a forged result frame with a huge
 * value and too many images, a forged frame of millions of tiny values (red team H2), a PNG
 * decompression bomb, a huge MCP progress token, and /v1/exec languages that name Object.prototype members. Each is capped for the caller alone, and the
 * server keeps serving everyone, TypeScript included.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, headersFor, textOf } from '../interfaces/helpers/mcp-client.js';
import { TEST_KEY } from '../interfaces/helpers/test-server.js';
import { pngDeclaring } from '../unit/executor/png-bytes.js';
import { Harness, LIMITS } from './helpers/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await Harness.start({ pools: { pythonLean: 1, node: 1, bash: 1 } });
});

afterAll(async () => {
  await h?.close();
});

/** Runs TypeScript through its MCP tool; returns the structured result. */
async function typescript(code: string, session: string): Promise<{ status: string; stdout: string; error: { name: string; message: string } | null }> {
  const timeout = h.budget(LIMITS.timeoutSeconds);
  const result = await callTool(h.client, 'execute_typescript_code', { code, session_id: session, timeout }, { timeoutMs: (timeout + h.budget(120)) * 1000 });
  const out = result.structuredContent as { status: string; stdout: string; error: { name: string; message: string } | null } | undefined;
  if (out === undefined || typeof out.status !== 'string') throw new Error(`the call was refused: ${textOf(result)}`);
  return out;
}

describe('TypeScript compiled on the host', () => {
  it('refuses a ~1 MB program of nested brackets for its caller, and compiles the next one', async () => {
    const session = await h.newSession();
    const depth = 450_000;
    const bomb = `const x = ${'['.repeat(depth)}${']'.repeat(depth)};\nconsole.log('ran');`;
    expect(bomb.length).toBeGreaterThan(900_000);
    const refused = await typescript(bomb, session);
    expect(refused.status).toBe('error');
    expect(refused.stdout).toBe('');
    expect(refused.error?.message).toMatch(/nested too deeply|memory|time limit/);

    // Everyone's TypeScript still compiles: this is what died with the host's compiler before.
    const next = await typescript('enum Answer { Value = 42 }\nconst n: number = Answer.Value;\nconsole.log(n);', await h.newSession());
    expect(next.status, JSON.stringify(next.error)).toBe('ok');
    expect(next.stdout).toBe('42\n');
    await h.stillServing();
  });
});

describe('caps on what reaches a client', () => {
  it('caps a forged result frame: the value at the runners’ limit, images at CODECELL_MAX_IMAGES, no declared bomb', async () => {
    const session = await h.newSession();
    const small = pngDeclaring(10, 20).toString('base64');
    const bomb = pngDeclaring(200_000, 200_000).toString('base64');
    const images = [...Array.from({ length: LIMITS.maxImages + 2 }, (_, index) => ({ name: `f${index}.png`, base64: small })), { name: 'bomb.png', base64: bomb }];
    const frameHead = '{"type":"result","outcome":"ok","value":"';
    const frameTail = `","error":null,"exitCode":0,"images":${JSON.stringify(images.map((image) => ({ ...image, mimeType: 'image/png' })))},"imagesOmitted":0,"notCarried":[],"stateSaved":false,"stateError":null,"loadedModules":[]}`;
    const out = await h.exec(
      'bash',
      `# User code runs inside the runner's shell: the job's nonce is right there.
nonce=\${__cc_nonce:-$(grep -rhoas '"nonce":"[0-9a-f]*"' /tmp /run/codecell 2>/dev/null | head -1 | sed 's/.*:"\\([0-9a-f]*\\)"/\\1/')}
[ -n "$nonce" ] && echo "nonce found"
big=$(head -c 1048576 /dev/zero | tr '\\0' 'A')
printf '\\x1e%s\\x1f{"type":"stderr-end"}\\n' "$nonce" >&2
printf '\\x1e%s\\x1f%s%s%s\\n' "$nonce" '${frameHead}' "$big" '${frameTail}'
sleep 2`,
      { session },
    );
    // The forgery must have been taken as the run's answer, or this proves nothing.
    expect(out.stdout).toContain('nonce found');
    expect(out.value?.startsWith('AAAA')).toBe(true);
    expect(out.value!.length).toBeLessThanOrEqual(10_000);
    expect(out.images.length).toBeLessThanOrEqual(LIMITS.maxImages);
    expect(out.images.every((image) => image.width <= 10_000 && image.height <= 10_000)).toBe(true);
    expect(out.images_omitted).toBeGreaterThanOrEqual(3);
    await h.stillServing();
  });

  it('refuses a forged frame of millions of empty objects unparsed, while the server keeps answering', async () => {
    const session = await h.newSession();
    // The red team's H2: ~60 MB of `{},` under the 64 MiB stream cap; parsed, it froze the event loop ~40 s.
    const forged = h.start(
      'bash',
      `nonce=\${__cc_nonce:-$(grep -rhoas '"nonce":"[0-9a-f]*"' /tmp /run/codecell 2>/dev/null | head -1 | sed 's/.*:"\\([0-9a-f]*\\)"/\\1/')}
[ -n "$nonce" ] && echo "forging"
printf '\x1e%s\x1f[' "$nonce"; yes '{},' | head -c 60000000 | tr -d '\n'; printf '{}]\n'
echo "frame sent"
sleep 600`,
      { session },
    );
    await forged.printed('forging');
    // While the forgery streams in, the server answers /healthz and runs a bystander's program.
    const [health, bystander] = await Promise.all([
      fetch(`${h.server.url}/healthz`),
      h.exec('python', 'print(6 * 7)', { session: await h.newSession() }),
    ]);
    expect(health.status).toBe(200);
    expect(bystander.status, bystander.stderr).toBe('ok');
    expect(bystander.stdout).toBe('42\n');

    const out = await forged.result;
    expect(out.status).toBe('killed');
    expect(out.notice).toMatch(/result frame over \d+ JSON values, refused unread/);
    expect(out.stdout).not.toContain('frame sent');
    await h.stillServing();
  });

  it('still returns several large figures inline', async () => {
    const count = LIMITS.maxImages;
    const { raw, out } = await h.runToEnd(
      'python',
      `import numpy as np
import matplotlib.pyplot as plt
rng = np.random.default_rng(7)
for index in range(${count}):
    figure = plt.figure(figsize=(8, 8), dpi=100)
    plt.imshow(rng.random((800, 800, 3)))
print('drawn')`,
      'drawn',
      { session: await h.newSession() },
    );
    expect(out.status, out.stderr).toBe('ok');
    expect(out.images).toHaveLength(count);
    // Noise does not compress: each figure is a PNG of ~1 MB or more, all in one result frame.
    const inline = raw.content.filter((item) => item.type === 'image');
    expect(inline).toHaveLength(count);
    expect(inline.every((item) => item.type === 'image' && item.data.length > 1_000_000)).toBe(true);
    await h.stillServing();
  });

  it('does not hand a PNG decompression bomb (200000×200000 declared) to clients inline', async () => {
    const session = await h.newSession();
    const bomb = pngDeclaring(200_000, 200_000).toString('base64');
    const fine = pngDeclaring(30, 40).toString('base64');
    const out = await h.exec('bash', `echo '${bomb}' | base64 -d > bomb.png\necho '${fine}' | base64 -d > fine.png\nls`, { session });
    expect(out.status, out.stderr).toBe('ok');
    expect(out.files.map((file) => file.path).sort()).toEqual(['bomb.png', 'fine.png']);
    expect(out.images.map((image) => [image.name, image.width, image.height])).toEqual([['fine.png', 30, 40]]);
    expect(out.images_omitted).toBe(1);
    await h.stillServing();
  });

  it('does not echo a huge progress token in every notification', async () => {
    const mcp = await RawMcp.open();
    const token = `t${'x'.repeat(1024 * 1024)}`;
    const events = await mcp.call('tools/call', {
      name: 'execute_bash_command',
      arguments: { command: 'for i in 1 2 3 4 5 6; do echo "line $i"; sleep 0.3; done', timeout: h.budget(LIMITS.timeoutSeconds) },
      _meta: { progressToken: token },
    });
    const result = events.find((event) => event.id !== undefined);
    expect(result?.result, JSON.stringify(result?.error)).toBeDefined();
    expect(JSON.stringify(result?.result)).toContain('line 6');
    const echoed = events.filter((event) => JSON.stringify(event).includes(token));
    expect(echoed).toEqual([]);
    await h.stillServing();
  });
});

describe('lookups of user input', () => {
  it.each(['__proto__', 'constructor', 'toString'])('refuses lang %s on /v1/exec as an unsupported language', async (lang) => {
    const refused = await exec({ lang, code: 'print(1)', user_id: 'proto-user' });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain('Unsupported language');
    // The caller's session and its history are intact: a normal run follows.
    const fine = await exec({ lang: 'py', code: 'print(6 * 7)', user_id: 'proto-user' });
    expect(fine.status, JSON.stringify(fine.body)).toBe(200);
    expect((fine.body as { stdout: string }).stdout).toBe('42\n');
    await h.stillServing();
  });
});

async function exec(body: Record<string, unknown>): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${h.server.url}/v1/exec`, {
    method: 'POST',
    headers: { 'X-API-Key': TEST_KEY, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

interface RpcMessage {
  readonly id?: unknown;
  readonly method?: string;
  readonly result?: unknown;
  readonly error?: { code: number; message: string };
}

/** A bare Streamable HTTP session, for a request the SDK client would not send (its own progress token). */
class RawMcp {
  private constructor(private readonly sessionId: string) {}

  static async open(): Promise<RawMcp> {
    const reply = await RawMcp.post(
      { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } } },
      {},
    );
    const sessionId = reply.headers.get('mcp-session-id');
    await reply.text();
    if (reply.status !== 200 || sessionId === null) throw new Error(`initialize failed: ${reply.status}`);
    const raw = new RawMcp(sessionId);
    await (await RawMcp.post({ jsonrpc: '2.0', method: 'notifications/initialized' }, raw.headers())).text();
    return raw;
  }

  private static post(message: unknown, headers: Record<string, string>): Promise<Response> {
    return fetch(`${h.server.url}/mcp`, {
      method: 'POST',
      headers: { ...headersFor({ userId: 'raw-progress' }), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
      body: JSON.stringify(message),
    });
  }

  private headers(): Record<string, string> {
    return { 'Mcp-Session-Id': this.sessionId, 'Mcp-Protocol-Version': '2025-06-18' };
  }

  /** Sends one request; returns every message of the reply (notifications first, the response last). */
  async call(method: string, params: unknown): Promise<RpcMessage[]> {
    const response = await RawMcp.post({ jsonrpc: '2.0', id: 7, method, params }, this.headers());
    const body = await response.text();
    if ((response.headers.get('content-type') ?? '').includes('text/event-stream')) {
      return body
        .split('\n')
        .filter((line) => line.startsWith('data: '))
        .map((line) => JSON.parse(line.slice(6)) as RpcMessage);
    }
    return body.length > 0 ? [JSON.parse(body) as RpcMessage] : [];
  }
}
