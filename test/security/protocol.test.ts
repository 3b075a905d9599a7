/**
 * Protocol attacks on the server itself, below and above the SDK client: huge and malformed
 * requests, wrong types, unknown tools and methods, invalid UTF-8 (in requests and in sandbox
 * output), forged result frames from the sandbox, and floods of calls beyond the queue limit.
 * Each gets a clear error (or a clean result), and the server keeps serving.
 */
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { callTool, headersFor, textOf } from '../interfaces/helpers/mcp-client.js';
import { Harness, random } from './helpers/harness.js';

const QUEUE_LIMIT = 2;
let h: Harness;

beforeAll(async () => {
  h = await Harness.start({
    // The burst below attacks the MCP transport; the per-principal request budget is fairness.test.ts's.
    env: { CODECELL_CONCURRENCY: '1', CODECELL_QUEUE_LIMIT: String(QUEUE_LIMIT), CODECELL_REQUESTS_PER_USER: '1000' },
    pools: { pythonLean: 1, bash: 1 },
  });
});

afterAll(async () => {
  await h?.close();
});

interface RpcReply {
  readonly status: number;
  readonly body: string;
  /** JSON-RPC messages in the reply (a JSON body, or the data lines of an event stream). */
  readonly messages: Array<{ id?: unknown; result?: unknown; error?: { code: number; message: string } }>;
}

/** A bare Streamable HTTP session, for requests the SDK client would never send. */
class RawMcp {
  private constructor(private readonly sessionId: string) {}

  static async open(): Promise<RawMcp> {
    const reply = await RawMcp.post(
      JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
      }),
    );
    const sessionId = reply.headers.get('mcp-session-id');
    if (reply.status !== 200 || sessionId === null) throw new Error(`initialize failed: ${reply.status}`);
    await reply.text();
    const raw = new RawMcp(sessionId);
    await raw.send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
    return raw;
  }

  static post(body: string | ArrayBuffer, headers: Record<string, string> = {}): Promise<Response> {
    return fetch(`${h.server.url}/mcp`, {
      method: 'POST',
      headers: { ...headersFor({ userId: 'raw' }), 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream', ...headers },
      body,
    });
  }

  async send(body: string | ArrayBuffer): Promise<RpcReply> {
    const response = await RawMcp.post(body, { 'Mcp-Session-Id': this.sessionId, 'Mcp-Protocol-Version': '2025-06-18' });
    return parseReply(response);
  }

  call(method: string, params: unknown, id: unknown = 7): Promise<RpcReply> {
    return this.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
  }
}

async function parseReply(response: Response): Promise<RpcReply> {
  const body = await response.text();
  const messages: RpcReply['messages'] = [];
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('text/event-stream')) {
    for (const line of body.split('\n')) if (line.startsWith('data: ')) messages.push(JSON.parse(line.slice(6)));
  } else if (type.includes('json') && body.length > 0) {
    const parsed = JSON.parse(body) as RpcReply['messages'] | RpcReply['messages'][number];
    messages.push(...(Array.isArray(parsed) ? parsed : [parsed]));
  }
  return { status: response.status, body, messages };
}

/** The one JSON-RPC reply to a tool call, as a tool result (when it is one). */
function toolResultOf(reply: RpcReply): CallToolResult | null {
  const message = reply.messages.find((entry) => entry.id !== undefined);
  return (message?.result as CallToolResult | undefined) ?? null;
}

describe('request size and shape', () => {
  it('answers 10 MB of code with a clear size error', async () => {
    const run = await h.run('python', `x = 1\n${'#'.repeat(10 * 1024 * 1024)}`);
    expect(run.raw.isError).toBe(true);
    expect(run.out).toBeNull();
    expect(run.text).toMatch(/1000000|1,000,000|too (big|long)|at most/i);
    await h.stillServing();
  });

  it('answers a 40 MB body with 413 and a JSON-RPC error, without reading it all into a tool', async () => {
    const raw = await RawMcp.open();
    // Past the cap (16 MiB, or a CODECELL_MAX_FILE_MB file as base64 plus 1 MiB: 34.3 MiB by default).
    const reply = await raw.call('tools/call', { name: 'execute_python_code', arguments: { code: 'x'.repeat(40 * 1024 * 1024) } });
    expect(reply.status).toBe(413);
    expect(reply.messages[0]?.error?.code).toBe(-32600);
    await h.stillServing();
  });

  it('answers malformed JSON with 400 and a parse error', async () => {
    const raw = await RawMcp.open();
    for (const body of ['{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {', 'not json at all', '\u0000\u0001\u0002']) {
      const reply = await raw.send(body);
      expect(reply.status, body).toBe(400);
      expect(reply.messages[0]?.error?.code, body).toBe(-32700);
    }
    await h.stillServing();
  });

  it('answers deeply nested JSON without falling over', async () => {
    const raw = await RawMcp.open();
    const depth = 200_000;
    const reply = await raw.send(`{"jsonrpc":"2.0","id":1,"method":"tools/call","params":${'['.repeat(depth)}${']'.repeat(depth)}}`);
    expect(reply.status).toBeGreaterThanOrEqual(400);
    expect(reply.status).toBeLessThan(500);
    await h.stillServing();
  });

  it('answers a request with a 100 KB header with 431', async () => {
    const response = await fetch(`${h.server.url}/mcp`, { method: 'POST', headers: { ...headersFor(), 'X-Junk': 'j'.repeat(100_000) }, body: '{}' });
    expect(response.status).toBe(431);
    await h.stillServing();
  });

  it('answers a batch of 1000 requests with an error or per-request answers, and serves on', async () => {
    const raw = await RawMcp.open();
    const batch = Array.from({ length: 1000 }, (_, index) => ({ jsonrpc: '2.0', id: index + 10, method: 'tools/list' }));
    const reply = await raw.send(JSON.stringify(batch));
    expect(reply.status).toBeLessThan(500);
    if (reply.status >= 400) expect(reply.messages[0]?.error).toBeDefined();
    await h.stillServing();
  });
});

describe('wrong and unknown things', () => {
  it('answers wrong argument types with a clear invalid-params error', async () => {
    const cases: Array<Record<string, unknown>> = [
      { code: 123 },
      { code: ['print(1)'] },
      { code: 'print(1)', session_id: { $ne: null } },
      { code: 'print(1)', timeout: 'soon' },
      { code: 'print(1)', timeout: -1 },
      { code: 'print(1)', timeout: 1e308 },
      {},
    ];
    for (const args of cases) {
      const result = await callTool(h.client, 'execute_python_code', args);
      expect(result.isError, JSON.stringify(args)).toBe(true);
      expect(textOf(result), JSON.stringify(args)).toMatch(/invalid|expected|required|too (big|small)|number|string/i);
    }
    await h.stillServing();
  });

  it('answers an unknown tool and an unknown method clearly', async () => {
    const unknownTool = await callTool(h.client, 'execute_cobol_code', { code: 'DISPLAY 1' });
    expect(unknownTool.isError).toBe(true);
    expect(textOf(unknownTool)).toMatch(/execute_cobol_code/);
    const raw = await RawMcp.open();
    const reply = await raw.call('sampling/rootkit', {});
    expect(reply.messages[0]?.error?.code).toBe(-32601);
    const notRpc = await raw.send(JSON.stringify({ hello: 'world' }));
    expect(notRpc.status).toBeGreaterThanOrEqual(400);
    await h.stillServing();
  });

  it('handles invalid UTF-8 in a request body (replaced, never crashing)', async () => {
    const raw = await RawMcp.open();
    const head = Buffer.from('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"execute_python_code","arguments":{"code":"print(len(\'');
    const tail = Buffer.from('\'))"}}}');
    const bytes = Buffer.concat([head, Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]), tail]);
    const reply = await raw.send(Uint8Array.from(bytes).buffer);
    expect(reply.status).toBeLessThan(500);
    const result = toolResultOf(reply);
    if (result !== null) {
      const text = result.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
      expect(text).toMatch(/\d/);
    }
    await h.stillServing();
  });
});

describe('what the sandbox sends back', () => {
  it('returns invalid UTF-8, NUL bytes and terminal escapes from a program as safe text', async () => {
    const out = await h.exec(
      'python',
      `import os
os.write(1, b'start \\xff\\xfe\\xc3\\x28 \\x00 \\x1b[2J\\x1b]0;pwned\\x07 \\xed\\xa0\\x80 end\\n')
os.write(2, b'\\xff' * 1000 + b'\\n')`,
    );
    expect(out.status).toBe('ok');
    expect(out.stdout.startsWith('start ')).toBe(true);
    expect(out.stdout.trimEnd().endsWith(' end')).toBe(true);
    expect(out.stdout).toContain('\uFFFD');
    expect(() => JSON.stringify(out)).not.toThrow();
    await h.stillServing();
  });

  it('limits what a forged result frame can do: its own run’s answer, nothing beyond', async () => {
    const session = await h.newSession();
    const out = await h.exec(
      'bash',
      `# The runner keeps its job line where user code can read it: take the nonce from there.
nonce=$(grep -rhoas '"nonce":"[0-9a-f]*"' /tmp /run/codecell 2>/dev/null | head -1 | sed 's/.*:"\\([0-9a-f]*\\)"/\\1/')
[ -n "$nonce" ] && echo "nonce found"
frame='{"type":"result","outcome":"ok","value":"forged","error":null,"exitCode":0,"images":[{"name":"../../../etc/passwd","mimeType":"image/png","base64":"bm90IGEgcG5n"}],"imagesOmitted":0,"notCarried":[],"stateSaved":true,"stateError":null,"loadedModules":["../../../../etc/passwd"]}'
printf '\\x1e%s\\x1f{"type":"stderr-end"}\\n' "$nonce" >&2
printf 'garbage \\x1e%s\\x1f%s\\n' "$nonce" "$frame"
printf '\\x1e%s\\x1f%s\\n' "0000" '{"type":"result"}'
sleep 2`,
      { session },
    );
    // Whatever a frame says, the fake image is no PNG and is dropped, no state is adopted that the
    // runner did not write, and nothing escapes the session.
    expect(out.images).toEqual([]);
    expect(out.state_saved).toBe(false);
    expect(out.files.every((file) => !file.path.includes('..'))).toBe(true);
    if (out.stdout.includes('nonce found') && out.value === 'forged') {
      // The forgery was taken as the run's answer (the frame is the runner's word, and user code
      // runs inside the runner): only this run's own answer changed.
      expect(out.images_omitted).toBeGreaterThanOrEqual(1);
    }
    const next = await h.exec('bash', 'echo still fine', { session });
    expect(next.stdout).toBe('still fine\n');
    await h.stillServing();
  });
});

describe('floods', () => {
  it('answers a flood of concurrent calls beyond the queue limit: some run, the rest are told to retry', async () => {
    const sessions = await Promise.all(Array.from({ length: 12 }, () => h.newSession()));
    // One run holds the only slot (concurrency 1) until the flood has been answered or queued.
    const holder = h.start('bash', 'echo holding; while :; do sleep 0.1; done', { session: await h.newSession(), timeout: h.budget(40) });
    await holder.printed('holding');
    let answered = 0;
    let enoughAnswered!: () => void;
    const refusalsIn = new Promise<void>((resolve) => (enoughAnswered = resolve));
    const flood = sessions.map((session) =>
      h.run('bash', 'echo ran', { session }).then((run) => {
        answered += 1;
        if (answered === sessions.length - QUEUE_LIMIT) enoughAnswered();
        return run;
      }),
    );
    // QUEUE_LIMIT calls wait behind the holder; all others are answered at once.
    await refusalsIn;
    expect(holder.ended, 'the holder kept the slot while the flood came in').toBe(false);
    await holder.cancel();
    const results = await Promise.all(flood);
    const ran = results.filter((run) => run.out?.status === 'ok');
    const refused = results.filter((run) => run.out === null);
    expect(ran.length).toBe(QUEUE_LIMIT);
    expect(refused.length).toBe(sessions.length - QUEUE_LIMIT);
    for (const run of ran) expect(run.out?.stdout).toBe('ran\n');
    for (const run of refused) expect(run.text).toMatch(/QUEUE_FULL: busy: .* retry in \d+ s/);
    await h.stillServing();
  });

  it('answers a burst of 300 tiny requests on one MCP session without losing any', async () => {
    const token = random('burst');
    const replies = await Promise.all(
      Array.from({ length: 300 }, (_, index) =>
        index % 3 === 0
          ? callTool(h.client, 'list_execution_sessions', {})
          : callTool(h.client, 'execute_python_code', { code: `print(${JSON.stringify(token)})`, session_id: 'not-a-session' }),
      ),
    );
    expect(replies).toHaveLength(300);
    for (const [index, reply] of replies.entries()) {
      if (index % 3 === 0) expect(reply.isError ?? false).toBe(false);
      else expect(textOf(reply)).toMatch(/SESSION_NOT_FOUND/);
    }
    await h.stillServing();
  });
});
