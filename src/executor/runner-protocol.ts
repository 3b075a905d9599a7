/**
 * The host's side of the runner protocol (images/PROTOCOL.md): the job line we send and the frames
 * the runner sends back. Frames come from untrusted code's process, so everything is validated.
 */
import { z } from 'zod';
import { LANGUAGES } from '../domain/types.js';

export const FRAME_START = '\x1e';
export const FRAME_NONCE_END = '\x1f';
export const READY_NONCE = 'ready';

/** Bounds of a job's `args` (the program's command-line arguments). */
export const MAX_ARGS = 256;
export const MAX_ARG_CHARS = 10_000;
export const MAX_ARGS_TOTAL_CHARS = 100_000;

/**
 * The 1-based position of the first lone UTF-16 surrogate in `text`, or undefined when it is
 * well-formed. Such text has no UTF-8 form: the runners would refuse the job line it is sent in.
 */
export function loneSurrogateAt(text: string): number | undefined {
  // Hand-written: String.prototype.isWellFormed says whether, not where (and is past our TS lib).
  for (let index = 0; index < text.length; index += 1) {
    const unit = text.charCodeAt(index);
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const next = text.charCodeAt(index + 1);
      if (next >= 0xdc00 && next <= 0xdfff) index += 1;
      else return index + 1;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return index + 1;
    }
  }
  return undefined;
}

/** Why `code` cannot be sent to a runner, or undefined when it can. */
export function codeTextProblem(code: string): string | undefined {
  const at = loneSurrogateAt(code);
  return at === undefined ? undefined : `code must be valid Unicode text: a lone surrogate at character ${at}`;
}

/**
 * Why `args` cannot be a program's arguments, or undefined when they can (NUL ends a C string).
 * Arguments are named by their 1-based position, as a caller lists them.
 */
export function argsProblem(args: readonly string[]): string | undefined {
  if (args.length > MAX_ARGS) return `at most ${MAX_ARGS} arguments are allowed (got ${args.length})`;
  let total = 0;
  for (const [index, arg] of args.entries()) {
    const position = index + 1;
    if (arg.includes('\0')) return `argument ${position} contains a NUL character, which arguments cannot carry`;
    if (arg.length > MAX_ARG_CHARS) {
      return `argument ${position} is ${arg.length} characters; the limit is ${MAX_ARG_CHARS} per argument`;
    }
    const at = loneSurrogateAt(arg);
    if (at !== undefined) {
      return `args must be valid Unicode text: a lone surrogate at character ${at} of argument ${position}`;
    }
    total += arg.length;
  }
  return total > MAX_ARGS_TOTAL_CHARS
    ? `the arguments are ${total} characters in all; the limit is ${MAX_ARGS_TOTAL_CHARS}`
    : undefined;
}

export const JobLineSchema = z.object({
  v: z.literal(1),
  nonce: z.string().regex(/^[0-9a-f]{16,64}$/),
  code: z.string(),
  restore: z.boolean(),
  maxImages: z.number().int().min(0),
  /** The language of `code` (TypeScript arrives transpiled); the one-shot runner compiles by it. */
  sourceLanguage: z.enum(LANGUAGES),
  /** sys.argv[1:] / process.argv.slice(2) / "$@" of the program. Runners take a line without it as []. */
  args: z.array(z.string()).refine((args) => argsProblem(args) === undefined, { message: 'args out of bounds' }),
  /** TypeScript cells: the TypeScript and the source map's `mappings` from `code` back to it (node runner). */
  sourceMap: z.object({ source: z.string(), mappings: z.string() }).optional(),
});
export type JobLine = z.infer<typeof JobLineSchema>;

export const ReadyFrameSchema = z.object({
  type: z.literal('ready'),
  runtime: z.enum(['python', 'node', 'bash', 'oneshot']),
  version: z.string().max(200),
});
export type ReadyFrame = z.infer<typeof ReadyFrameSchema>;

/** Sent on stderr just before the result frame: everything the runner wrote to stderr has arrived. */
export const StderrEndFrameSchema = z.object({ type: z.literal('stderr-end') });

const short = (max: number) => z.string().max(max);

/** Bounds of rich displays (images/PROTOCOL.md, "displays"); the Python runner keeps within them. */
export const DISPLAY_LIMITS = {
  displays: 20,
  rows: 200,
  columns: 50,
  // Levels of a MultiIndex whose names are sent (pandas allows more, nobody uses them).
  levels: 64,
  // The runner cuts a cell at 1,000 code points: up to 2,000 UTF-16 units here.
  cellChars: 2_000,
  htmlChars: 256 * 1024,
  // The runner sends at most 64 Ki code points of a display's stdout text: up to twice as many UTF-16 units.
  stdoutTextChars: 128 * 1024,
} as const;

/** What display() printed on stdout for this display (absent when it printed nothing or too much). */
const stdoutText = z.string().max(DISPLAY_LIMITS.stdoutTextChars).optional().catch(undefined);

const TableCellSchema = z.union([short(DISPLAY_LIMITS.cellChars), z.number(), z.boolean(), z.null()]);

export const DisplayFrameSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('table'),
    columns: z.array(short(DISPLAY_LIMITS.cellChars)).max(DISPLAY_LIMITS.columns),
    index: z.array(short(DISPLAY_LIMITS.cellChars)).max(DISPLAY_LIMITS.rows).nullable(),
    // Names of the index's and the columns' levels (older runners send neither: null).
    index_names: z.array(short(DISPLAY_LIMITS.cellChars).nullable()).max(DISPLAY_LIMITS.levels).nullable().default(null),
    column_names: z.array(short(DISPLAY_LIMITS.cellChars).nullable()).max(DISPLAY_LIMITS.levels).nullable().default(null),
    rows: z.array(z.array(TableCellSchema).max(DISPLAY_LIMITS.columns)).max(DISPLAY_LIMITS.rows),
    total_rows: z.number().int().min(0),
    total_columns: z.number().int().min(0),
    truncated: z.boolean(),
    stdout_text: stdoutText,
  }),
  z.object({ type: z.literal('html'), html: short(DISPLAY_LIMITS.htmlChars), stdout_text: stdoutText }),
]);
export type DisplayFrame = z.infer<typeof DisplayFrameSchema>;

export const ResultFrameSchema = z.object({
  type: z.literal('result'),
  outcome: z.enum(['ok', 'error']),
  value: z.string().nullable(),
  error: z
    .object({ name: short(500), message: z.string(), traceback: z.string() })
    .nullable(),
  exitCode: z.number().int(),
  images: z
    .array(
      z.object({
        name: short(255),
        mimeType: z.literal('image/png'),
        base64: z.string(),
      }),
    )
    .max(100),
  imagesOmitted: z.number().int().min(0),
  notCarried: z
    .array(z.object({ name: short(500), type: short(500), reason: short(2000) }))
    .max(10_000),
  stateSaved: z.boolean(),
  stateError: z.string().nullable(),
  loadedModules: z.array(short(100)).max(100),
  /**
   * OOM kills counted so far by the container's own memory cgroup, read by the runner after the
   * code ended (null where the runtime shows no cgroup files, as gVisor; then the host asks Docker).
   */
  oomKills: z.number().int().min(0).max(1e9).nullable().optional(),
  /**
   * Sentences the runner adds to the run's notice (Python: how to get a package that is missing).
   * Optional; a malformed list is ignored, never an error.
   */
  notices: z.array(z.string().max(2_000)).max(10).optional().catch(undefined),
  /**
   * Tables and HTML the code displayed, in output order (Python only). Optional; a malformed list
   * is dropped whole, never an error.
   */
  displays: z.array(DisplayFrameSchema).max(DISPLAY_LIMITS.displays).optional().catch(undefined),
  /** Where the runner's time went, in ms (optional; only logged). */
  timings: z
    .object({
      restoreMs: z.number().nonnegative().max(1e9),
      runMs: z.number().nonnegative().max(1e9),
      saveMs: z.number().nonnegative().max(1e9),
    })
    .partial()
    .nullable()
    .optional()
    .catch(null),
});
export type ResultFrame = z.infer<typeof ResultFrameSchema>;
