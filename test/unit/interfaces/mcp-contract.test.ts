/**
 * The MCP contract, without Docker: the official SDK Client talks to the real McpServer (every
 * Codecell tool) over the SDK's InMemoryTransport; behind it a FakeEngine (test/fakes/fake-engine.ts)
 * with the real session store, job queue and file service. What is checked here is what clients
 * rely on: the tool list and schemas, the shape of execution results, how failures are worded,
 * and progress notifications while a run is going.
 */
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { CallToolResultSchema, type CallToolResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, describe, expect, it } from 'vitest';
import { ExecutionOutputSchema } from '../../../src/interfaces/mcp/render-result.js';
import { createMcpServer } from '../../../src/interfaces/mcp/create-mcp-server.js';
import { createLogger } from '../../../src/logger.js';
import { principalFor, type Principal } from '../../../src/sessions/principal.js';
import { FakeEngine, startFakeEngine, type FakeEngineFixture } from '../../fakes/fake-engine.js';

const EXECUTE_TOOLS = ['execute_python_code', 'execute_javascript_code', 'execute_typescript_code', 'execute_bash_command'];
const ALL_TOOLS = [
  ...EXECUTE_TOOLS,
  'execute_code',
  'create_execution_session',
  'list_execution_sessions',
  'get_execution_history',
  'reset_execution_session',
  'close_execution_session',
  'get_system_info',
  'upload_file',
  'list_files',
  'read_file',
].sort();

interface Connected {
  readonly client: Client;
  readonly fx: FakeEngineFixture;
  call(name: string, args?: Record<string, unknown>, options?: CallOptions): Promise<CallToolResult>;
}

interface CallOptions {
  readonly onprogress?: (progress: Progress) => void;
  readonly signal?: AbortSignal;
}

const cleanups: Array<() => Promise<void>> = [];

afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** One MCP session for `userId`; several share one engine when `fx` is passed. */
async function connect(
  options: { env?: Record<string, string>; fx?: FakeEngineFixture; userId?: string; engine?: FakeEngine } = {},
): Promise<Connected> {
  const fx = options.fx ?? (await startFakeEngine(options.env));
  if (options.fx === undefined) cleanups.push(() => fx.close());
  const principal: Principal = principalFor('contract-key', options.userId ?? 'alice');
  const server = createMcpServer({
    engine: options.engine ?? fx.engine,
    files: fx.files,
    principal,
    settings: fx.settings,
    logger: createLogger('silent'),
  });
  const client = new Client({ name: 'contract-test', version: '1.0.0' });
  const [clientTransport, serverTransport] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(serverTransport), client.connect(clientTransport)]);
  cleanups.push(async () => {
    await client.close();
    await server.close();
  });
  return {
    client,
    fx,
    call: async (name, args = {}, callOptions = {}) =>
      CallToolResultSchema.parse(
        await client.callTool({ name, arguments: args }, CallToolResultSchema, {
          onprogress: callOptions.onprogress,
          signal: callOptions.signal,
        }),
      ),
  };
}

function textOf(result: CallToolResult): string {
  return result.content.flatMap((part) => (part.type === 'text' ? [part.text] : [])).join('\n');
}

function output(result: CallToolResult) {
  return ExecutionOutputSchema.parse(result.structuredContent);
}

describe('tool list', () => {
  it('offers every tool once, each with an object input schema, a title and annotations', async () => {
    const { client } = await connect();
    const { tools } = await client.listTools();
    expect(tools.map((tool) => tool.name).sort()).toEqual(ALL_TOOLS);
    for (const tool of tools) {
      expect(tool.inputSchema.type, tool.name).toBe('object');
      expect(tool.title, tool.name).toBeTruthy();
      expect(tool.description?.length ?? 0, tool.name).toBeGreaterThan(40);
      expect(tool.annotations?.openWorldHint, tool.name).toBe(false);
    }
  });

  it('gives the execute tools the recipe’s parameters and the execution output schema', async () => {
    const { client } = await connect();
    const { tools } = await client.listTools();
    for (const name of EXECUTE_TOOLS) {
      const tool = tools.find((candidate) => candidate.name === name);
      const source = name === 'execute_bash_command' ? 'command' : 'code';
      expect(Object.keys(tool?.inputSchema.properties ?? {}), name).toEqual([source, 'session_id', 'timeout']);
      expect(tool?.inputSchema.required, name).toEqual([source]);
      expect(Object.keys(tool?.outputSchema?.properties ?? {}).sort(), name).toEqual(Object.keys(ExecutionOutputSchema.shape).sort());
      expect(tool?.annotations?.readOnlyHint, name).toBe(false);
    }
    const readOnly = tools.filter((tool) => tool.annotations?.readOnlyHint === true).map((tool) => tool.name).sort();
    expect(readOnly).toEqual(['get_execution_history', 'get_system_info', 'list_execution_sessions', 'list_files', 'read_file']);
  });

  it("gives execute_code a language (names and LibreChat's codes), the code, session, args and timeout", async () => {
    const { client } = await connect();
    const { tools } = await client.listTools();
    const tool = tools.find((candidate) => candidate.name === 'execute_code');
    const properties = (tool?.inputSchema.properties ?? {}) as Record<string, { enum?: string[]; type?: string }>;
    expect(Object.keys(properties)).toEqual(['language', 'code', 'session_id', 'args', 'timeout']);
    expect(tool?.inputSchema.required).toEqual(['language', 'code']);
    expect(properties.language?.enum).toEqual(
      expect.arrayContaining(['python', 'c', 'cpp', 'go', 'java', 'rust', 'php', 'r', 'd', 'fortran', 'py', 'js', 'ts', 'rs', 'f90']),
    );
    expect(properties.args?.type).toBe('array');
    expect(Object.keys(tool?.outputSchema?.properties ?? {}).sort()).toEqual(Object.keys(ExecutionOutputSchema.shape).sort());
  });

  it('runs execute_code in the language it names, with its args, and refuses one it does not know', async () => {
    const { call } = await connect();
    const ran = await call('execute_code', { language: 'py', code: 'print hello' });
    expect(output(ran)).toMatchObject({ language: 'python', status: 'ok', stdout: 'hello\n' });
    const refused = await call('execute_code', { language: 'cobol', code: 'print hello' });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toContain('language');
  });
});

describe('execute tools', () => {
  it('answer with one text block, an image block per plot, and the same facts in structuredContent', async () => {
    const { call } = await connect();
    const result = await call('execute_python_code', { code: 'print hello\nwarn careful\nimage plot.png\nvalue 42' });
    expect(result.isError).toBe(false);
    expect(result.content.map((part) => part.type)).toEqual(['text', 'image']);
    expect(textOf(result)).toContain('hello');
    expect(textOf(result)).toContain('careful');
    const image = result.content[1];
    expect(image?.type === 'image' && Buffer.from(image.data, 'base64').subarray(1, 4).toString()).toBe('PNG');
    const out = output(result);
    expect(out).toMatchObject({
      language: 'python',
      status: 'ok',
      exit_code: 0,
      stdout: 'hello\n',
      stderr: 'careful\n',
      value: '42',
      error: null,
      images: [{ name: 'plot.png', mime_type: 'image/png', width: 1, height: 1 }],
      state_saved: true,
    });
    expect(out.session_id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keep state in the default session, per runtime, and nothing of it in a new session', async () => {
    const { call } = await connect();
    const first = output(await call('execute_python_code', { code: 'set x 7' }));
    const again = output(await call('execute_python_code', { code: 'get x' }));
    expect(again.session_id).toBe(first.session_id);
    expect(again.value).toBe('7');
    // JavaScript and TypeScript share the node runtime; bash has its own.
    await call('execute_javascript_code', { code: 'set shared yes' });
    expect(output(await call('execute_typescript_code', { code: 'get shared' })).value).toBe('yes');
    expect(output(await call('execute_bash_command', { command: 'get x' })).error?.name).toBe('NameError');

    const created = await call('create_execution_session');
    const fresh = String(created.structuredContent?.session_id);
    const elsewhere = await call('execute_python_code', { code: 'get x', session_id: fresh });
    expect(output(elsewhere)).toMatchObject({ session_id: fresh, status: 'error', error: { name: 'NameError' } });
  });

  it('report a failing program as a result with isError, its error and traceback, not as a protocol error', async () => {
    const { call } = await connect();
    const result = await call('execute_python_code', { code: 'print before\nraise ZeroDivisionError division by zero' });
    expect(result.isError).toBe(true);
    expect(output(result)).toMatchObject({ status: 'error', exit_code: 1, stdout: 'before\n', error: { name: 'ZeroDivisionError' } });
    expect(textOf(result)).toContain('ZeroDivisionError');
    expect(textOf(result)).toContain('line 2');
  });

  it('let timeout lower the limit, and report the timeout as an error that kept no state', async () => {
    const { call } = await connect();
    const result = await call('execute_python_code', { code: 'set lost 1\nwait', timeout: 0.05 });
    expect(result.isError).toBe(true);
    expect(output(result)).toMatchObject({ status: 'timeout', exit_code: null, state_saved: false });
    expect(output(await call('execute_python_code', { code: 'get lost' })).error?.name).toBe('NameError');
  });

  it('list the files a run wrote, and the file tools see them', async () => {
    const { call } = await connect();
    const result = await call('execute_python_code', { code: 'write out/report.csv a,b' });
    expect(output(result).files).toEqual([
      { path: 'out/report.csv', size: 3, mime_type: expect.stringContaining('text/csv'), change: 'created', kind: 'file', download_url: null },
    ]);
    const listed = await call('list_files', {});
    expect(textOf(listed)).toContain('out/report.csv');
    const read = await call('read_file', { path: 'out/report.csv' });
    expect(textOf(read)).toContain('a,b');
  });
});

describe('progress', () => {
  it('streams output while the run goes, with growing progress values, and cancelling frees the session', async () => {
    const { call } = await connect();
    const session = String((await call('create_execution_session')).structuredContent?.session_id);
    const updates: Progress[] = [];
    let started!: () => void;
    const firstUpdate = new Promise<void>((resolve) => (started = resolve));
    const abort = new AbortController();
    const running = call(
      'execute_python_code',
      { code: 'print started\nwait', session_id: session },
      {
        signal: abort.signal,
        onprogress: (progress) => {
          updates.push(progress);
          started();
        },
      },
    ).then(
      () => 'finished',
      () => 'cancelled',
    );
    await firstUpdate; // the run is going: its first output arrived as a notification
    expect(updates[0]?.message).toBe('started\n');
    expect(updates[0]?.progress).toBe('started\n'.length);
    abort.abort();
    expect(await running).toBe('cancelled');
    // The cancelled run let go of the session: the next run in it is answered.
    const next = await call('execute_python_code', { code: 'value free', session_id: session });
    expect(output(next).value).toBe('free');
    const { structuredContent } = await call('get_execution_history', { session_id: session });
    const history = structuredContent?.history as Array<{ status: string }>;
    expect(history.map((entry) => entry.status)).toEqual(['killed', 'ok']);
  });

  it('sends nothing when the client did not ask for progress', async () => {
    const { client, call } = await connect();
    const seen: unknown[] = [];
    client.fallbackNotificationHandler = async (notification) => {
      seen.push(notification);
    };
    const result = await call('execute_python_code', { code: 'print quiet' });
    expect(output(result).stdout).toBe('quiet\n');
    expect(seen).toEqual([]);
  });
});

describe('errors', () => {
  it('answers an unknown or foreign session with SESSION_NOT_FOUND, the same for both', async () => {
    const fx = await startFakeEngine();
    cleanups.push(() => fx.close());
    const alice = await connect({ fx, userId: 'alice' });
    const bob = await connect({ fx, userId: 'bob' });
    const own = String((await alice.call('create_execution_session')).structuredContent?.session_id);
    const foreign = await bob.call('execute_python_code', { code: 'value 1', session_id: own });
    const unknown = await bob.call('execute_python_code', { code: 'value 1', session_id: '00000000-0000-4000-8000-000000000000' });
    for (const result of [foreign, unknown]) {
      expect(result.isError).toBe(true);
      expect(textOf(result)).toMatch(/^SESSION_NOT_FOUND: /);
      expect(result.structuredContent).toBeUndefined();
    }
    expect(textOf(foreign).replace(own, 'ID')).toBe(textOf(unknown).replace('00000000-0000-4000-8000-000000000000', 'ID'));
    expect((await bob.call('get_execution_history', { session_id: own })).isError).toBe(true);
    expect((await bob.call('close_execution_session', { session_id: own })).isError).toBe(true);
    expect(output(await alice.call('execute_python_code', { code: 'value still mine', session_id: own })).value).toBe('still mine');
  });

  it('answers QUEUE_FULL at once with a retry hint when every slot and waiting place is taken', async () => {
    const { call } = await connect({ env: { CODECELL_CONCURRENCY: '1', CODECELL_QUEUE_LIMIT: '0' } });
    let started!: () => void;
    const firstUpdate = new Promise<void>((resolve) => (started = resolve));
    const abort = new AbortController();
    const busy = call('execute_bash_command', { command: 'print busy\nwait' }, { signal: abort.signal, onprogress: () => started() }).catch(
      () => null,
    );
    await firstUpdate;
    const refused = await call('execute_bash_command', { command: 'print hi', session_id: undefined });
    expect(refused.isError).toBe(true);
    expect(textOf(refused)).toMatch(/^QUEUE_FULL: .*CODECELL_CONCURRENCY=1.* Retry in about \d+ s\.$/s);
    abort.abort();
    await busy;
  });

  it('answers invalid arguments with the tool’s own input error, before anything runs', async () => {
    const { call, fx } = await connect();
    const empty = await call('execute_python_code', { code: '' });
    expect(empty.isError).toBe(true);
    expect(textOf(empty)).toMatch(/code/);
    const tooLong = await call('execute_python_code', { code: 'value 1', timeout: 100_000 });
    expect(tooLong.isError).toBe(true);
    expect(fx.sessions.count).toBe(0); // nothing ran, not even a default session was made
  });

  it('hides an unexpected failure behind an error id, never passing on its message', async () => {
    class EngineWithoutDocker extends FakeEngine {
      override async systemInfo(): Promise<never> {
        throw new Error('connect ENOENT /var/run/docker.sock');
      }
    }
    const fx = await startFakeEngine();
    cleanups.push(() => fx.close());
    const broken = new EngineWithoutDocker({ settings: fx.settings, sessions: fx.sessions, files: fx.files });
    const { call } = await connect({ fx, engine: broken });
    const result = await call('get_system_info');
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^INTERNAL: .*error id [0-9a-f]{8}/);
    expect(textOf(result)).not.toContain('docker.sock');
  });

  it('refuses work once the engine shuts down, with SHUTTING_DOWN', async () => {
    const { call, fx } = await connect();
    await fx.engine.shutdown();
    const result = await call('execute_python_code', { code: 'value 1' });
    expect(result.isError).toBe(true);
    expect(textOf(result)).toMatch(/^SHUTTING_DOWN: /);
  });
});

describe('session tools', () => {
  it('create, list, show history, reset (keeping files) and close sessions', async () => {
    const { call } = await connect();
    const id = String((await call('create_execution_session')).structuredContent?.session_id);
    await call('execute_python_code', { code: 'set x 1\nwrite keep.txt kept\nprint one', session_id: id });
    const listed = await call('list_execution_sessions');
    expect(listed.structuredContent).toMatchObject({ count: 1, sessions: [{ session_id: id, executions: 1, is_default: false }] });
    const history = await call('get_execution_history', { session_id: id });
    expect(history.structuredContent).toMatchObject({ history: [{ language: 'python', status: 'ok', stdout_preview: 'one\n' }] });

    expect((await call('reset_execution_session', { session_id: id })).isError).not.toBe(true);
    expect(output(await call('execute_python_code', { code: 'get x', session_id: id })).error?.name).toBe('NameError');
    expect(textOf(await call('read_file', { path: 'keep.txt', session_id: id }))).toContain('kept');

    expect((await call('close_execution_session', { session_id: id })).structuredContent).toEqual({ session_id: id, closed: true });
    expect(textOf(await call('execute_python_code', { code: 'value 1', session_id: id }))).toMatch(/^SESSION_NOT_FOUND: /);
  });

  it('reports the limits in force through get_system_info', async () => {
    const { call } = await connect({ env: { EXECUTION_TIMEOUT: '20', CODECELL_TMPFS_MB: '48' } });
    const result = await call('get_system_info');
    expect(result.isError).not.toBe(true);
    expect(result.structuredContent).toMatchObject({ limits: { timeout_seconds: 20, tmp_mb: 48 }, network: 'none', working_directory: '/mnt/data' });
    // /tmp is memory and small: the model is told where big temporary files go.
    expect(textOf(result)).toContain('/tmp holds 48 MiB in memory: large temporary files (SQLite sorts, TMPDIR) belong in /mnt/data.');
    const oneShot = (result.structuredContent as { one_shot_languages: Array<{ language: string; installed: boolean }> }).one_shot_languages;
    expect(oneShot.map((entry) => entry.language)).toEqual(['c', 'cpp', 'go', 'java', 'rust', 'php', 'r', 'd', 'fortran']);
    expect(textOf(result)).toContain('One-shot (execute_code; one program per call, only files carry over): c (not installed), cpp (not installed)');
  });
});
