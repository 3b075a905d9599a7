/**
 * The "run this code" tools: the recipe's four (names and parameters as the recipe had them, plus
 * TypeScript), so a librechat.yaml written for it keeps working, and execute_code for every
 * language, the one-shot ones (C, Go, Java, …) included. Each call runs in the caller's default session
 * unless session_id names another of the caller's sessions, and streams its output as progress
 * when the client asks for it.
 */
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import type { CallToolResult } from '@modelcontextprotocol/sdk/types.js';
import { z } from 'zod';
import { MAX_CODE_CHARS } from '../../../engine/engine.js';
import { withDownloadLinks } from '../../download-links.js';
import { currentClientGone } from '../../http/request-context.js';
import type { Language } from '../../../domain/types.js';
import { MAX_ARG_CHARS, MAX_ARGS } from '../../../executor/runner-protocol.js';
import { LANGUAGE_WORDS, languageNamed } from '../../language-codes.js';
import { outputProgress, type ToolExtra } from '../progress.js';
import { ExecutionOutputSchema, renderExecutionResult } from '../render-result.js';
import { sessionIdFrom } from '../../session-word.js';
import { guardTool, OPTIONAL_SESSION_ID } from '../tool-errors.js';
import { toolLogger, type ToolDeps } from './tool-deps.js';

function sessionIdParameter() {
  return z
    .string()
    .max(200)
    .optional()
    .describe(
      'Session to run in, from create_execution_session or an earlier result. Leave it out to use your ' +
        'default session, which also keeps state between calls.',
    );
}

function timeoutParameter(limitSeconds: number) {
  return z
    .number()
    .positive()
    .max(3600)
    .optional()
    .describe(`Time limit in seconds for this call. It can only lower the server's limit of ${limitSeconds} s.`);
}

/** The engine's bound, checked here too so that a huge argument fails as a clear input error. */
function sourceParameter(what: string) {
  return z
    .string()
    .min(1)
    .max(MAX_CODE_CHARS)
    .describe(`${what} Up to ${MAX_CODE_CHARS.toLocaleString('en-US')} characters; put bigger data in a file.`);
}

const COMMON_RULES =
  'Runs in an isolated sandbox with no network access. The working directory is /mnt/data: files written there ' +
  'stay in the session and come back with download links. State persists between calls in the same session, ' +
  'also without session_id (your default session). The result names the session, and shows stdout, stderr, ' +
  'the value of a trailing expression, and any error with its traceback.';

interface ExecutionToolSpec {
  readonly name: string;
  readonly title: string;
  readonly language: Language;
  readonly description: string;
}

const CODE_TOOLS: readonly ExecutionToolSpec[] = [
  {
    name: 'execute_python_code',
    title: 'Run Python',
    language: 'python',
    description:
      'Run Python 3 code. Variables, functions and imports from earlier calls are still defined. ' +
      'Matplotlib figures (plt.show() or any figure left open) are returned as images. numpy, pandas and ' +
      'matplotlib are installed; get_system_info lists the rest. ' +
      COMMON_RULES,
  },
  {
    name: 'execute_javascript_code',
    title: 'Run JavaScript',
    language: 'javascript',
    description:
      'Run JavaScript on Node.js. Top-level variables, functions and classes from earlier calls are still ' +
      'defined (shared with execute_typescript_code); use console.log to print. Common npm packages (lodash, ' +
      'date-fns, mathjs, papaparse, d3-array, …) import by name; get_system_info lists them. ' +
      COMMON_RULES,
  },
  {
    name: 'execute_typescript_code',
    title: 'Run TypeScript',
    language: 'typescript',
    description:
      'Run TypeScript on Node.js. Types are stripped, not checked. Top-level variables, functions and classes ' +
      'persist and are shared with execute_javascript_code. ' +
      COMMON_RULES,
  },
];

const BASH_TOOL: ExecutionToolSpec = {
  name: 'execute_bash_command',
  title: 'Run bash',
  language: 'bash',
  description:
    'Run a bash command or script. Shell variables, exported environment, functions, aliases and the current ' +
    'directory carry over to the next call. Common tools (coreutils, grep, sed, awk, jq, bc, git, sqlite3, python3, node) are installed. ' +
    COMMON_RULES,
};

/** execute_code: every language under one tool (the recipe's four stay beside it). */
const ANY_LANGUAGE_TOOL = {
  name: 'execute_code',
  title: 'Run code',
  description:
    'Run code in any language this server has: python, javascript, typescript and bash keep variables between ' +
    "calls in the session (like the execute_*_code tools); c, cpp, go, java, rust, php, r, d and fortran are one-shot: " +
    'each call compiles (where needed) and runs one whole program, and only files in /mnt/data carry over. ' +
    "LibreChat's codes work too (py, js, ts, rs, f90). Write a complete program: C/C++/D/Fortran/Rust/Go need their " +
    'main (Go: package main), Java a class with public static void main (any class name), PHP starts with <?php. ' +
    'args are the command-line arguments (argv); programs get no standard input. A compile error comes back as ' +
    'stderr with status error. One-shot languages have their standard library only: no cargo crates, Go modules, ' +
    'Maven jars or CRAN packages beyond base R and Cairo; R plots (drawn without png()) come back as images. ' +
    'get_system_info shows which languages are installed and their versions. ' +
    'Runs in an isolated sandbox with no network access; the working directory is /mnt/data, where files stay in ' +
    'the session and come back with download links.',
} as const;

/**
 * `language` of execute_code: the engine's names, LibreChat's codes and a few usual spellings, in any
 * case ("R", "Python", "C++" are what models write). The schema still lists the words as an enum.
 */
function languageParameter() {
  return z
    .string()
    .trim()
    .toLowerCase()
    .refine((word) => languageNamed(word) !== undefined, {
      error: (issue) =>
        `Unsupported language: ${String(issue.input).slice(0, 40)}. This server runs python, javascript, typescript, ` +
        'bash, c, cpp, go, java, rust, php, r, d and fortran (codes such as py, js, ts, rs, f90, c++, golang work too).',
    })
    .meta({ enum: [...LANGUAGE_WORDS] })
    .describe('The language: python, javascript, typescript, bash, c, cpp, go, java, rust, php, r, d or fortran (or py, js, ts, rs, f90).');
}

function argsParameter() {
  return z
    .array(z.string().max(MAX_ARG_CHARS))
    .max(MAX_ARGS)
    .optional()
    .describe("Command-line arguments for the program: argv[1..], sys.argv[1:], process.argv.slice(2), bash's \"$@\".");
}

async function runCode(
  deps: ToolDeps,
  spec: Pick<ExecutionToolSpec, 'name' | 'language'>,
  code: string,
  args: { session_id?: string | undefined; timeout?: number | undefined; args?: string[] | undefined },
  extra: ToolExtra,
): Promise<CallToolResult> {
  const logger = toolLogger(deps, spec.name, extra);
  const signal = callEnded(extra);
  return guardTool(logger, async () => {
    const progress = outputProgress(extra, logger);
    try {
      const result = await deps.engine.execute({
        principal: deps.principal,
        sessionId: sessionIdFrom(args.session_id),
        language: spec.language,
        code,
        args: args.args,
        timeoutMs: args.timeout === undefined ? undefined : Math.max(1, Math.round(args.timeout * 1000)),
        onOutput: progress?.onOutput,
        signal,
      });
      return renderExecutionResult(withDownloadLinks(result, deps.downloadLink), deps.settings.limits.maxResultChars);
    } catch (error) {
      if (!signal.aborted) throw error;
      // Nobody reads this answer; the engine has stopped the run (or never started it).
      logger.info({ reason: String(signal.reason) }, 'call cancelled');
      return { isError: true, content: [{ type: 'text', text: 'cancelled' }] };
    } finally {
      progress?.stop();
    }
  }, OPTIONAL_SESSION_ID);
}

/**
 * Aborts when the call is over for its client: an MCP cancel, the MCP session's transport closing,
 * or the HTTP request that carries the call closing before its answer (the SDK aborts only the
 * first two).
 */
function callEnded(extra: Pick<ToolExtra, 'signal'>): AbortSignal {
  const clientGone = currentClientGone();
  return clientGone === undefined ? extra.signal : AbortSignal.any([extra.signal, clientGone]);
}

export function registerExecutionTools(server: McpServer, deps: ToolDeps): void {
  const limitSeconds = deps.settings.limits.timeoutMs / 1000;
  const annotations = { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false };

  for (const spec of CODE_TOOLS) {
    server.registerTool(
      spec.name,
      {
        title: spec.title,
        description: spec.description,
        inputSchema: {
          code: sourceParameter(`The ${spec.title.replace('Run ', '')} code to run.`),
          session_id: sessionIdParameter(),
          timeout: timeoutParameter(limitSeconds),
        },
        outputSchema: ExecutionOutputSchema,
        annotations,
      },
      (args, extra) => runCode(deps, spec, args.code, args, extra),
    );
  }

  server.registerTool(
    BASH_TOOL.name,
    {
      title: BASH_TOOL.title,
      description: BASH_TOOL.description,
      inputSchema: {
        command: sourceParameter('The bash command or script to run.'),
        session_id: sessionIdParameter(),
        timeout: timeoutParameter(limitSeconds),
      },
      outputSchema: ExecutionOutputSchema,
      annotations,
    },
    (args, extra) => runCode(deps, BASH_TOOL, args.command, args, extra),
  );

  server.registerTool(
    ANY_LANGUAGE_TOOL.name,
    {
      title: ANY_LANGUAGE_TOOL.title,
      description: ANY_LANGUAGE_TOOL.description,
      inputSchema: {
        language: languageParameter(),
        code: sourceParameter('The program or code to run.'),
        session_id: sessionIdParameter(),
        args: argsParameter(),
        timeout: timeoutParameter(limitSeconds),
      },
      outputSchema: ExecutionOutputSchema,
      annotations,
    },
    (args, extra) => {
      // The schema admits only known words, so a language is always found.
      const language = languageNamed(args.language) ?? 'python';
      return runCode(deps, { name: ANY_LANGUAGE_TOOL.name, language }, args.code, args, extra);
    },
  );
}
