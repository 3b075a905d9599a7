import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { errnoOf } from '../../src/errno.js';

describe('errnoOf', () => {
  it('reads the code of a failed system call', async () => {
    const error: unknown = await readFile('/nonexistent/codecell-errno-test').catch((caught: unknown) => caught);
    expect(errnoOf(error)).toBe('ENOENT');
  });

  it('is undefined for errors without a text code', () => {
    expect(errnoOf(new Error('plain'))).toBeUndefined();
    expect(errnoOf({ code: 404 })).toBeUndefined();
    expect(errnoOf('ENOENT')).toBeUndefined();
    expect(errnoOf(null)).toBeUndefined();
  });
});
