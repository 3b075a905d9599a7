/**
 * The host's TypeScript transpiler under hostile input, without Docker: deep nesting, a heap cap,
 * a time limit. Each overrun is an outcome for that caller only, and the next caller is served.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/logger.js';
import { LIMIT_ERROR_NAME, SYNTAX_ERROR_NAME, TypeScriptTranspiler } from '../../../src/engine/typescript-transpiler.js';

const logger = createLogger('silent');
const GENEROUS_MS = 120_000;
let transpiler: TypeScriptTranspiler | undefined;

afterEach(async () => {
  await transpiler?.close();
  transpiler = undefined;
});

async function expectServing(t: TypeScriptTranspiler): Promise<void> {
  const ok = await t.transpile('enum E { A = 2 }\nconst n: number = E.A * 21;\nconsole.log(n);', GENEROUS_MS);
  expect(ok).toHaveProperty('javascript');
  if ('javascript' in ok) expect(ok.javascript).toContain('console.log(n)');
}

describe('TypeScriptTranspiler', () => {
  it('strips types and reports syntax errors with their line', async () => {
    transpiler = new TypeScriptTranspiler({ logger });
    await expectServing(transpiler);
    const bad = await transpiler.transpile('const a = 1;\nconst x: number = ;', GENEROUS_MS);
    expect(bad).toEqual({ refused: { name: SYNTAX_ERROR_NAME, message: expect.stringMatching(/^line 2:\d+: Expression expected/) } });
  });

  it('refuses a program nested too deeply, and keeps serving', async () => {
    transpiler = new TypeScriptTranspiler({ logger });
    const depth = 400_000;
    const bomb = await transpiler.transpile(`x = ${'('.repeat(depth)}1${')'.repeat(depth)}`, GENEROUS_MS);
    expect(bomb).toEqual({ refused: { name: LIMIT_ERROR_NAME, message: expect.stringContaining('nested too deeply') } });
    await expectServing(transpiler);
  });

  it('terminates a worker past its heap cap and starts a fresh one', async () => {
    transpiler = new TypeScriptTranspiler({ logger, maxHeapMb: 100 });
    await expectServing(transpiler); // the compiler itself fits
    const big = await transpiler.transpile(`x = [${'1,'.repeat(490_000)}]`, GENEROUS_MS);
    expect(big).toEqual({ refused: { name: LIMIT_ERROR_NAME, message: expect.stringContaining('more than 100 MiB') } });
    await expectServing(transpiler);
  });

  it('terminates a worker past the time limit and starts a fresh one', async () => {
    transpiler = new TypeScriptTranspiler({ logger });
    await expectServing(transpiler);
    // Hundreds of thousands of chained operators: minutes of compiler time, far past half a second.
    const slow = await transpiler.transpile(`x = ${'a+'.repeat(490_000)}a`, 500);
    expect(slow).toEqual({ refused: { name: LIMIT_ERROR_NAME, message: expect.stringContaining('time limit') } });
    await expectServing(transpiler);
  });

  it('answers a transpile under way as not compiled when closed', async () => {
    transpiler = new TypeScriptTranspiler({ logger });
    await expectServing(transpiler);
    const slow = transpiler.transpile(`x = ${'a+'.repeat(490_000)}a`, GENEROUS_MS);
    await transpiler.close();
    expect(await slow).toEqual({ refused: { name: LIMIT_ERROR_NAME, message: expect.stringContaining('stopped') } });
  });

  it('serves callers beyond its worker count in turn', async () => {
    transpiler = new TypeScriptTranspiler({ logger, maxWorkers: 1 });
    const outcomes = await Promise.all([1, 2, 3].map((n) => transpiler!.transpile(`const v${n}: number = ${n};`, GENEROUS_MS)));
    expect(outcomes.map((o) => ('javascript' in o ? o.javascript.trim() : o))).toEqual(['const v1 = 1;', 'const v2 = 2;', 'const v3 = 3;']);
  });
});
