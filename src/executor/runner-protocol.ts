/**
 * The host's side of the runner protocol (images/PROTOCOL.md): the job line we send and the frames
 * the runner sends back. Frames come from untrusted code's process, so everything is validated.
 */
import { z } from 'zod';

export const FRAME_START = '\x1e';
export const FRAME_NONCE_END = '\x1f';
export const READY_NONCE = 'ready';

export const JobLineSchema = z.object({
  v: z.literal(1),
  nonce: z.string().regex(/^[0-9a-f]{16,64}$/),
  code: z.string(),
  restore: z.boolean(),
  maxImages: z.number().int().min(0),
  sourceLanguage: z.enum(['python', 'javascript', 'typescript', 'bash']),
});
export type JobLine = z.infer<typeof JobLineSchema>;

export const ReadyFrameSchema = z.object({
  type: z.literal('ready'),
  runtime: z.enum(['python', 'node', 'bash']),
  version: z.string().max(200),
});
export type ReadyFrame = z.infer<typeof ReadyFrameSchema>;

/** Sent on stderr just before the result frame: everything the runner wrote to stderr has arrived. */
export const StderrEndFrameSchema = z.object({ type: z.literal('stderr-end') });

const short = (max: number) => z.string().max(max);

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
