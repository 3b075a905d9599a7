/** A text upload that is not UTF-8 (a spreadsheet's Windows-1252 CSV) is named as such. */
import { describe, expect, it } from 'vitest';
import { mimeTypeFor } from '../../../src/files/mime.js';
import { notUtf8Note } from '../../../src/files/text-encoding.js';

describe('notUtf8Note', () => {
  it('names the encoding of a Latin-1 CSV', () => {
    const bytes = Buffer.from('name;city\nJosé;München\n', 'latin1');
    expect(notUtf8Note(mimeTypeFor('eu.csv'), bytes)).toContain("encoding='cp1252'");
  });

  it('says nothing for UTF-8 text, or for a binary type', () => {
    expect(notUtf8Note(mimeTypeFor('eu.csv'), Buffer.from('name\nJosé\n', 'utf8'))).toBeNull();
    expect(notUtf8Note(mimeTypeFor('pic.png'), Buffer.from([0x89, 0x50, 0xe9, 0xff]))).toBeNull();
  });
});
