#!/usr/bin/env node
/**
 * The `codecell` command.
 *
 *   codecell serve [--host H] [--port P] [--stdio]   run the server (HTTP, or MCP over stdio)
 *   codecell exec --language L --code C [--arg A]... [--session ID] [--json]   run one job: a smoke test for admins
 *   codecell session create|list [--json]                          the local user's sessions
 *   codecell session close ID                                      delete one, files and all
 *
 * Each command runs an engine on CODECELL_DATA_DIR, which one live engine holds at a time
 * (engine/data-dir-owner.ts): on a data dir a server holds, a command is refused (DATA_DIR_IN_USE).
 *
 * Flags are settings under their environment names (--host is HOST, --port is PORT), parsed by
 * loadSettings like everything else, so a bad value gets the same message either way.
 */
import { Command, Option } from 'commander';
import { z } from 'zod';
import { loadSettings, SETTING_NAMES, SettingsError, type Settings } from './config/settings.js';
import { createEngine } from './engine/create-engine.js';
import { argsProblem } from './executor/runner-protocol.js';
import { LANGUAGES, type SessionInfo } from './domain/types.js';
import { type EngineApi } from './engine/types.js';
import { isCodecellError, type CodecellError } from './errors.js';
import { formatExecutionText } from './interfaces/execution-text.js';
import { signedDownloadLinks } from './interfaces/http/file-routes.js';
import { ListenPolicyError } from './interfaces/http/listen-policy.js';
import { CODECELL_VERSION } from './package-version.js';
import { createLogger, onTerminal, playgroundLine, type Logger } from './logger.js';
import { Metrics } from './metrics/metrics.js';
import { startHttpServer, startStdioServer } from './server.js';
import { LOCAL_PRINCIPAL } from './sessions/principal.js';

/** `--set NAME=VALUE` (repeatable): any setting by its environment name, e.g. --set EXECUTION_TIMEOUT=10. */
const SetFlagsSchema = z
  .array(z.string().regex(/^[A-Z_]+=.*$/s, 'expected NAME=VALUE'))
  .default([])
  .transform((pairs, context) => {
    const overrides: Record<string, string> = {};
    for (const pair of pairs) {
      const at = pair.indexOf('=');
      const name = pair.slice(0, at);
      if (!SETTING_NAMES.includes(name)) {
        context.addIssue({ code: 'custom', message: `${name}: unknown setting (known: ${SETTING_NAMES.join(', ')})` });
        return z.NEVER;
      }
      overrides[name] = pair.slice(at + 1);
    }
    return overrides;
  });

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const ServeOptionsSchema = z.object({
  host: z.string().min(1).optional(),
  port: z.string().min(1).optional(),
  stdio: z.boolean().optional(),
  set: SetFlagsSchema,
});

const ExecOptionsSchema = z.object({
  language: z.enum(LANGUAGES),
  code: z.string(),
  arg: z
    .array(z.string())
    .default([])
    .superRefine((args, context) => {
      // The engine's own bounds, checked here so the message can name the flag.
      const problem = argsProblem(args);
      if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
    }),
  session: z.string().min(1, 'must not be empty: name a session, or leave --session out to use your default one').optional(),
  json: z.boolean().optional(),
  set: SetFlagsSchema,
});

const SessionOptionsSchema = z.object({
  json: z.boolean().optional(),
  set: SetFlagsSchema,
});

/** Resolves on the first SIGTERM or SIGINT; a second one exits at once (a stuck shutdown). */
function firstSignal(logger: Logger): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    let received = false;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (received) {
        logger.warn({ signal }, 'second signal: exiting without a clean shutdown');
        process.exit(1);
      }
      received = true;
      logger.info({ signal }, 'signal received');
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

async function serve(rawOptions: unknown): Promise<number> {
  const options = ServeOptionsSchema.parse(rawOptions);
  const settings = loadSettings(process.env, { ...options.set, HOST: options.host ?? options.set.HOST, PORT: options.port ?? options.set.PORT });
  // JSON unless a person watches (a terminal); never over stdio, where stdout is the protocol.
  const forPerson = options.stdio !== true && onTerminal();
  const logger = createLogger(settings.logLevel, { pretty: forPerson });
  const stopped = firstSignal(logger);
  if (options.stdio === true) {
    const stdio = await startStdioServer({ settings, logger });
    await Promise.race([stdio.closed, stopped]);
    await stdio.close();
    return 0;
  }
  const server = await startHttpServer({ settings, logger });
  if (forPerson) process.stdout.write(`${playgroundLine(server.url)}\n`);
  await stopped;
  await server.close();
  return 0;
}

/** A one-shot run needs no warm containers: pools default to empty unless the environment says otherwise. */
function oneShotOverrides(env: NodeJS.ProcessEnv): Record<string, string> {
  return {
    LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
    CODECELL_POOL_PYTHON: env.CODECELL_POOL_PYTHON ?? '0',
    CODECELL_POOL_PYTHON_LEAN: env.CODECELL_POOL_PYTHON_LEAN ?? '0',
    CODECELL_POOL_NODE: env.CODECELL_POOL_NODE ?? '0',
    CODECELL_POOL_BASH: env.CODECELL_POOL_BASH ?? '0',
    // Nor demand-driven ones: a run's kind would otherwise be refilled just before the engine shuts down.
    CODECELL_POOL_MAX: env.CODECELL_POOL_MAX ?? '0',
  };
}

/** Runs `work` with a one-shot engine (no warm containers), shutting it down afterwards. */
async function withEngine<T>(overrides: Record<string, string>, work: (engine: EngineApi, logger: Logger) => Promise<T>): Promise<T> {
  const settings: Settings = loadSettings(process.env, { ...oneShotOverrides(process.env), ...overrides });
  const logger = createLogger(settings.logLevel);
  const { engine } = await createEngine({
    settings,
    logger,
    metrics: new Metrics({ collectProcessMetrics: false }),
    downloadLinkFor: signedDownloadLinks(settings.publicUrl),
    // A one-shot command on a data dir another container holds is refused at once, not after its lease could lapse.
    waitForForeignOwnerMs: 0,
  });
  try {
    return await work(engine, logger);
  } finally {
    await engine.shutdown();
  }
}

async function exec(rawOptions: unknown): Promise<number> {
  const options = ExecOptionsSchema.parse(rawOptions);
  return withEngine(options.set, async (engine, logger) => {
    const abort = new AbortController();
    void firstSignal(logger).then(() => abort.abort());
    const result = await engine.execute({
      principal: LOCAL_PRINCIPAL,
      sessionId: options.session,
      language: options.language,
      code: options.code,
      args: options.arg,
      signal: abort.signal,
    });
    process.stdout.write(options.json === true ? `${JSON.stringify(result, null, 2)}\n` : `${formatExecutionText(result)}\n`);
    // The answer comes before the run has settled (files back, history written); the history is read
    // under the session's lock, so this waits for that before the engine shuts down.
    await engine.getHistory(LOCAL_PRINCIPAL, result.sessionId);
    return result.status === 'ok' ? 0 : 1;
  });
}

function sessionLine(session: SessionInfo): string {
  const role = session.isDefault ? 'default' : 'session';
  return `${session.id}  ${role}  ${session.executions} runs  last used ${session.lastUsedAt}  expires ${session.expiresAt}`;
}

async function sessionCreate(rawOptions: unknown): Promise<number> {
  const options = SessionOptionsSchema.parse(rawOptions);
  const session = await withEngine(options.set, (engine) => engine.createSession(LOCAL_PRINCIPAL));
  process.stdout.write(options.json === true ? `${JSON.stringify(session, null, 2)}\n` : `${session.id}\n`);
  return 0;
}

async function sessionList(rawOptions: unknown): Promise<number> {
  const options = SessionOptionsSchema.parse(rawOptions);
  const sessions = await withEngine(options.set, (engine) => engine.listSessions(LOCAL_PRINCIPAL));
  if (options.json === true) process.stdout.write(`${JSON.stringify(sessions, null, 2)}\n`);
  else if (sessions.length === 0) process.stdout.write('no sessions (codecell session create makes one)\n');
  else process.stdout.write(sessions.map((session) => `${sessionLine(session)}\n`).join(''));
  return 0;
}

async function sessionClose(sessionId: string, rawOptions: unknown): Promise<number> {
  const options = SessionOptionsSchema.parse(rawOptions);
  await withEngine(options.set, (engine) => engine.closeSession(LOCAL_PRINCIPAL, sessionId));
  process.stdout.write(`closed ${sessionId}\n`);
  return 0;
}

/** The command that failed, as far as its advice depends on it. */
type CommandName = 'serve' | 'exec' | 'session create' | 'session list' | 'session close';

/** What to do about a data dir another engine holds (DATA_DIR_IN_USE), for a server or a one-shot command. */
function dataDirAdvice(error: CodecellError, command: CommandName): string {
  const { ownerPid, ownerRecordFile } = error.fields;
  if (error.fields.ownerElsewhere === true) {
    return (
      'That process runs on another host or in another container and still renews its lease on the data dir, so it looks alive; ' +
      'a data dir must not be shared between hosts or containers (a crashed owner\'s lease lapses after CODECELL_OWNER_LEASE_STALE_SECONDS and is then taken over). ' +
      `Give this one its own data dir (--set CODECELL_DATA_DIR=<dir>), or, if that process is gone for sure, delete ${ownerRecordFile} and try again.`
    );
  }
  if (command === 'serve') {
    return (
      `Another Codecell server (or command) holds it; two on one data dir would kill each other's runs. ` +
      `Stop process ${ownerPid} first, or give this server its own data dir (--set CODECELL_DATA_DIR=<dir>).`
    );
  }
  return (
    `A Codecell server (or another command) holds it, and a command on the same data dir would kill its runs. ` +
    `Use another data dir with --set CODECELL_DATA_DIR=<dir> (it has its own sessions), or stop process ${ownerPid} first.`
  );
}

/**
 * What a CLI user can do about an error, naming commands and flags that `command` really has;
 * undefined when nothing specific.
 */
function commandAdvice(error: CodecellError, command: CommandName): string | undefined {
  if (error.code === 'DATA_DIR_IN_USE') return dataDirAdvice(error, command);
  if (error.code === 'SESSION_NOT_FOUND' && error.fields.sessionGone !== undefined) {
    return command === 'exec'
      ? 'Create one with `codecell session create` (`codecell session list` shows yours), or leave --session out to use your default session.'
      : '`codecell session list` shows your sessions; `codecell session create` makes a new one.';
  }
  if (error.code === 'SESSION_LIMIT') {
    return 'Close one you no longer need with `codecell session close <id>` (`codecell session list` shows yours), or wait for idle ones to expire.';
  }
  return undefined;
}

/** An option's validation message, naming the flag it is about (the schemas' keys are the flags' names). */
function flagMessage(issue: z.core.$ZodIssue): string {
  const flag = issue.path[0];
  return typeof flag === 'string' ? `--${flag}: ${issue.message}` : issue.message;
}

/** Known failures get one clear line; anything else gets its stack. */
function reportFailure(error: unknown, command: CommandName): void {
  if (error instanceof z.ZodError) {
    process.stderr.write(`codecell: ${error.issues.map(flagMessage).join('; ')}\n`);
  } else if (error instanceof SettingsError || error instanceof ListenPolicyError) {
    process.stderr.write(`codecell: ${error.message}\n`);
  } else if (isCodecellError(error)) {
    const advice = commandAdvice(error, command);
    process.stderr.write(`codecell: ${error.code}: ${error.message}${advice === undefined ? '' : `. ${advice}`}\n`);
  } else {
    process.stderr.write(`codecell: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  }
}

function run<A extends unknown[]>(command: CommandName, action: (...args: A) => Promise<number>) {
  return async (...args: A): Promise<void> => {
    let code: number;
    try {
      code = await action(...args);
    } catch (error) {
      reportFailure(error, command);
      code = 1;
    }
    // Explicit exit: open handles (a Docker socket, a stdin listener) must not keep us alive.
    process.exit(code);
  };
}

const program = new Command()
  .name('codecell')
  .description('Sandboxed code interpreter for LLM chats, served over MCP.')
  .version(CODECELL_VERSION)
  .addHelpText('after', `\nSettings are environment variables:\n  ${SETTING_NAMES.join(', ')}`);

program
  .command('serve')
  .description('Run the server: MCP at /mcp (Streamable HTTP) and /sse (legacy SSE), or over stdio with --stdio.')
  .option('--host <host>', 'address to listen on (HOST; default 127.0.0.1)')
  .option('--port <port>', 'port to listen on (PORT; default 7860, 0 picks a free one)')
  .option('--stdio', 'speak MCP over stdin/stdout for a client that spawns the server; logs go to stderr')
  .option('--set <NAME=VALUE>', 'any setting by its environment name (repeatable)', collect)
  .action(run('serve', serve));

program
  .command('exec')
  .description('Run one job through the engine as the local user and print its result (exit code 0 when it succeeded).')
  .addOption(new Option('--language <language>', 'language of the code').choices([...LANGUAGES]).makeOptionMandatory())
  .requiredOption('--code <code>', 'the code to run')
  .option('--arg <value>', "a command-line argument for the program (repeatable): sys.argv[1:], process.argv.slice(2), \"$@\"", collect)
  .option('--session <id>', 'session to run in (default: the local default session)')
  .option('--json', 'print the whole result as JSON')
  .option('--set <NAME=VALUE>', 'any setting by its environment name (repeatable)', collect)
  .action(run('exec', exec));

const session = program.command('session').description("The local user's sessions (the ones `codecell exec --session` runs in).");

session
  .command('create')
  .description('Make a new, empty session and print its id.')
  .option('--json', 'print the whole session as JSON')
  .option('--set <NAME=VALUE>', 'any setting by its environment name (repeatable)', collect)
  .action(run('session create', sessionCreate));

session
  .command('list')
  .description('List your live sessions, oldest first.')
  .option('--json', 'print them as JSON')
  .option('--set <NAME=VALUE>', 'any setting by its environment name (repeatable)', collect)
  .action(run('session list', sessionList));

session
  .command('close')
  .description('Delete a session with its files and variables.')
  .argument('<id>', 'the session to close')
  .option('--set <NAME=VALUE>', 'any setting by its environment name (repeatable)', collect)
  .action(run('session close', sessionClose));

await program.parseAsync(process.argv);
