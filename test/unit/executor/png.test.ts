/** Which PNGs may go to a client inline: real PNG headers within the declared-size caps. */
import { describe, expect, it } from 'vitest';
import { inlinePngSize, interlacedDecodeBytes, MAX_INLINE_PNG_PIXELS, MAX_INLINE_PNG_SIDE, MAX_INTERLACED_DECODE_BYTES } from '../../../src/executor/png.js';
import { pngDeclaring } from './png-bytes.js';

describe('inlinePngSize', () => {
  it('reads the declared size of an ordinary PNG', () => {
    expect(inlinePngSize(pngDeclaring(640, 480))).toEqual({ width: 640, height: 480 });
    expect(inlinePngSize(pngDeclaring(MAX_INLINE_PNG_SIDE, MAX_INLINE_PNG_PIXELS / MAX_INLINE_PNG_SIDE))).not.toBeNull();
  });

  it('refuses a decompression bomb by its declared size', () => {
    expect(inlinePngSize(pngDeclaring(200_000, 200_000))).toBeNull();
    expect(inlinePngSize(pngDeclaring(MAX_INLINE_PNG_SIDE + 1, 1))).toBeNull();
    expect(inlinePngSize(pngDeclaring(1, MAX_INLINE_PNG_SIDE + 1))).toBeNull();
    expect(inlinePngSize(pngDeclaring(MAX_INLINE_PNG_SIDE, MAX_INLINE_PNG_SIDE))).toBeNull(); // too many pixels
  });

  it('refuses what is not a PNG header', () => {
    expect(inlinePngSize(Buffer.from('not a png at all, not at all'))).toBeNull();
    expect(inlinePngSize(pngDeclaring(0, 10))).toBeNull();
    const wrongLength = pngDeclaring(10, 10);
    wrongLength.writeUInt32BE(12, 8);
    expect(inlinePngSize(wrongLength)).toBeNull();
  });
});

describe('interlacedDecodeBytes', () => {
  /** `pngDeclaring` with the IHDR's bit depth, colour type and interlace method set. */
  function declared(width: number, height: number, bitDepth: number, colourType: number, interlace: number): Buffer {
    const png = pngDeclaring(width, height);
    png.writeUInt8(bitDepth, 24);
    png.writeUInt8(colourType, 25);
    png.writeUInt8(interlace, 28);
    return png;
  }

  it('is 0 for a PNG decoded row by row', () => {
    expect(interlacedDecodeBytes(declared(7000, 7000, 16, 6, 0))).toBe(0);
  });

  it('counts an interlaced PNG as libvips expands it: 16-bit samples kept, palettes to RGBA', () => {
    expect(interlacedDecodeBytes(declared(7000, 7000, 16, 6, 1))).toBe(7000 * 7000 * 8);
    expect(interlacedDecodeBytes(declared(7000, 7000, 16, 6, 1))).toBeGreaterThan(MAX_INTERLACED_DECODE_BYTES);
    expect(interlacedDecodeBytes(declared(7000, 7000, 8, 6, 1))).toBeLessThanOrEqual(MAX_INTERLACED_DECODE_BYTES);
    expect(interlacedDecodeBytes(declared(100, 10, 1, 3, 1))).toBe(100 * 10 * 4);
    expect(interlacedDecodeBytes(declared(100, 10, 16, 0, 1))).toBe(100 * 10 * 2);
  });
});
