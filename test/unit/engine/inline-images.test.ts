/** Inline copies of images within the pixel and byte budget (sharp, real PNGs). */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { fitInlineImage } from '../../../src/engine/inline-images.js';

const BUDGET = { maxSide: 2048, maxBytes: 1024 * 1024 };

/** A PNG of noise: it compresses badly, as a dense plot does. */
async function noisePng(width: number, height: number): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#000000', noise: { type: 'gaussian', mean: 128, sigma: 60 } } }).png().toBuffer();
}

describe('fitInlineImage', () => {
  it('returns an image within the budget as it is', async () => {
    const png = await noisePng(300, 200);
    const fitted = await fitInlineImage(png, { width: 300, height: 200 }, BUDGET);
    expect(fitted?.bytes.equals(png)).toBe(true);
    expect(fitted?.downscaledFrom).toBeNull();
  });

  it('downscales one past the pixel budget, keeping its aspect ratio', async () => {
    const png = await sharp({ create: { width: 6300, height: 4725, channels: 3, background: '#ffffff' } }).png().toBuffer();
    const fitted = await fitInlineImage(png, { width: 6300, height: 4725 }, BUDGET);
    expect(fitted).toMatchObject({ width: 2048, height: 1536, downscaledFrom: { width: 6300, height: 4725, bytes: png.length } });
    const meta = await sharp(fitted?.bytes).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(['png', 2048, 1536]);
  });

  it('shrinks further while the copy is over the byte budget', async () => {
    const png = await noisePng(1200, 900);
    expect(png.length).toBeGreaterThan(BUDGET.maxBytes);
    const fitted = await fitInlineImage(png, { width: 1200, height: 900 }, BUDGET);
    expect(fitted?.bytes.length).toBeLessThanOrEqual(BUDGET.maxBytes);
    expect(fitted?.width).toBeLessThan(1200);
  });

  it('gives null for bytes that do not decode', async () => {
    const png = await noisePng(100, 100);
    const broken = Buffer.concat([png.subarray(0, 40), Buffer.alloc(5000, 7)]);
    expect(await fitInlineImage(broken, { width: 5000, height: 5000 }, BUDGET)).toBeNull();
  });
});
