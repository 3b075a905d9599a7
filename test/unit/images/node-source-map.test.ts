/**
 * The node runner's source-map mapping (images/node/lib/sourcemap.js) without Docker: VLQ decoding,
 * and positions in JavaScript that TypeScript's own transpileModule made, mapped back to the
 * TypeScript: lines, columns and the quoted source line.
 */
import { createRequire } from 'node:module';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

interface Position {
  line: number;
  column: number;
}
interface SourceMapper {
  position(line: number, column: number): Position | null;
  sourceLine(line: number): string | null;
  mapFrame(frame: string, name: string): string;
  mapExcerpt(stack: string, name: string): string;
}
const runnerRequire = createRequire(import.meta.url);
const { decodeMappings, SourceMapper, mapperFor } = runnerRequire('../../../images/node/lib/sourcemap.js') as {
  decodeMappings: (mappings: string) => number[][][];
  SourceMapper: new (map: { source: string; mappings: string }) => SourceMapper;
  mapperFor: (map: unknown) => SourceMapper | null;
};

/** Compiles as the host's worker does and returns the JavaScript with a mapper back to `source`. */
function compile(source: string): { javascript: string; mapper: SourceMapper } {
  const output = ts.transpileModule(source, {
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: true },
    fileName: 'cell.ts',
  });
  const mappings = (JSON.parse(output.sourceMapText ?? '{}') as { mappings: string }).mappings;
  return { javascript: output.outputText, mapper: new SourceMapper({ source, mappings }) };
}

/** 1-based line and column of the first occurrence of `needle` in `text`. */
function positionOf(text: string, needle: string): Position {
  const index = text.indexOf(needle);
  expect(index, needle).toBeGreaterThanOrEqual(0);
  const before = text.slice(0, index).split('\n');
  return { line: before.length, column: (before[before.length - 1] ?? '').length + 1 };
}

function expectMapped(source: string, needle: string): void {
  const { javascript, mapper } = compile(source);
  const generated = positionOf(javascript, needle);
  expect(mapper.position(generated.line, generated.column), needle).toEqual(positionOf(source, needle));
}

describe('decodeMappings', () => {
  it('decodes Base64 VLQ segments relative to the previous ones, per generated line', () => {
    // Line 1: column 0 → (0, 0), column 4 → (0, 2); line 2: column 2 → (1, 1). Each field is relative.
    expect(decodeMappings('AAAA,IAAE;EACD')).toEqual([
      [
        [0, 0, 0],
        [4, 0, 2],
      ],
      [[2, 1, 1]],
    ]);
    // 'gB' is 16 and '2H' 123 (two digits each); on line 2, 'gI' is 128 and 'vH' -119. The original
    // line carries over from line to line, the generated column does not.
    expect(decodeMappings('gBAAA,2HAAA;AAgIA,CAvHA')).toEqual([
      [
        [16, 0, 0],
        [139, 0, 0],
      ],
      [
        [0, 128, 0],
        [1, 9, 0],
      ],
    ]);
  });

  it('refuses text that is not VLQ, and mapperFor then gives no mapper instead of failing', () => {
    expect(() => decodeMappings('AA!A')).toThrow(/Base64 VLQ/);
    expect(() => decodeMappings('g')).toThrow(/cut off/);
    expect(mapperFor({ source: 'x', mappings: 'AA!A' })).toBeNull();
    expect(mapperFor(undefined)).toBeNull();
  });
});

describe('SourceMapper on transpileModule output', () => {
  it('maps past erased types to the TypeScript line (the reviewer case)', () => {
    const source = "type T = { a: number };\nconst t: T = { a: 1 };\n\nthrow new Error('ts line 4');";
    const { javascript, mapper } = compile(source);
    expect(positionOf(javascript, 'throw').line).toBe(2);
    expect(mapper.position(2, 7)).toEqual({ line: 4, column: 7 });
    expect(mapper.position(2, 1)).toEqual({ line: 4, column: 1 });
    expect(mapper.position(3, 1)).toBeNull(); // the JavaScript has no line 3 with code
    expect(mapper.sourceLine(4)).toBe("throw new Error('ts line 4');");
  });

  it('maps calls and throws below interfaces, enums, overloads, decorators and multi-line generics', () => {
    const source = [
      'interface Shape {',
      '  kind: string;',
      '  area(): number;',
      '}',
      'enum Colour { Red, Green }',
      'function pick(x: string): string;',
      'function pick(x: number): number;',
      'function pick(x: any): any { return x; }',
      'function logged(target: any, context: ClassMethodDecoratorContext) { return target; }',
      'class Box<',
      '  T extends {',
      '    size: number;',
      '  },',
      '> {',
      '  @logged',
      '  open(item: T): number { return item.size.valueOf() + missing(); }',
      '}',
      'function fail(): never { throw new Error("deep"); }',
      'new Box<{ size: number }>().open({ size: Colour.Green + pick(1) });',
    ].join('\n');
    expectMapped(source, 'missing()');
    expectMapped(source, 'throw new Error("deep")');
    expectMapped(source, 'open({');
    expectMapped(source, 'return x;');
  });

  it('finds the right segment on one long line with many of them', () => {
    const calls = Array.from({ length: 300 }, (_, index) => `f${index}(v as number)`).join('; ');
    const source = `declare function f0(x: number): void;\nlet v: unknown = 1;\n${calls};`;
    for (const needle of ['f0(v', 'f137(v', 'f299(v']) expectMapped(source, needle);
  });

  it('rewrites <cell> positions in a frame and leaves <earlier cell> ones alone', () => {
    const { mapper } = compile("type T = { a: number };\nconst t: T = { a: 1 };\n\nthrow new Error('ts line 4');");
    expect(mapper.mapFrame('at f (<cell>:2:7)', '<cell>')).toBe('at f (<cell>:4:7)');
    expect(mapper.mapFrame('at <cell>:2:7', '<cell>')).toBe('at <cell>:4:7');
    expect(mapper.mapFrame('at g (<earlier cell>:2:7)', '<cell>')).toBe('at g (<earlier cell>:2:7)');
    // A line the map has nothing for keeps its position.
    expect(mapper.mapFrame('at <cell>:40:1', '<cell>')).toBe('at <cell>:40:1');
  });

  it("quotes the TypeScript line in Node's excerpt above a thrown error, caret under the same token", () => {
    const { mapper } = compile("type T = { a: number };\nconst t: T = { a: 1 };\n\n  throw new Error('ts line 4');");
    const stack = "<cell>:2\n  throw new Error('ts line 4');\n  ^\n\nError: ts line 4\n    at <cell>:4:9";
    expect(mapper.mapExcerpt(stack, '<cell>')).toBe(
      "<cell>:4\n  throw new Error('ts line 4');\n  ^\n\nError: ts line 4\n    at <cell>:4:9",
    );
    expect(mapper.mapExcerpt('Error: no excerpt\n    at <cell>:2:7', '<cell>')).toBe('Error: no excerpt\n    at <cell>:2:7');
  });
});
