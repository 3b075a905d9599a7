import { describe, expect, it } from 'vitest';
import { DEFAULT_MIME_TYPE, isInlineImage, isTextMimeType, mimeTypeFor } from '../../../src/files/mime.js';

describe('mimeTypeFor', () => {
  it('takes common types from the mime-db table, text with a charset', () => {
    expect(mimeTypeFor('data.csv')).toBe('text/csv; charset=utf-8');
    expect(mimeTypeFor('chart.PNG')).toBe('image/png');
    expect(mimeTypeFor('report.pdf')).toBe('application/pdf');
    expect(mimeTypeFor('book.xlsx')).toBe('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet');
    expect(mimeTypeFor('reports/2024/notes.md')).toBe('text/markdown; charset=utf-8');
  });

  it("keeps Codecell's own readings where the table differs or is silent", () => {
    expect(mimeTypeFor('main.ts')).toBe('text/x-typescript; charset=utf-8'); // not an MPEG stream
    expect(mimeTypeFor('lib.cjs')).toBe('text/javascript; charset=utf-8');
    expect(mimeTypeFor('script.py')).toBe('text/x-python; charset=utf-8');
    expect(mimeTypeFor('rows.jsonl')).toBe('application/x-ndjson');
    expect(mimeTypeFor('table.parquet')).toBe('application/vnd.apache.parquet');
  });

  it('answers octet-stream for unknown extensions, names without one, and dotfiles', () => {
    for (const name of ['blob.unknownext', 'Makefile', 'csv', '.bashrc', 'trailing.', 'dir.v2/README']) {
      expect(mimeTypeFor(name), name).toBe(DEFAULT_MIME_TYPE);
    }
  });
});

describe('type classes', () => {
  it('tells text types and inline images', () => {
    expect(isTextMimeType(mimeTypeFor('config.yaml'))).toBe(true);
    expect(isTextMimeType(mimeTypeFor('data.json'))).toBe(true);
    expect(isTextMimeType(mimeTypeFor('chart.png'))).toBe(false);
    expect(isInlineImage(mimeTypeFor('photo.jpg'))).toBe(true);
    expect(isInlineImage(mimeTypeFor('drawing.svg'))).toBe(false);
  });
});
