/** A saved image that is the same picture as a shown one is sent once. */
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { withoutRepeatedImages } from '../../../src/engine/repeated-images.js';
import type { ResultImage } from '../../../src/engine/types.js';

async function image(name: string, background: string): Promise<ResultImage> {
  const png = await sharp({ create: { width: 40, height: 30, channels: 3, background } }).png().toBuffer();
  return { name, mimeType: 'image/png', base64: png.toString('base64'), width: 40, height: 30 };
}

describe('withoutRepeatedImages', () => {
  it('drops a saved image identical to a shown figure and keeps different ones, in order', async () => {
    const shown = await image('figure-1.png', '#ff0000');
    const sameAsShown = await image('big.png', '#ff0000');
    const other = await image('other.png', '#00ff00');
    const kept = withoutRepeatedImages([shown], [sameAsShown, other]);
    expect(kept.map((kept) => kept.name)).toEqual(['other.png']);
  });

  it('sends two saved copies of one picture once', async () => {
    const first = await image('a.png', '#0000ff');
    const copy = await image('b.png', '#0000ff');
    expect(withoutRepeatedImages([], [first, copy]).map((kept) => kept.name)).toEqual(['a.png']);
  });
});
