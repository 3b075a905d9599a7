/**
 * The node runner's closure analysis (images/node/lib/snapshot/closures.js) and class rewrite
 * (images/node/lib/classes.js through cell.js) without Docker: which functions of a cell close over
 * something the snapshot cannot carry, and what a class with private members gets added.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';

const runnerRequire = createRequire(import.meta.url);
const { findCaptures } = runnerRequire('../../../images/node/lib/snapshot/closures.js') as {
  findCaptures: (source: string, asyncWrapped: boolean) => Map<string, string[]> | null;
};
const { prepareCell } = runnerRequire('../../../images/node/lib/cell.js') as {
  prepareCell: (code: string) => { scripts: { source: string }[]; asyncWrapped: boolean };
};

function capturesOf(code: string): Record<string, string[]> {
  const prepared = prepareCell(code);
  const out: Record<string, string[]> = {};
  prepared.scripts.forEach((script, i) => {
    const wrapped = prepared.asyncWrapped && i === prepared.scripts.length - 1;
    for (const [source, names] of findCaptures(script.source, wrapped) ?? []) out[source] = names;
  });
  return out;
}

describe('node snapshot closure analysis', () => {
  it('names locals of enclosing functions and blocks, and an arrow’s borrowed this, but not top-level names', () => {
    const captures = capturesOf(
      [
        'let total = 0;',
        'function add(x) { total += x; return total; }',
        'const counter = (() => { let n = 0; return () => ++n; })();',
        'function outer(k) { return { times(x) { return x * k; }, plain(x) { return x * total; } }; }',
        'class Clicker { clicks = 0; onClick = () => ++this.clicks; static make() { return new Clicker(); } }',
        '{ let hidden = 1; var leak = () => hidden; }',
        'function maker() { return class Inner { self() { return Inner; } }; }',
        'try { throw 1; } catch (caught) { var fromCatch = () => caught; }',
        'function withArgs() { return () => arguments.length; }',
      ].join('\n'),
    );
    expect(captures).toEqual({
      '() => ++n': ['n'],
      'times(x) { return x * k; }': ['k'],
      '() => ++this.clicks': ['this'],
      '() => hidden': ['hidden'],
      'self() { return Inner; }': ['Inner'],
      '() => caught': ['caught'],
      '() => arguments.length': ['arguments'],
    });
  });

  it('treats the parameter of a TypeScript namespace as the global it is', () => {
    const captures = capturesOf(
      'var Units;\n(function (Units) {\n  Units.factor = 1000;\n  const hidden = 3;\n' +
        '  function toMilli(x) { return x * Units.factor; }\n  Units.toMilli = toMilli;\n' +
        '  function scaled(x) { return x * hidden; }\n  Units.scaled = scaled;\n})(Units || (Units = {}));',
    );
    expect(captures).toEqual({ 'function scaled(x) { return x * hidden; }': ['hidden'] });
  });

  it('treats the async wrapper of a cell with top-level await as the top level', () => {
    const captures = capturesOf('const r = await 1;\nfunction f() { return r; }\nconst g = (() => { const q = 1; return () => q + r; })();');
    expect(captures).toEqual({ '() => q + r': ['q'] });
  });
});

describe('node class rewrite for private members', () => {
  it('adds an accessor block, a skippable constructor and skippable initializers, on the same lines', () => {
    const code = 'class A extends B {\n  #x = load();\n  static #n = 0;\n  #m() {}\n  constructor(v) { super(v); this.#x = v; }\n}';
    const [script] = prepareCell(code).scripts;
    const source = script!.source;
    expect(source.split('\n')).toHaveLength(code.split('\n').length);
    expect(source).toContain('#x = (__codecell.restoring ? void 0 : (load()));');
    expect(prepareCell('class C { f = () => this; }').scripts[0]!.source).toBe(
      'class C { f = (__codecell.restoring ? void 0 : __codecell.arrow(this, () => this)); }',
    );
    expect(source).toContain('constructor(v) {if (__codecell.restoring) { super(); return; } super(v);');
    expect(source).toContain('static { __codecell.privates(this, ["x"], (o) => [o.#x], (o, v) => { o.#x = v[0]; }, (o) => #x in o, ["n"], () => [this.#n]');
    // Static initializers run when the class is defined, and are left alone.
    expect(source).toContain('static #n = 0;');
  });

  it('leaves a class without private members or constructor as it was', () => {
    const code = 'class Plain { static unit = "m"; area() { return 1; } }';
    expect(prepareCell(code).scripts[0]!.source).toBe(code);
  });
});
