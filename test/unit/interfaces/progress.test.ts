/** Output streamed as MCP progress notifications: only when asked for, rate-limited, never after the end. */
import type { ServerNotification } from '@modelcontextprotocol/sdk/types.js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { MAX_PROGRESS_TOKEN_CHARS, OUTPUT_META_KEY, outputProgress, tailChunks } from '../../../src/interfaces/mcp/progress.js';

const logger = createLogger('silent');

function recorder(progressToken?: string) {
  const sent: ServerNotification[] = [];
  const extra = {
    _meta: progressToken === undefined ? undefined : { progressToken },
    sendNotification: async (notification: ServerNotification) => {
      sent.push(notification);
    },
  };
  return { sent, extra };
}

function messages(sent: ServerNotification[]): { progress: unknown; message: unknown }[] {
  return sent.map((n) => {
    if (n.method !== 'notifications/progress') throw new Error(`unexpected ${n.method}`);
    return { progress: n.params.progress, message: n.params.message };
  });
}

describe('outputProgress', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('does nothing when the client sent no progress token', () => {
    const { extra } = recorder();
    expect(outputProgress(extra, logger)).toBeUndefined();
  });

  it('does not echo a progress token longer than the cap', () => {
    expect(outputProgress(recorder('t'.repeat(MAX_PROGRESS_TOKEN_CHARS + 1)).extra, logger)).toBeUndefined();
    const { sent, extra } = recorder('t'.repeat(MAX_PROGRESS_TOKEN_CHARS));
    outputProgress(extra, logger)?.onOutput({ stream: 'stdout', text: 'a\n' });
    expect(messages(sent)).toEqual([{ progress: 2, message: 'a\n' }]);
  });

  it('sends the first chunk at once and batches the rest into one notification per interval', () => {
    const { sent, extra } = recorder('tok');
    const progress = outputProgress(extra, logger, { minIntervalMs: 250 });
    progress?.onOutput({ stream: 'stdout', text: 'a\n' });
    progress?.onOutput({ stream: 'stdout', text: 'b\n' });
    progress?.onOutput({ stream: 'stderr', text: 'c\n' });
    expect(messages(sent)).toEqual([{ progress: 2, message: 'a\n' }]);
    vi.advanceTimersByTime(249);
    expect(sent).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(messages(sent)).toEqual([
      { progress: 2, message: 'a\n' },
      { progress: 6, message: 'b\nc\n' },
    ]);
    const first = sent[0];
    expect(first?.method === 'notifications/progress' && first.params.progressToken).toBe('tok');
  });

  it('sends only the tail of a long burst', () => {
    const { sent, extra } = recorder('tok');
    const progress = outputProgress(extra, logger, { minIntervalMs: 100, maxMessageChars: 10 });
    progress?.onOutput({ stream: 'stdout', text: 'x' });
    for (let i = 0; i < 100; i += 1) progress?.onOutput({ stream: 'stdout', text: `${i % 10}` });
    vi.advanceTimersByTime(100);
    expect(messages(sent)[1]).toEqual({ progress: 101, message: '…0123456789' });
  });

  it('sends nothing after stop(), even what was pending', () => {
    const { sent, extra } = recorder('tok');
    const progress = outputProgress(extra, logger, { minIntervalMs: 250 });
    progress?.onOutput({ stream: 'stdout', text: 'first' });
    progress?.onOutput({ stream: 'stdout', text: 'pending' });
    progress?.stop();
    vi.advanceTimersByTime(1000);
    progress?.onOutput({ stream: 'stdout', text: 'late' });
    expect(messages(sent)).toEqual([{ progress: 5, message: 'first' }]);
  });

  it('carries the same text as typed chunks in _meta, stdout and stderr apart and in order', () => {
    const { sent, extra } = recorder('tok');
    const progress = outputProgress(extra, logger, { minIntervalMs: 250 });
    progress?.onOutput({ stream: 'stdout', text: 'a\n' });
    progress?.onOutput({ stream: 'stdout', text: 'b\n' });
    progress?.onOutput({ stream: 'stderr', text: 'e1\n' });
    progress?.onOutput({ stream: 'stderr', text: 'e2\n' });
    progress?.onOutput({ stream: 'stdout', text: 'c\n' });
    vi.advanceTimersByTime(250);
    const chunks = sent.map((n) => (n.method === 'notifications/progress' ? n.params._meta?.[OUTPUT_META_KEY] : undefined));
    expect(chunks).toEqual([
      [{ stream: 'stdout', text: 'a\n' }],
      [
        { stream: 'stdout', text: 'b\n' },
        { stream: 'stderr', text: 'e1\ne2\n' },
        { stream: 'stdout', text: 'c\n' },
      ],
    ]);
    expect(messages(sent).map((m) => m.message)).toEqual(['a\n', 'b\ne1\ne2\nc\n']);
  });
});

describe('tailChunks', () => {
  it('keeps everything when it fits', () => {
    const chunks = [{ stream: 'stdout' as const, text: 'abc' }, { stream: 'stderr' as const, text: 'de' }];
    expect(tailChunks(chunks, 5)).toEqual(chunks);
  });

  it('cuts inside a chunk and marks the cut', () => {
    expect(tailChunks([{ stream: 'stdout', text: 'abcdef' }, { stream: 'stderr', text: 'gh' }], 5)).toEqual([
      { stream: 'stdout', text: '…def' },
      { stream: 'stderr', text: 'gh' },
    ]);
  });

  it('marks the first kept chunk when whole chunks before it were dropped', () => {
    expect(tailChunks([{ stream: 'stdout', text: 'abc' }, { stream: 'stderr', text: 'de' }], 2)).toEqual([{ stream: 'stderr', text: '…de' }]);
  });
});
