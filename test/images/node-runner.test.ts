/**
 * The Node image's runner (images/node) against images/PROTOCOL.md, driven directly with the
 * docker CLI: one throwaway container per run, mounted the way the host mounts it, the job line on
 * stdin and frames on stdout, checked against the host's own frame schemas. Session state is
 * carried between containers the way the host does it: the `state` file of one run's out/
 * directory becomes the next run's in/state.
 */
import { describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { useImageHarness, type Run } from './run-image.js';
import { compileTypeScript } from './typescript-cell.js';

const { Session, hostDir, runContainer } = useImageHarness('node');

/** For cells that print one JSON document: what they printed. */
function printedJson(run: Run): unknown {
  expect(run.result.error).toBeNull();
  return JSON.parse(run.output);
}

describe('node runner', () => {
  it("maps <cell> positions to the TypeScript with the job's sourceMap, and runs without a usable one", async () => {
    const source = [
      'enum Level {', // 1
      '  Low,',
      '  High,',
      '}',
      'const where: string = new Error("printed").stack!.split("\\n")[1]!.trim();', // 5
      'console.log(where);',
      'function fail(level: Level): never {', // 7
      '  throw new Error(`level ${level}`);', // 8
      '}',
      'fail(Level.High);', // 10
    ].join('\n');
    const { code, sourceMap } = compileTypeScript(source);
    const base = { code, restore: false, sourceLanguage: 'typescript' } as const;
    const dirs = () => ({ dataDir: hostDir(), inDir: hostDir(), outDir: hostDir() });

    const mapped = await runContainer({ ...base, ...dirs(), sourceMap });
    expect(mapped.output).toBe('at <cell>:5:23\n');
    const traceback = mapped.result.error?.traceback ?? '';
    expect(traceback.startsWith('<cell>:8\n  throw new Error(`level ${level}`);\n  ^\n'), traceback).toBe(true);
    expect(traceback).toContain('at fail (<cell>:8:9)');
    expect(traceback).toContain('at <cell>:10:1');

    for (const unusable of [undefined, 'not an object', { source, mappings: 7 }, { source, mappings: '!!' }]) {
      const plain = await runContainer({ ...base, ...dirs(), sourceMap: unusable });
      expect(plain.exitCode).toBe(0);
      expect(plain.result.error?.message).toBe('level 1');
      expect(plain.result.error?.traceback).toMatch(/at fail \(<cell>:\d+:\d+\)/);
      expect(plain.result.error?.traceback).not.toContain('at fail (<cell>:8:9)');
    }
  });

  it("puts the job's args after node and the script in process.argv, for JavaScript and TypeScript", async () => {
    const session = new Session();
    const js = await session.run('console.log(JSON.stringify(process.argv.slice(2)))', 'javascript', ['a b', 'c\nd', '']);
    expect(printedJson(js)).toEqual(['a b', 'c\nd', '']);
    const ts = await session.run('console.log(JSON.stringify(process.argv.slice(2)))', 'typescript', ['x']);
    expect(printedJson(ts)).toEqual(['x']);
    const without = await session.run('console.log(JSON.stringify(process.argv.slice(2)))');
    expect(printedJson(without)).toEqual([]);
  });

  it('sends a ready frame, then runs the job with output and the trailing value', async () => {
    const run = await new Session().run("console.log('to stdout');\nconsole.error('to stderr');\nconst x = 6;\nx * 7");
    expect(run.ready).toEqual({ type: 'ready', runtime: 'node', version: expect.stringMatching(/^18\./) });
    expect(run.output).toBe('to stdout\n');
    expect(run.stderr).toContain('to stderr\n');
    expect(run.result).toMatchObject({ outcome: 'ok', value: '42', error: null, exitCode: 0, stateSaved: true, images: [], loadedModules: [] });
  });

  it('has no value when the cell ends with a declaration, and awaits a promise value', async () => {
    const session = new Session();
    expect((await session.run('1 + 1;\nconst y = 3')).result.value).toBeNull();
    expect((await session.run('new Promise((resolve) => setTimeout(() => resolve({ ok: y }), 20))')).result.value).toBe('{ ok: 3 }');
  });

  it('gives the value of a bracketed last expression in a cell with top-level await', async () => {
    const run = await new Session().run('const a = await Promise.resolve(1);\nconst b = 2;\n({ a, b })');
    expect(run.result).toMatchObject({ outcome: 'ok', value: '{ a: 1, b: 2 }', error: null });
    const sequence = await new Session().run('await null;\n(1, 2)');
    expect(sequence.result.value).toBe('2');
  });

  it('reports an uncaught error with the user frames only, and keeps what ran before it', async () => {
    const session = new Session();
    const run = await session.run('const before = 1;\nfunction dig(o) {\n  return o.a.b;\n}\ndig({});');
    expect(run.result.outcome).toBe('error');
    expect(run.result.exitCode).toBe(1);
    expect(run.result.error).toMatchObject({ name: 'TypeError', message: "Cannot read properties of undefined (reading 'b')" });
    const traceback = run.result.error?.traceback ?? '';
    expect(traceback).toContain('at dig (<cell>:3:14)');
    expect(traceback).toContain('at <cell>:5:1');
    expect(traceback).not.toMatch(/codecell\/|node:vm|node:internal/);
    expect(run.result.stateSaved).toBe(true);
    expect((await session.run('before + 1')).result.value).toBe('2');
  });

  it('reports a syntax error at the right line', async () => {
    const run = await new Session().run('const a = 1;\nlet let = 2;');
    expect(run.result.error).toMatchObject({ name: 'SyntaxError' });
    expect(run.result.error?.traceback).toMatch(/^<cell>:2\n/);
  });

  it('carries functions, nested data with cycles, classes with their instances and Maps to the next container', async () => {
    const session = new Session();
    const first = await session.run(`
      let calls = 0;
      function greet(name) { calls++; return 'hello ' + name + ' #' + calls; }
      const data = { list: [1, 'two', null, 3n, -0, NaN], when: new Date(86400000), re: /ab+c/gi, nested: { deep: { x: 1 } } };
      data.self = data;
      data.alias = data.nested.deep;
      class Point {
        constructor(x, y) { this.x = x; this.y = y; }
        norm() { return Math.hypot(this.x, this.y); }
      }
      class Point3 extends Point {
        constructor(x, y, z) { super(x, y); this.z = z; }
        norm() { return Math.hypot(super.norm(), this.z); }
      }
      const p = new Point(3, 4);
      const q = new Point3(1, 2, 2);
      const index = new Map([['a', { n: 1 }], [p, 'the point']]);
      const bytes = Buffer.from('héllo');
      const tags = new Set(['x', 'y']);
      implicitGlobal = 'assigned without a declaration';
    `);
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true, notCarried: [] });

    const second = await session.run(`console.log(JSON.stringify({
      greet: greet('ann'),
      cycle: data.self === data,
      shared: data.alias === data.nested.deep,
      list: data.list.map(String),
      negativeZero: Object.is(data.list[4], -0),
      when: data.when.toISOString(),
      re: [data.re.source, data.re.flags],
      norm: p.norm(),
      isPoint: p instanceof Point,
      norm3: q.norm(),
      inherits: q instanceof Point3 && q instanceof Point,
      mapA: index.get('a').n,
      mapKeyIsInstance: index.get(p),
      bytes: bytes.toString(),
      tags: [...tags],
      implicitGlobal,
    }))`);
    expect(printedJson(second)).toEqual({
      greet: 'hello ann #1',
      cycle: true,
      shared: true,
      list: ['1', 'two', 'null', '3', '0', 'NaN'],
      negativeZero: true,
      when: '1970-01-02T00:00:00.000Z',
      re: ['ab+c', 'gi'],
      norm: 5,
      isPoint: true,
      norm3: 3,
      inherits: true,
      mapA: 1,
      mapKeyIsInstance: 'the point',
      bytes: 'héllo',
      tags: ['x', 'y'],
      implicitGlobal: 'assigned without a declaration',
    });
    // The function's global counter was carried too, and keeps counting.
    const third = await session.run("greet('bob')");
    expect(third.result.value).toBe("'hello bob #2'");
  });

  it('lets a later cell redeclare a restored name with let or const', async () => {
    const session = new Session();
    await session.run('const limit = 1;');
    const run = await session.run('const limit = 2;\nlet more = limit + 1;\nmore');
    expect(run.result.value).toBe('3');
    expect((await session.run('limit + more')).result.value).toBe('5');
  });

  it('supports static imports and top-level await, and restores imported modules by name', async () => {
    const session = new Session();
    writeFileSync(path.join(session.dataDir, 'helper.js'), 'exports.twice = (n) => n * 2;\n');
    const first = await session.run(`
      import { join } from 'node:path';
      import os from 'os';
      import * as helper from './helper.js';
      const joined = await Promise.resolve(join('a', 'b'));
      const cpus = typeof os.cpus;
      export const answer = helper.twice(21);
      for (var i = 0; i < 3; i++) {}
      [joined, cpus, answer, i]
    `);
    expect(first.result.error).toBeNull();
    expect(first.result.value).toBe("[ 'a/b', 'function', 42, 3 ]");
    const second = await session.run("[join('x', 'y'), helper.twice(4), joined, i]");
    expect(second.result.value).toBe("[ 'x/y', 8, 'a/b', 3 ]");
  });

  it('reports errors from a cell with top-level await at the user line', async () => {
    const run = await new Session().run('const v = await Promise.resolve(1);\nnull.boom;\n');
    expect(run.result.error).toMatchObject({ name: 'TypeError' });
    expect(run.result.error?.traceback).toContain('<cell>:2:');
  });

  it('reports process.exit(n) as the exit code, still saving the state', async () => {
    const session = new Session();
    const run = await session.run("const saved = 'before exit';\nconsole.log('bye');\nprocess.exit(3);\nconsole.log('not reached');");
    expect(run.output).toBe('bye\n');
    expect(run.result).toMatchObject({ outcome: 'error', exitCode: 3, stateSaved: true });
    expect(run.result.error).toMatchObject({ name: 'ExitStatus' });
    expect((await session.run('saved')).result.value).toBe("'before exit'");
  });

  it('reports an unhandled rejection as the error of the cell', async () => {
    const run = await new Session().run("Promise.reject(new RangeError('nobody caught me'));\n1");
    expect(run.result.outcome).toBe('error');
    expect(run.result.error).toMatchObject({ name: 'RangeError', message: 'nobody caught me' });
  });

  it('lists timers, promises and other live objects as not carried, and carries the rest', async () => {
    const session = new Session();
    const first = await session.run(`
      const timer = setTimeout(() => {}, 5);
      const pending = new Promise(() => {});
      const holder = { timer, ok: true };
      const kept = 'still here';
    `);
    const notCarried = Object.fromEntries(first.result.notCarried.map((entry) => [entry.name, entry]));
    expect(notCarried.timer).toMatchObject({ type: 'Timeout', reason: expect.stringContaining('timers') });
    expect(notCarried.pending).toMatchObject({ type: 'Promise', reason: expect.stringContaining('promises') });
    expect(notCarried['holder.timer']).toMatchObject({ type: 'Timeout' });
    expect(first.result.stateSaved).toBe(true);
    const second = await session.run('[kept, holder.ok, typeof timer]');
    expect(second.result.value).toBe("[ 'still here', true, 'undefined' ]");
  });

  it('gives user code an empty stdin, not the host pipe', async () => {
    const run = await new Session().run("require('fs').readFileSync(0, 'utf8').length");
    expect(run.result.value).toBe('0');
  });

  it('saves and restores 1 MB of plain data quickly', async () => {
    // Timed inside the container with the runner's own snapshot code, on the first (cold) call,
    // which is what each execution pays.
    const session = new Session();
    const bench = `
      const { saveState, restoreState, NotCarriedList } = require('/opt/codecell/lib/snapshot/state');
      const { collectIntrinsics, ModuleLog } = require('/opt/codecell/lib/snapshot/known');
      const { SourceProvenance } = require('/opt/codecell/lib/snapshot/provenance');
      const known = { intrinsics: collectIntrinsics(), modules: new ModuleLog(require.resolve), provenance: new SourceProvenance() };
      const value = Array.from({ length: 12000 }, (_, i) => ({ id: i, name: 'user' + i, tags: ['a', 'b'], score: i / 7, active: i % 2 === 0 }));
      // CPU time, not wall time: on a busy machine the container may wait for a core.
      const cpuMs = (since) => { const used = process.cpuUsage(since); return (used.user + used.system) / 1000; };
      const c0 = process.cpuUsage();
      saveState({ bindings: [{ name: 'value', value }], known, outDir: '/tmp', notCarried: new NotCarriedList() });
      const saveMs = cpuMs(c0);
      const c1 = process.cpuUsage();
      restoreState({ file: '/tmp/state', requireModule: require, provenance: known.provenance, define: () => {}, notCarried: new NotCarriedList() });
      const restoreMs = cpuMs(c1);
      console.log(JSON.stringify({
        dataBytes: JSON.stringify(value).length,
        stateBytes: require('fs').statSync('/tmp/state').size,
        saveMs,
        restoreMs,
      }));
    `;
    const timing = printedJson(await session.run(bench)) as { dataBytes: number; stateBytes: number; saveMs: number; restoreMs: number };
    console.log(
      `1 MB snapshot: ${timing.dataBytes} bytes as JSON, ${timing.stateBytes} bytes saved; ` +
        `CPU: save ${timing.saveMs.toFixed(1)} ms, restore ${timing.restoreMs.toFixed(1)} ms`,
    );
    expect(timing.dataBytes).toBeGreaterThan(1_000_000);
    // Generous bounds (the process's CPU includes the GC's helper threads): this guards against
    // regressions by an order of magnitude, not against a busy machine.
    expect(timing.saveMs).toBeLessThan(250);
    expect(timing.restoreMs).toBeLessThan(250);
  });
});
