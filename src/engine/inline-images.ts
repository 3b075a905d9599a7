/**
 * The inline copy of an image, within a budget (CODECELL_INLINE_IMAGE_MAX_PX on the longest side,
 * CODECELL_INLINE_IMAGE_MAX_KB in bytes): some model APIs refuse larger images, and every byte is
 * base64 in the model's context. Larger ones are downscaled with sharp (libvips); the full image
 * stays a file in /mnt/data. Only PNGs that passed the header caps (executor/png.ts) get here.
 */
import PQueue from 'p-queue';
import sharp from 'sharp';
import { interlacedDecodeBytes, MAX_INLINE_PNG_PIXELS, MAX_INTERLACED_DECODE_BYTES } from '../executor/png.js';

export interface InlineImageBudget {
  readonly maxSide: number;
  readonly maxBytes: number;
}

export interface FittedImage {
  readonly bytes: Buffer;
  readonly width: number;
  readonly height: number;
  /** The original's size when this is a downscaled copy; null when it is the original. */
  readonly downscaledFrom: { readonly width: number; readonly height: number; readonly bytes: number } | null;
}

/** A copy still over the byte budget is made again, smaller by the bytes' ratio (bytes grow with the area). */
const MAX_TRIES = 5;

/**
 * At most two host decodes at once across all runs: each may hold up to ~200 MB and a libuv thread
 * (shared with every file operation of the server) for seconds; concurrent runs must not multiply that.
 */
const decodes = new PQueue({ concurrency: 2 });

/** The image itself when within the budget, else a downscaled PNG copy; null when it cannot be decoded. */
export async function fitInlineImage(
  png: Buffer,
  size: { readonly width: number; readonly height: number },
  budget: InlineImageBudget,
): Promise<FittedImage | null> {
  if (Math.max(size.width, size.height) <= budget.maxSide && png.length <= budget.maxBytes) {
    return { bytes: png, width: size.width, height: size.height, downscaledFrom: null };
  }
  // An interlaced PNG is decoded whole: a 16-bit one of 50M pixels would hold 400 MB on the host.
  if (interlacedDecodeBytes(png) > MAX_INTERLACED_DECODE_BYTES) return null;
  const longest = Math.max(size.width, size.height);
  // Bytes grow about with the area: the first try aims at the byte budget already.
  const aimed = png.length > budget.maxBytes ? Math.floor(longest * 0.95 * Math.sqrt(budget.maxBytes / png.length)) : longest;
  let side = Math.max(16, Math.min(budget.maxSide, aimed));
  try {
    for (let attempt = 0; attempt < MAX_TRIES; attempt += 1) {
      const width = side;
      const { data, info } = await decodes.add(
        () =>
          sharp(png, { limitInputPixels: MAX_INLINE_PNG_PIXELS, sequentialRead: true })
            .resize({ width, height: width, fit: 'inside', withoutEnlargement: true })
            .png({ compressionLevel: 9 })
            .toBuffer({ resolveWithObject: true }),
      );
      if (data.length <= budget.maxBytes || attempt === MAX_TRIES - 1) {
        if (data.length > budget.maxBytes) return null;
        return { bytes: data, width: info.width, height: info.height, downscaledFrom: { width: size.width, height: size.height, bytes: png.length } };
      }
      side = Math.max(16, Math.floor(side * Math.min(0.9, 0.95 * Math.sqrt(budget.maxBytes / data.length))));
    }
  } catch {
    return null; // not decodable (corrupt, or lying about its size): not shown, as before
  }
  return null;
}
