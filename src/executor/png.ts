/**
 * Whether a PNG may be handed to a client inline, from its IHDR chunk (nothing is decoded here).
 * A client decodes what it is given: a small file may declare 200000×200000 pixels (tens of GB
 * once decoded), so the declared size is capped, not only the file's bytes.
 */
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Each side at most this many pixels (a 300 dpi figure of 30 inches fits). */
export const MAX_INLINE_PNG_SIDE = 10_000;
/**
 * At most this many pixels in all (200 MB once decoded to RGBA). The host decodes such an image
 * only to downscale it (engine/inline-images.ts); a client never gets more than the inline budget.
 */
export const MAX_INLINE_PNG_PIXELS = 50_000_000;

/** The declared size, or null when the bytes are not a PNG or it is too large to show inline. */
export function inlinePngSize(bytes: Buffer): { width: number; height: number } | null {
  if (bytes.length < 24 || !bytes.subarray(0, 8).equals(PNG_SIGNATURE)) return null;
  if (bytes.readUInt32BE(8) !== 13 || bytes.toString('latin1', 12, 16) !== 'IHDR') return null;
  const width = bytes.readUInt32BE(16);
  const height = bytes.readUInt32BE(20);
  if (width < 1 || height < 1 || width > MAX_INLINE_PNG_SIDE || height > MAX_INLINE_PNG_SIDE) return null;
  if (width * height > MAX_INLINE_PNG_PIXELS) return null;
  return { width, height };
}

/**
 * Bytes the host must hold to decode an interlaced PNG (libvips cannot stream Adam7, it decodes the
 * whole image), as libvips expands it: palettes to RGBA, 16-bit samples kept. 0 when it is not
 * interlaced (decoded row by row with sequentialRead). A 16-bit RGBA image of 50M pixels is 400 MB.
 */
export function interlacedDecodeBytes(bytes: Buffer): number {
  if (bytes.length < 29 || bytes.readUInt8(28) !== 1) return 0;
  const bitDepth = bytes.readUInt8(24);
  const samples = ({ 0: 1, 2: 3, 3: 4, 4: 2, 6: 4 } as Record<number, number>)[bytes.readUInt8(25)] ?? 4;
  return bytes.readUInt32BE(16) * bytes.readUInt32BE(20) * samples * (bitDepth === 16 ? 2 : 1);
}

/** At most what an 8-bit RGBA image within MAX_INLINE_PNG_PIXELS decodes to. */
export const MAX_INTERLACED_DECODE_BYTES = MAX_INLINE_PNG_PIXELS * 4;
