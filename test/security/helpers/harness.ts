/**
 * The attack suite's harness: one real Codecell server per test file (real engine, real Docker,
 * the runtime named by CODECELL_TEST_RUNTIME), driven through MCP with the official SDK client,
 * with small limits so that attacks end quickly.
 *
 * Every case ends with `stillServing()`: /healthz answers 200, a fresh session runs a normal
 * program, and a bystander session set up before any attack still has its variable and its file.
 *
 * Time limits are budgets scaled to the runtime's measured speed (helpers/budget.ts): a probe that
 * runs out of time proves nothing, so it is tried once more with more time, and then fails as
 * inconclusive. It never counts as the attack having failed.
 */
import { randomBytes } from 'node:crypto';
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { CallToolResultSchema, type CallToolResult, type Progress } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';
import type { ExecutionOutput } from '../../../src/interfaces/mcp/render-result.js';
import { callTool, connectStreamable, sessionOf, textOf, type Caller } from '../../interfaces/helpers/mcp-client.js';
import { startTestServer, type TestServer } from '../../interfaces/helpers/test-server.js';
import { budgetSeconds, CALIBRATION, MAX_RUN_SECONDS, probeLimits, slowdownOf } from './budget.js';
import { LiveRun } from './live-run.js';
import { hasLine, judgeCompletion } from './verdicts.js';

export type Runtime = 'runc' | 'runsc';

/** Which container runtime the suite attacks: `CODECELL_TEST_RUNTIME=runsc` runs it under gVisor. */
export const RUNTIME: Runtime = process.env.CODECELL_TEST_RUNTIME === 'runsc' ? 'runsc' : 'runc';

/** The limits every security server runs with (environment names as in src/config/settings.ts). */
export const LIMITS = {
  /** A run's time limit on an ordinary machine; scaled by the measured slowdown (Harness.budget). */
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
  /** Seconds, as given (an attack's own limit); default: the scaled budget of LIMITS.timeoutSeconds. */
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

  /** How many times slower than the reference this runtime ran the calibration (at least 1). */
  private slowdown = 1;

  private constructor(
    readonly server: TestServer,
    readonly client: Client,
  ) {}

  static async start(options: HarnessOptions = {}): Promise<Harness> {
    const pools = { python: 0, pythonLean: 1, node: 0, bash: 0, ...options.pools };
    const server = await startTestServer({
      env: {
        CODECELL_RUNTIME: RUNTIME,
        // The ceiling for budgets and retries; every run passes its own (scaled) limit.
        EXECUTION_TIMEOUT: String(MAX_RUN_SECONDS),
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
    await harness.calibrate();
    await harness.plantBystander();
    return harness;
  }

  /** `seconds` of an ordinary machine, scaled to this runtime's measured speed. */
  budget(seconds: number): number {
    return budgetSeconds(seconds, this.slowdown);
  }

  /** Times CALIBRATION three times in a sandbox and scales by the median: one noisy try does not count. */
  private async calibrate(): Promise<void> {
    const session = await this.newSession();
    const seconds: number[] = [];
    for (let attempt = 0; attempt < 3; attempt += 1) {
      seconds.push((await this.probe<{ seconds: number }>('python', CALIBRATION, { session, timeout: MAX_RUN_SECONDS })).seconds);
    }
    const median = [...seconds].sort((a, b) => a - b)[1] ?? Number.NaN;
    this.slowdown = slowdownOf(median);
    console.info(`[security] ${RUNTIME}: calibration took ${seconds.map((s) => s.toFixed(2)).join(', ')} s; budgets scale by ${this.slowdown.toFixed(1)}`);
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => undefined);
    await this.server.close();
  }

  /** Runs `code` through the tool of `tool`. Never throws for a refused call: see `Run.out`. */
  run(tool: Tool, code: string, options: RunOptions = {}): Promise<Run> {
    return this.call(tool, code, options);
  }

  /**
   * Starts `code` and returns at once: await `printed(…)` to know it is running, `result` for its
   * outcome, or `cancel()` to end it. For attacks that must be under way while something else happens.
   */
  start(tool: Tool, code: string, options: RunOptions = {}): LiveRun<ExecutionOutput> {
    return new LiveRun(async (onprogress, signal) => {
      const run = await this.call(tool, code, options, onprogress, signal);
      if (run.out === null) throw new Error(`the call was refused: ${run.text}`);
      return run.out;
    });
  }

  private async call(tool: Tool, code: string, options: RunOptions, onprogress?: (progress: Progress) => void, signal?: AbortSignal): Promise<Run> {
    const spec = TOOL_NAMES[tool];
    const timeout = options.timeout ?? this.budget(LIMITS.timeoutSeconds);
    const args: Record<string, unknown> = { [spec.argument]: code, timeout };
    if (options.session !== undefined) args.session_id = options.session;
    const client = options.client ?? this.client;
    // Room for the container's start and clean-up on top of the run's own limit.
    const timeoutMs = (timeout + this.budget(60)) * 1000;
    const reply = await client.callTool({ name: spec.name, arguments: args }, CallToolResultSchema, { onprogress, signal, timeout: timeoutMs });
    const raw = CallToolResultSchema.parse(reply);
    const structured = raw.structuredContent as ExecutionOutput | undefined;
    return { raw, text: textOf(raw), out: structured && typeof structured.status === 'string' ? structured : null };
  }

  /** Like run(), but the code must have run (not been refused); returns its structured result. */
  async exec(tool: Tool, code: string, options: RunOptions = {}): Promise<ExecutionOutput> {
    const run = await this.run(tool, code, options);
    if (run.out === null) throw new Error(`the call was refused: ${run.text}`);
    return run.out;
  }

  /**
   * Runs a probe that reports with its last line of output, `marker`: the probe must get there for
   * its report to count. One cut short by its time limit is tried again with more time; if it never
   * gets there, the test fails as inconclusive.
   */
  async finish(tool: Tool, code: string, marker: string, options: RunOptions = {}): Promise<ExecutionOutput> {
    return (await this.runToEnd(tool, code, marker, options)).out;
  }

  /** As finish(), for a test that needs the whole tool result (its images, say). */
  runToEnd(tool: Tool, code: string, marker: string, options: RunOptions = {}): Promise<Run & { out: ExecutionOutput }> {
    return this.complete(tool, code, (stdout) => hasLine(stdout, marker), options);
  }

  /** Runs code that prints one JSON document as its last stdout line, and returns it parsed. As finish(). */
  async probe<T = Record<string, unknown>>(tool: Tool, code: string, options: RunOptions = {}): Promise<T> {
    const { out } = await this.complete(tool, code, (stdout) => jsonLastLine(stdout) !== undefined, options);
    return jsonLastLine(out.stdout) as T;
  }

  private async complete(tool: Tool, code: string, finished: (stdout: string) => boolean, options: RunOptions): Promise<Run & { out: ExecutionOutput }> {
    const limits = options.timeout !== undefined ? [options.timeout] : probeLimits(LIMITS.timeoutSeconds, this.slowdown);
    let why = '';
    for (const [index, timeout] of limits.entries()) {
      const run = await this.run(tool, code, { ...options, timeout });
      const out = run.out;
      if (out === null) throw new Error(`the call was refused: ${run.text}`);
      const verdict = judgeCompletion(out, finished);
      if (verdict.complete) return { ...run, out };
      why =
        `inconclusive: ${verdict.why} (time limits tried: ${limits.slice(0, index + 1).join(', ')} s; slowdown ${this.slowdown.toFixed(1)})\n` +
        `status ${out.status} (${out.notice ?? ''})\nstdout: ${out.stdout}\nstderr: ${out.stderr}\nerror: ${JSON.stringify(out.error)}`;
      if (!verdict.retry) break;
      const next = limits[index + 1];
      if (next !== undefined) console.info(`[security] a probe ran out of its ${timeout} s; trying it again with ${next} s`);
    }
    throw new Error(why);
  }

  /**
   * Waits until the session's last call has settled: its files and home back in the session (a call
   * answers first and puts them back after). The history is read under the session's lock.
   */
  async settled(session: string, client: Client = this.client): Promise<void> {
    const reply = await callTool(client, 'get_execution_history', { session_id: session });
    if (reply.isError === true) throw new Error(`the session did not settle: ${textOf(reply)}`);
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

/** The last line of `stdout` parsed as a JSON object or array, or undefined when it is none. */
function jsonLastLine(stdout: string): object | undefined {
  const last = stdout.trim().split('\n').at(-1) ?? '';
  try {
    const parsed = JSON.parse(last) as unknown;
    return typeof parsed === 'object' && parsed !== null ? parsed : undefined;
  } catch {
    return undefined;
  }
}
