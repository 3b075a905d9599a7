/** What a (possibly forged) result frame can hand to a client: capped on the host. */
import { describe, expect, it } from 'vitest';
import {
  capError,
  capNotCarried,
  capValue,
  inlineFrameImages,
  MAX_ERROR_MESSAGE_CHARS,
  MAX_NOT_CARRIED,
  MAX_TRACEBACK_CHARS,
  MAX_VALUE_CHARS,
} from '../../../src/engine/result-caps.js';
import { pngDeclaring } from '../executor/png-bytes.js';

const image = (name: string, bytes: Buffer) => ({ name, mimeType: 'image/png' as const, base64: bytes.toString('base64') });

describe('result caps', () => {
  it('keeps at most maxImages inline images and counts the rest as omitted', () => {
    const frame = Array.from({ length: 7 }, (_, index) => image(`f${index}.png`, pngDeclaring(10, 20)));
    const { images, omitted } = inlineFrameImages(frame, 4);
    expect(images.map((item) => item.name)).toEqual(['f0.png', 'f1.png', 'f2.png', 'f3.png']);
    expect(images[0]).toMatchObject({ width: 10, height: 20, mimeType: 'image/png' });
    expect(omitted).toBe(3);
  });

  it('omits images that are no PNG or declare a bomb-sized picture', () => {
    const { images, omitted } = inlineFrameImages([image('a', Buffer.from('nope')), image('b', pngDeclaring(200_000, 200_000))], 10);
    expect(images).toEqual([]);
    expect(omitted).toBe(2);
  });

  it('cuts the value, the error and the not-carried list to the runners’ limits', () => {
    expect(capValue('v'.repeat(5 * MAX_VALUE_CHARS))).toHaveLength(MAX_VALUE_CHARS);
    expect(capValue('short')).toBe('short');
    expect(capValue(null)).toBeNull();
    const error = capError({ name: 'E', message: 'm'.repeat(MAX_ERROR_MESSAGE_CHARS + 5), traceback: 't'.repeat(MAX_TRACEBACK_CHARS * 2) });
    expect(error?.message).toHaveLength(MAX_ERROR_MESSAGE_CHARS);
    expect(error?.message.endsWith('…')).toBe(true);
    expect(error?.traceback).toHaveLength(MAX_TRACEBACK_CHARS);
    const many = Array.from({ length: MAX_NOT_CARRIED + 50 }, (_, index) => ({ name: `v${index}`, type: 't', reason: 'r' }));
    expect(capNotCarried(many)).toHaveLength(MAX_NOT_CARRIED);
  });
});
