/** The bounds of a job's `args` (images/PROTOCOL.md): what every runner can turn into argv. No Docker. */
import { describe, expect, it } from 'vitest';
import { argsProblem, JobLineSchema, MAX_ARG_CHARS, MAX_ARGS, MAX_ARGS_TOTAL_CHARS } from '../../../src/executor/runner-protocol.js';

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
    expect(argsProblem(['x'.repeat(MAX_ARG_CHARS + 1)])).toMatch(/longer than/);
    const many = Array.from({ length: Math.ceil(MAX_ARGS_TOTAL_CHARS / MAX_ARG_CHARS) + 1 }, () => 'x'.repeat(MAX_ARG_CHARS));
    expect(argsProblem(many)).toMatch(/in all/);
    expect(JobLineSchema.safeParse({ ...job, args: ['a\0b'] }).success).toBe(false);
  });
});
