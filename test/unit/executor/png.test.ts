/** Which PNGs may go to a client inline: real PNG headers within the declared-size caps. */
import { describe, expect, it } from 'vitest';
import { inlinePngSize, MAX_INLINE_PNG_PIXELS, MAX_INLINE_PNG_SIDE } from '../../../src/executor/png.js';
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
