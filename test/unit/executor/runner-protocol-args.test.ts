/** The bounds of a job's `args` (images/PROTOCOL.md): what every runner can turn into argv. No Docker. */
import { describe, expect, it } from 'vitest';
import { argsProblem, codeTextProblem, JobLineSchema, loneSurrogateAt, MAX_ARG_CHARS, MAX_ARGS, MAX_ARGS_TOTAL_CHARS } from '../../../src/executor/runner-protocol.js';

const job = { v: 1, nonce: 'a'.repeat(32), code: 'print(1)', restore: false, maxImages: 10, sourceLanguage: 'python' };

describe('job args', () => {
  it('accepts any strings within the bounds, empty ones and newlines included', () => {
    expect(argsProblem([])).toBeUndefined();
    expect(argsProblem(['', 'a b', 'line\nbreak', "it's", 'é☃'])).toBeUndefined();
    expect(argsProblem(Array.from({ length: MAX_ARGS }, () => 'x'))).toBeUndefined();
    expect(JobLineSchema.parse({ ...job, args: ['in.csv'] }).args).toEqual(['in.csv']);
  });

  it('refuses a NUL character, too many, too long ones, and too much in all', () => {
    expect(argsProblem(['a\0b'])).toMatch(/NUL/);
    expect(argsProblem(Array.from({ length: MAX_ARGS + 1 }, () => 'x'))).toMatch(/at most/);
    expect(argsProblem(Array.from({ length: MAX_ARGS + 1 }, () => 'x'))).toBe(`at most ${MAX_ARGS} arguments are allowed (got ${MAX_ARGS + 1})`);
    expect(argsProblem(['ok', 'x'.repeat(MAX_ARG_CHARS + 1)])).toBe(
      `argument 2 is ${MAX_ARG_CHARS + 1} characters; the limit is ${MAX_ARG_CHARS} per argument`,
    );
    const many = Array.from({ length: Math.ceil(MAX_ARGS_TOTAL_CHARS / MAX_ARG_CHARS) + 1 }, () => 'x'.repeat(MAX_ARG_CHARS));
    expect(argsProblem(many)).toMatch(/in all/);
    expect(JobLineSchema.safeParse({ ...job, args: ['a\0b'] }).success).toBe(false);
  });
});

describe('text a runner can be sent', () => {
  it('finds the first lone surrogate by its 1-based position, and passes pairs and plain text', () => {
    expect(loneSurrogateAt('')).toBeUndefined();
    expect(loneSurrogateAt('a😀b é')).toBeUndefined();
    expect(loneSurrogateAt('\ud800x')).toBe(1);
    expect(loneSurrogateAt('ab\udc00')).toBe(3);
    expect(loneSurrogateAt('😀\ud83d')).toBe(3);
    expect(loneSurrogateAt('x\udc00\ud800')).toBe(2);
  });

  it('refuses code and args with a lone surrogate, naming where it is', () => {
    expect(codeTextProblem('echo ok')).toBeUndefined();
    expect(codeTextProblem('echo \ud800')).toBe('code must be valid Unicode text: a lone surrogate at character 6');
    expect(argsProblem(['fine', '\ud800x'])).toBe('args must be valid Unicode text: a lone surrogate at character 1 of argument 2');
    expect(JobLineSchema.safeParse({ ...job, args: ['\udfff'] }).success).toBe(false);
  });
});
