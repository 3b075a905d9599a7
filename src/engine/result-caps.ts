/**
 * Caps on what a run's result frame hands to clients. The frame comes from the sandbox, and user
 * code can forge it (docs/security.md, "The runner is not a boundary"), so the runners' own caps
 * are enforced again here: images (count, bytes, declared size), the value, the error, the
 * not-carried list.
 */
import { inlinePngSize } from '../executor/png.js';
import type { ResultFrame } from '../executor/runner-protocol.js';
import { MAX_INLINE_IMAGE_BYTES } from './file-change-reporter.js';
import type { ExecutionError, NotCarriedValue, ResultImage } from './types.js';

/** The runners' own limits (images/python/codecell_runner/cell.py, errors.py; images/node/lib/run.js). */
export const MAX_VALUE_CHARS = 10_000;
export const MAX_ERROR_MESSAGE_CHARS = 10_000;
export const MAX_TRACEBACK_CHARS = 50_000;
export const MAX_NOT_CARRIED = 1_000;

/** The frame's images a client may get inline: at most `maxImages`, each a PNG within the caps. */
export function inlineFrameImages(
  frameImages: ResultFrame['images'],
  maxImages: number,
): { images: ResultImage[]; omitted: number } {
  const images: ResultImage[] = [];
  let omitted = 0;
  for (const image of frameImages) {
    if (images.length >= maxImages) {
      omitted += 1;
      continue;
    }
    // base64 is 4/3 of the bytes: a longer string cannot be an image within the byte cap.
    if (image.base64.length > Math.ceil(MAX_INLINE_IMAGE_BYTES / 3) * 4) {
      omitted += 1;
      continue;
    }
    const bytes = Buffer.from(image.base64, 'base64');
    const size = inlinePngSize(bytes);
    if (!size || bytes.length > MAX_INLINE_IMAGE_BYTES) {
      omitted += 1;
      continue;
    }
    images.push({ name: image.name, mimeType: 'image/png', base64: image.base64, ...size });
  }
  return { images, omitted };
}

/** `text` cut to `max` characters, marked with a trailing ellipsis as the runners do. */
export function capText(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export function capValue(value: string | null): string | null {
  return value === null ? null : capText(value, MAX_VALUE_CHARS);
}

export function capError(error: ExecutionError | null): ExecutionError | null {
  if (error === null) return null;
  return {
    name: error.name,
    message: capText(error.message, MAX_ERROR_MESSAGE_CHARS),
    traceback: capText(error.traceback, MAX_TRACEBACK_CHARS),
  };
}

export function capNotCarried(values: readonly NotCarriedValue[]): readonly NotCarriedValue[] {
  return values.length > MAX_NOT_CARRIED ? values.slice(0, MAX_NOT_CARRIED) : values;
}
