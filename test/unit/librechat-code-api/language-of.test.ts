/** `lang` of /v1/exec: only the listed names, never a property every object inherits. */
import { describe, expect, it } from 'vitest';
import { languageOf } from '../../../src/interfaces/http/librechat-code-api/exec.js';

describe('languageOf', () => {
  it('maps the short and long names', () => {
    expect(languageOf('py')).toBe('python');
    expect(languageOf(' TS ')).toBe('typescript');
    expect(languageOf('sh')).toBe('bash');
  });

  it("maps every code of LibreChat's execute_code tool", () => {
    const codes = { py: 'python', js: 'javascript', ts: 'typescript', bash: 'bash', c: 'c', cpp: 'cpp', java: 'java', php: 'php', rs: 'rust', go: 'go', d: 'd', f90: 'fortran', r: 'r' };
    expect(Object.fromEntries(Object.keys(codes).map((code) => [code, languageOf(code)]))).toEqual(codes);
    expect(languageOf('C++')).toBe('cpp');
    expect(languageOf('golang')).toBe('go');
  });

  it('names the supported codes when it refuses one', () => {
    expect(() => languageOf('cobol')).toThrow('Unsupported language: cobol. Supported: py, js, ts, bash, c, cpp, java, php, rs, go, d, f90, r');
  });

  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__'])('refuses %s', (lang) => {
    expect(() => languageOf(lang)).toThrow(/Unsupported language/);
  });
});
