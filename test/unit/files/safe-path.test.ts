import { describe, expect, it } from 'vitest';
import { CodecellError } from '../../../src/errors.js';
import { ancestorsOf, baseName, parseRelativePath } from '../../../src/files/safe-path.js';

describe('parseRelativePath', () => {
  it.each([
    ['report.csv', 'report.csv'],
    ['data/2024/q1.csv', 'data/2024/q1.csv'],
    ['/mnt/data/report.csv', 'report.csv'],
    ['/mnt/data/out/plot.png', 'out/plot.png'],
    ['.hidden', '.hidden'],
    ['a..b', 'a..b'],
    ['...', '...'],
    ['résumé ☃.txt', 'résumé ☃.txt'],
    ['e\u0301t\u00e9.txt', '\u00e9t\u00e9.txt'], // NFD in, NFC out
    ['日本語/データ.csv', '日本語/データ.csv'],
    ['emoji 🎉.md', 'emoji 🎉.md'],
    ['mnt/data/x', 'mnt/data/x'], // relative: a folder that happens to be called mnt
    [`${'a'.repeat(255)}`, 'a'.repeat(255)],
    [Array.from({ length: 32 }, () => 'd').join('/'), Array.from({ length: 32 }, () => 'd').join('/')],
  ])('accepts %j as %j', (input, expected) => {
    expect(parseRelativePath(input)).toBe(expected);
  });

  it.each([
    ['', 'empty'],
    ['/etc/passwd', 'absolute'],
    ['/mnt/data', '/mnt/data itself'],
    ['/mnt/data/', '/mnt/data itself'],
    ['/mnt/datafile', 'absolute'],
    ['C:/Windows/system.ini', 'absolute'],
    ['c:evil', 'absolute'],
    ['\\\\server\\share', 'backslash'],
    ['a\\b.txt', 'backslash'],
    ['..', "'..'"],
    ['../escape.txt', "'..'"],
    ['../../etc/shadow', "'..'"],
    ['a/../../b', "'..'"],
    ['/mnt/data/../etc/shadow', "'..'"],
    ['./a', "'.'"],
    ['a/./b', "'.'"],
    ['a//b', 'empty part'],
    ['a/', 'empty part'],
    ['a\0b', 'NUL'],
    ['a\nb', 'control character'],
    ['a\rb', 'control character'],
    ['a\tb', 'control character'],
    ['a\u0007b', 'control character'],
    ['a\u007fb', 'control character'],
    ['a\u0085b', 'control character'],
    ['a\u009bb', 'control character'],
    ['bad\uD800name', 'not valid Unicode'],
    ['bad\uDC00name', 'not valid Unicode'],
    ['a'.repeat(256), 'longer than 255 bytes'],
    ['é'.repeat(128), 'longer than 255 bytes'], // 256 bytes in UTF-8
    [Array.from({ length: 33 }, () => 'd').join('/'), 'more than 32 folders'],
    [Array.from({ length: 8 }, () => 'x'.repeat(200)).join('/'), 'longer than 1024 bytes'],
  ])('rejects %j (%s)', (input, problem) => {
    let thrown: unknown;
    try {
      parseRelativePath(input);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(CodecellError);
    expect((thrown as CodecellError).code).toBe('INVALID_INPUT');
    expect((thrown as CodecellError).message).toContain(problem);
  });

  it('shows control characters escaped in its message, never raw', () => {
    expect(() => parseRelativePath('x\ny')).toThrow(/"x\\ny"/);
  });
});

describe('path helpers', () => {
  it('splits names and ancestors', () => {
    expect(baseName('a/b/c.txt')).toBe('c.txt');
    expect(baseName('c.txt')).toBe('c.txt');
    expect(ancestorsOf('a/b/c.txt')).toEqual(['a', 'a/b']);
    expect(ancestorsOf('c.txt')).toEqual([]);
  });
});
