/**
 * TypeScript tracebacks through the real engine and node image: the host compiles the cell with a
 * source map, and the runner reports the user's TypeScript lines, columns and source line, not
 * those of the JavaScript that ran.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '20' });
});

afterAll(async () => {
  await t?.close();
});

async function runTypeScript(code: string, sessionId?: string): Promise<ExecutionResult> {
  return t.engine.execute({ principal: t.principal, sessionId, language: 'typescript', code });
}

function tracebackOf(result: ExecutionResult): string {
  expect(result.status, JSON.stringify(result.error)).toBe('error');
  return result.error?.traceback ?? '';
}

describe('TypeScript tracebacks', () => {
  it('quotes the TypeScript line and gives its number when types were erased above the throw', async () => {
    const result = await runTypeScript("type T = { a: number };\nconst t: T = { a: 1 };\n\nthrow new Error('ts line 4');");
    const traceback = tracebackOf(result);
    expect(traceback.startsWith("<cell>:4\nthrow new Error('ts line 4');\n^\n"), traceback).toBe(true);
    expect(traceback).toContain('Error: ts line 4\n    at <cell>:4:7');
    expect(traceback).not.toMatch(/<cell>:2\b/);
  });

  it('gives the function frame and the call at their TypeScript lines below an interface', async () => {
    const code = [
      'interface Point {', // 1
      '  x: number;',
      '  y: number;',
      '}', // 4
      '',
      'function norm(p: Point): number {', // 6
      '  if (p.x < 0) {',
      "    throw new RangeError('negative x');", // 8
      '  }',
      '  return Math.hypot(p.x, p.y);',
      '}',
      'norm({ x: -1, y: 2 });', // 12
    ].join('\n');
    const traceback = tracebackOf(await runTypeScript(code));
    expect(traceback).toContain('<cell>:8\n');
    expect(traceback).toContain("\n    throw new RangeError('negative x');\n    ^\n");
    expect(traceback).toContain('at norm (<cell>:8:11)');
    expect(traceback).toContain('at <cell>:12:1');
  });

  it('maps an async error under top-level await', async () => {
    const code = [
      'interface Job {', // 1
      '  id: number;',
      '}',
      'async function work(job: Job): Promise<number> {', // 4
      '  await new Promise<void>((resolve) => setTimeout(resolve, 1));',
      '  throw new Error(`job ${job.id} failed`);', // 6
      '}',
      'const done: number = await work({ id: 7 });', // 8
    ].join('\n');
    const result = await runTypeScript(code);
    const traceback = tracebackOf(result);
    expect(result.error?.message).toBe('job 7 failed');
    expect(traceback).toContain('at work (<cell>:6:9)');
    expect(traceback).toMatch(/at async <cell>:8:\d+/);
  });

  it('maps a runtime error deep inside a multi-line generic function', async () => {
    const code = [
      'type Pair<', // 1
      '  A,',
      '  B,',
      '> = [A, B];',
      'function second<', // 5
      '  A,',
      '  B extends {',
      '    name: string;',
      '  },',
      '>(', // 10
      '  pair: Pair<A, B | undefined>,',
      '): string {',
      '  const [, found] = pair;',
      '  return found!.name.toUpperCase();', // 14
      '}',
      'second<number, { name: string }>([1, undefined]);', // 16
    ].join('\n');
    const result = await runTypeScript(code);
    const traceback = tracebackOf(result);
    expect(result.error?.name).toBe('TypeError');
    expect(traceback).toContain('<cell>:14\n  return found!.name.toUpperCase();\n');
    expect(traceback).toMatch(/at second \(<cell>:14:\d+\)/);
    expect(traceback).toContain('at <cell>:16:1');
  });

  it('maps the current cell in a traceback through a function restored from an earlier TypeScript cell', async () => {
    const sessionId = (await t.engine.createSession(t.principal)).id;
    const first = await runTypeScript('type N = number;\nfunction check(n: N): N {\n  if (n > 1) throw new Error(`too big: ${n}`);\n  return n;\n}', sessionId);
    expect(first.status, JSON.stringify(first.error)).toBe('ok');
    const traceback = tracebackOf(await runTypeScript('interface Box {\n  n: number;\n}\nconst box: Box = { n: 5 };\ncheck(box.n);', sessionId));
    expect(traceback).toContain('at check (<earlier cell>:');
    expect(traceback).toContain('at <cell>:5:1');
  });

  it('still reports printed stacks of JavaScript cells at their own positions', async () => {
    const result = await t.engine.execute({
      principal: t.principal,
      language: 'javascript',
      code: '\n\nconsole.log(new Error("js").stack.split("\\n")[1].trim());',
    });
    expect(result.status, JSON.stringify(result.error)).toBe('ok');
    expect(result.stdout.text.trim()).toBe('at <cell>:3:13');
  });
});
