/**
 * Streams a running job's output to the client as MCP progress notifications, when the client
 * asked for progress (sent `_meta.progressToken`). At most one notification per interval: a
 * chatty loop must not turn into thousands of messages. `progress` is the number of output
 * characters so far (it only grows, as the spec requires); `message` is the new text since the
 * previous notification, cut to its tail when long; `_meta["codecell/output"]` is the same text as
 * typed chunks ({stream, text}, in order, cut the same way), so a page can tell stdout from stderr.
 * The token is echoed in every notification, so
 * a token longer than MAX_PROGRESS_TOKEN_CHARS gets no progress at all (the result still comes).
 */
import type { RequestHandlerExtra } from '@modelcontextprotocol/sdk/shared/protocol.js';
import type { ServerNotification, ServerRequest } from '@modelcontextprotocol/sdk/types.js';
import type { OutputChunk } from '../../domain/types.js';
import type { Logger } from '../../logger.js';

/** Clients use counters or UUIDs; anything longer is not echoed back again and again. */
export const MAX_PROGRESS_TOKEN_CHARS = 256;

/** The _meta key of a progress notification's typed output chunks. */
export const OUTPUT_META_KEY = 'codecell/output';

export type ToolExtra = RequestHandlerExtra<ServerRequest, ServerNotification>;

export interface OutputProgress {
  readonly onOutput: (chunk: OutputChunk) => void;
  /** No notification is sent after this: the result carries the full output. */
  readonly stop: () => void;
}

export interface OutputProgressOptions {
  readonly minIntervalMs?: number;
  readonly maxMessageChars?: number;
}

export function outputProgress(
  extra: Pick<ToolExtra, '_meta' | 'sendNotification'>,
  logger: Logger,
  options: OutputProgressOptions = {},
): OutputProgress | undefined {
  const progressToken = extra._meta?.progressToken;
  if (progressToken === undefined) return undefined;
  if (typeof progressToken === 'string' && progressToken.length > MAX_PROGRESS_TOKEN_CHARS) {
    logger.debug({ tokenChars: progressToken.length }, 'progress token too long: no progress notifications');
    return undefined;
  }
  const minIntervalMs = options.minIntervalMs ?? 250;
  const maxMessageChars = options.maxMessageChars ?? 2000;

  let pending: OutputChunk[] = [];
  let pendingChars = 0;
  let streamedChars = 0;
  let lastSentAt = Number.NEGATIVE_INFINITY;
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;

  const flush = (): void => {
    timer = undefined;
    if (stopped || pending.length === 0) return;
    const chunks = tailChunks(pending, maxMessageChars);
    const message = chunks.map((chunk) => chunk.text).join('');
    pending = [];
    pendingChars = 0;
    lastSentAt = Date.now();
    extra
      .sendNotification({
        method: 'notifications/progress',
        params: { progressToken, progress: streamedChars, message, _meta: { [OUTPUT_META_KEY]: chunks } },
      })
      .catch((error: unknown) => logger.debug({ err: error }, 'progress notification not delivered'));
  };

  return {
    onOutput: (chunk) => {
      if (stopped || chunk.text.length === 0) return;
      const last = pending.at(-1);
      if (last !== undefined && last.stream === chunk.stream) pending[pending.length - 1] = { stream: chunk.stream, text: last.text + chunk.text };
      else pending.push({ stream: chunk.stream, text: chunk.text });
      pendingChars += chunk.text.length;
      // Only the tail is ever sent; keep the buffer bounded between two notifications.
      if (pendingChars > 2 * maxMessageChars) {
        pending = tailChunks(pending, maxMessageChars, '');
        pendingChars = pending.reduce((sum, kept) => sum + kept.text.length, 0);
      }
      streamedChars += chunk.text.length;
      if (timer !== undefined) return;
      const waitMs = lastSentAt + minIntervalMs - Date.now();
      if (waitMs <= 0) flush();
      else timer = setTimeout(flush, waitMs);
    },
    stop: () => {
      stopped = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * The last `maxChars` characters of `chunks`, still as chunks in order (neighbours of one stream
 * merged); when something was cut, the first kept chunk starts with `mark`.
 */
export function tailChunks(chunks: readonly OutputChunk[], maxChars: number, mark = '…'): OutputChunk[] {
  const kept: OutputChunk[] = [];
  let room = maxChars;
  for (let index = chunks.length - 1; index >= 0 && room > 0; index -= 1) {
    const chunk = chunks[index]!;
    if (chunk.text.length <= room) {
      kept.unshift(chunk);
      room -= chunk.text.length;
    } else {
      kept.unshift({ stream: chunk.stream, text: `${mark}${chunk.text.slice(-room)}` });
      return kept;
    }
  }
  if (kept.length < chunks.length && kept.length > 0) kept[0] = { stream: kept[0]!.stream, text: `${mark}${kept[0]!.text}` };
  return kept;
}
