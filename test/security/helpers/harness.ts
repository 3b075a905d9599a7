/**
 * The attack suite's harness: one real Codecell server per test file (real engine, real Docker,
 * the runtime named by CODECELL_TEST_RUNTIME), driven through MCP with the official SDK client,
 * with small limits so that attacks end quickly.
 *
 * Every case ends with `stillServing()`: /healthz answers 200, a fresh session runs a normal
 * program, and a bystander session set up before any attack still has its variable and its file.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';
import type { ExecutionOutput } from '../../../src/interfaces/mcp/render-result.js';
import { callTool, connectStreamable, sessionOf, textOf, type Caller } from '../../interfaces/helpers/mcp-client.js';
import { startTestServer, type TestServer } from '../../interfaces/helpers/test-server.js';

export type Runtime = 'runc' | 'runsc';

/** Which container runtime the suite attacks: `CODECELL_TEST_RUNTIME=runsc` runs it under gVisor. */
export const RUNTIME: Runtime = process.env.CODECELL_TEST_RUNTIME === 'runsc' ? 'runsc' : 'runc';

/** The limits every security server runs with (environment names as in src/config/settings.ts). */
export const LIMITS = {
  timeoutSeconds: 8,
  // gVisor's own kernel lives in the container's memory too: give it room for the scientific stack.
  memoryMb: RUNTIME === 'runsc' ? 512 : 256,
  tmpfsMb: 16,
  artifactsMb: 16,
  quotaMb: 20,
  maxFiles: 2000,
  // Under gVisor's ptrace platform the pids cgroup counts the sandbox kernel's own host threads too
  // (about 55 at rest and 8 per sandboxed process), so the same program needs a far higher limit.
  pids: RUNTIME === 'runsc' ? 1024 : 128,
  maxImages: 4,
  maxOutputChars: 20_000,
} as const;

export type Tool = 'python' | 'javascript' | 'bash';

const TOOL_NAMES: Record<Tool, { name: string; argument: 'code' | 'command' }> = {
  python: { name: 'execute_python_code', argument: 'code' },
  javascript: { name: 'execute_javascript_code', argument: 'code' },
  bash: { name: 'execute_bash_command', argument: 'command' },
};

export interface RunOptions {
  readonly session?: string;
  /** Seconds; may only lower the server's limit. */
  readonly timeout?: number;
  readonly client?: Client;
}

/** One tool call's outcome: the raw MCP result, and its structured part when the code ran. */
export interface Run {
  readonly raw: CallToolResult;
  readonly text: string;
  /** null when the call was refused before anything ran (then `text` says why). */
  readonly out: ExecutionOutput | null;
}

export function random(label: string): string {
  return `${label}-${randomBytes(12).toString('hex')}`;
}

export interface HarnessOptions {
  /** Extra settings (environment names) on top of the suite's limits. */
  readonly env?: Record<string, string>;
  /** Warm containers per pool; 0 for pools a file does not use keeps the machine free. */
  readonly pools?: Partial<Record<'python' | 'pythonLean' | 'node' | 'bash', number>>;
  readonly caller?: Caller;
}

export class Harness {
  private bystander: { session: string; token: string } | null = null;

  private constructor(
    readonly server: TestServer,
    readonly client: Client,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const pools = { python: 0, pythonLean: 1, node: 0, bash: 0, ...options.pools };
    const server = await startTestServer({
      env: {
        CODECELL_RUNTIME: RUNTIME,
        EXECUTION_TIMEOUT: String(LIMITS.timeoutSeconds),
        CODECELL_MEMORY_MB: String(LIMITS.memoryMb),
        CODECELL_TMPFS_MB: String(LIMITS.tmpfsMb),
        CODECELL_ARTIFACTS_MB: String(LIMITS.artifactsMb),
        CODECELL_SESSION_QUOTA_MB: String(LIMITS.quotaMb),
        CODECELL_SESSION_MAX_FILES: String(LIMITS.maxFiles),
        CODECELL_MAX_FILE_MB: String(LIMITS.quotaMb),
        CODECELL_PIDS_LIMIT: String(LIMITS.pids),
        CODECELL_MAX_IMAGES: String(LIMITS.maxImages),
        MAX_OUTPUT_LENGTH: String(LIMITS.maxOutputChars),
        CODECELL_CONCURRENCY: '2',
        CODECELL_POOL_PYTHON: String(pools.python),
        CODECELL_POOL_PYTHON_LEAN: String(pools.pythonLean),
        CODECELL_POOL_NODE: String(pools.node),
        CODECELL_POOL_BASH: String(pools.bash),
        ...options.env,
      },
    });
    const client = await connectStreamable(server.url, options.caller ?? { userId: 'attacker' });
    const harness = new Harness(server, client);
    await harness.plantBystander();
    return harness;
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
    await this.server.close();
  }

  /** Runs `code` through the tool of `tool`. Never throws for a refused call: see `Run.out`. */
  async run(tool: Tool, code: string, options: RunOptions = {}): Promise<Run> {
    const spec = TOOL_NAMES[tool];
    const args: Record<string, unknown> = { [spec.argument]: code };
    if (options.session !== undefined) args.session_id = options.session;
    if (options.timeout !== undefined) args.timeout = options.timeout;
    const raw = await callTool(options.client ?? this.client, spec.name, args, { timeoutMs: 120_000 });
    const structured = raw.structuredContent as ExecutionOutput | undefined;
    return { raw, text: textOf(raw), out: structured && typeof structured.status === 'string' ? structured : null };
  }

  /** Like run(), but the code must have run (not been refused); returns its structured result. */
  async exec(tool: Tool, code: string, options: RunOptions = {}): Promise<ExecutionOutput> {
    const run = await this.run(tool, code, options);
    if (run.out === null) throw new Error(`the call was refused: ${run.text}`);
    return run.out;
  }

  /** Runs code that prints one JSON document as its last stdout line, and returns it parsed. */
  async probe<T = Record<string, unknown>>(tool: Tool, code: string, options: RunOptions = {}): Promise<T> {
    const out = await this.exec(tool, code, options);
    const lines = out.stdout.trim().split('\n');
    const last = lines.at(-1) ?? '';
    try {
      return JSON.parse(last) as T;
    } catch {
      throw new Error(
        `expected a JSON line from the probe; got status ${out.status} (${out.notice ?? ''})\n` +
          `stdout: ${out.stdout}\nstderr: ${out.stderr}\nerror: ${JSON.stringify(out.error)}`,
      );
    }
  }

  async newSession(client: Client = this.client): Promise<string> {
    return sessionOf(await callTool(client, 'create_execution_session'));
  }

  /** A session with a variable and a file, made before any attack: stillServing() checks both. */
  private async plantBystander(): Promise<void> {
    const session = await this.newSession();
    const token = random('bystander');
    const out = await this.exec(
      'python',
      `bystander_token = ${JSON.stringify(token)}\nopen('bystander.txt', 'w').write(bystander_token)\nprint('planted')`,
      { session },
    );
    expect(out.status, out.stderr).toBe('ok');
    this.bystander = { session, token };
  }

  /**
   * The server survived the attack: health is 200, a normal program runs in a new session, and the
   * bystander session still has its variable and its file.
   */
  async stillServing(): Promise<void> {
    const health = await fetch(`${this.server.url}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ ok: true });

    const fresh = await this.exec('python', 'print(6 * 7)', { session: await this.newSession() });
    expect(fresh.status, fresh.stderr).toBe('ok');
    expect(fresh.stdout).toBe('42\n');

    if (this.bystander !== null) {
      const { session, token } = this.bystander;
      const check = await this.exec('python', "print(bystander_token == open('bystander.txt').read())", { session });
      expect(check.status, check.stderr).toBe('ok');
      expect(check.stdout, `bystander session ${session} lost its state (token ${token})`).toBe('True\n');
    }
  }
}
