/**
 * The server's `instructions`: what a model should know before its first call. LibreChat puts
 * them in the system prompt when librechat.yaml says `serverInstructions: true`, so they are
 * written for the model, with the limits of this deployment filled in.
 */
import type { Settings } from '../../config/settings.js';
import { MAX_CODE_CHARS } from '../../engine/engine.js';
import { formatBytes } from '../../files/byte-size.js';

/**
 * Every tool the server registers, once, by what it is for. Hand-written because each group needs
 * its own sentence for the model; test/unit/interfaces/mcp-instructions.test.ts compares the names
 * with what an MCP client is offered, both ways.
 */
const TOOL_GUIDE: ReadonlyArray<{ readonly tools: readonly string[]; readonly use: string }> = [
  {
    tools: ['execute_python_code', 'execute_javascript_code', 'execute_typescript_code', 'execute_bash_command'],
    use: 'run code; each takes an optional session_id and an optional timeout in seconds.',
  },
  {
    tools: ['execute_code'],
    use:
      'run code in any language by name (python, javascript, typescript, bash, and one-shot c, cpp, go, java, rust, ' +
      'php, r, d, fortran), with optional args (argv), session_id and timeout.',
  },
  {
    tools: [
      'create_execution_session',
      'list_execution_sessions',
      'get_execution_history',
      'reset_execution_session',
      'close_execution_session',
    ],
    use: 'manage sessions.',
  },
  {
    tools: ['upload_file', 'list_files', 'read_file'],
    use: "put a file from the conversation into the session's /mnt/data, list the files there, show one.",
  },
  { tools: ['get_system_info'], use: 'language versions, installed packages and limits.' },
];

export function serverInstructions(settings: Settings): string {
  const { limits, sessions } = settings;
  return [
    'Codecell runs code in isolated sandboxes: Python 3, JavaScript and TypeScript (Node.js), and bash; and, one ' +
      'program per call with only files carried over, C, C++, Go, Java, Rust, PHP, R, D and Fortran (execute_code).',
    '',
    'Tools:',
    ...TOOL_GUIDE.map((group) => `- ${group.tools.join(', ')}: ${group.use}`),
    '',
    'State:',
    '- State persists between calls. Without session_id every call uses your default session, so a variable, ' +
      'function or import defined in one call is there in the next. Create a session only for a separate workspace.',
    '- Each language keeps its own variables (JavaScript and TypeScript share theirs); files are shared by all ' +
      'languages of a session. Results list values that could not be carried over.',
    '- An unknown or expired session_id is an error, never a silent new session: leave session_id out or create one.',
    '',
    'Files and plots:',
    '- The working directory is /mnt/data. Files written there stay in the session; each result lists the files ' +
      'a call created or changed, with download links when the server has them. Share those links with the user.',
    '- Matplotlib figures come back as images (plt.show() or any open figure). Do not encode plots as base64 yourself.',
    '',
    'Limits:',
    `- No network access. ${limits.timeoutMs / 1000} s per call (the timeout parameter can only lower it), ` +
      `${formatBytes(limits.memoryBytes)} memory, ${limits.maxOutputChars} characters of stdout and of stderr ` +
      `(the middle of longer output is cut), ${limits.maxImagesPerRun} images per call, ` +
      `${formatBytes(limits.maxFileBytes)} per file, ${formatBytes(limits.sessionQuotaBytes)} per session.`,
    `- Sessions and their files are deleted after ${Math.round(sessions.ttlMs / 60_000)} minutes without use.`,
    `- Code is limited to ${MAX_CODE_CHARS.toLocaleString('en-US')} characters per call; put large data in files.`,
  ].join('\n');
}
