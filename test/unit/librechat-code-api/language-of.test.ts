/** `lang` of /v1/exec: only the listed names, never a property every object inherits. */
import { describe, expect, it } from 'vitest';
import { languageOf } from '../../../src/interfaces/http/librechat-code-api/exec.js';

describe('languageOf', () => {
  it('maps the short and long names', () => {
    expect(languageOf('py')).toBe('python');
    expect(languageOf(' TS ')).toBe('typescript');
    expect(languageOf('sh')).toBe('bash');
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'])('refuses %s', (lang) => {
    expect(() => languageOf(lang)).toThrow(/Unsupported language/);
  });
});
