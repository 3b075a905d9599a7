/**
 * Snapshots crafted by code in the cell (it replaces the runner's rename of its new state file, so
 * what it wrote is what the host adopts), real Docker: the next run reports "restore failed" for
 * what it cannot read, still runs, and the run after it works with the state that run saved.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ExecutionResult } from '../../src/engine/types.js';
import type { Language } from '../../src/domain/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '60', CODECELL_SESSION_QUOTA_MB: '64' });
});

afterAll(async () => {
  await t?.close();
});

function run(sessionId: string, language: Language, code: string): Promise<ExecutionResult> {
  return t.engine.execute({ principal: t.principal, sessionId, language, code });
}

/** After the crafted save: a run that restores it still answers, names what it lost, and the next one works. */
async function expectRecovers(sessionId: string, language: Language, probe: string, expected: string): Promise<void> {
  const restored = await run(sessionId, language, probe);
  expect(restored.stdout.text.trim(), JSON.stringify([restored.error, restored.stderr.text])).toBe(expected);
  expect(JSON.stringify(restored.notCarried)).toContain('restore failed');
  const next = await run(sessionId, language, probe);
  expect(next.stdout.text.trim()).toBe(expected);
}

/** Python cell code: the runner's save ends with os.replace(temporary, path); this one then rewrites the result. */
const pythonCraft = (body: string) =>
  [
    'import os as _os',
    '_real = _os.replace',
    'def _crafted(src, dst):',
    '    _real(src, dst)',
    '    import os',
    ...body.split('\n').map((line) => `    ${line}`),
    '_os.replace = _crafted',
    'del _os',
  ].join('\n');

/** Node cell code: the runner's save ends with fs.renameSync(temporary, state); this one writes `craft(bytes)` instead. */
const nodeCraft = (craft: string) =>
  [
    "const fs = require('fs');",
    'const realRename = fs.renameSync;',
    'fs.renameSync = (from, to) => {',
    '  const bytes = fs.readFileSync(from);',
    '  const graphLength = bytes.readUInt32LE(8);',
    '  const graph = JSON.parse(bytes.subarray(16, 16 + graphLength).toString());',
    `  const out = (${craft})(bytes, graph);`,
    '  fs.writeFileSync(from, out);',
    '  realRename(from, to);',
    '};',
  ].join('\n');

/** A format 3 file: header and graph, then `tail` bytes. */
const NODE_FILE = `(graph, tail) => { const g = Buffer.from(JSON.stringify(graph)); const h = Buffer.alloc(16); h.write('CCNODE3\\n', 'latin1'); h.writeUInt32LE(g.length, 8); return Buffer.concat([h, g, Buffer.alloc(tail)]); }`;

describe('crafted snapshots', () => {
  it('python: garbage in place of the snapshot file', async () => {
    const session = (await t.engine.createSession(t.principal)).id;
    await run(session, 'python', `keep = 41\n${pythonCraft("open(dst, 'wb').write(b'\\\\x80\\\\x05garbage' * 1000)")}`);
    await expectRecovers(session, 'python', 'print(40 + 2)', '42');
  });

  it('python: a blob cut short after the save', async () => {
    const session = (await t.engine.createSession(t.principal)).id;
    const cut = [
      "d = os.path.join(os.path.dirname(dst), 'blobs')",
      'for n in os.listdir(d):',
      "    os.truncate(os.path.join(d, n), 10)",
    ].join('\n');
    await run(session, 'python', `import numpy as np\narr = np.arange(300_000.0)\n${pythonCraft(cut)}`);
    const restored = await run(session, 'python', "print('arr' in globals())");
    expect(restored.stdout.text.trim()).toBe('False');
    expect(JSON.stringify(restored.notCarried)).toContain('arr');
    const next = await run(session, 'python', 'print(40 + 2)');
    expect(next.stdout.text.trim()).toBe('42');
  });

  for (const [name, craft] of [
    ['a section far longer than the file', `(bytes, graph) => (${NODE_FILE})({ ...graph, sections: [[0, 9007199254740991]] }, 8)`],
    ['a growable section with a huge maximum', `(bytes, graph) => (${NODE_FILE})({ ...graph, sections: [[0, 0, 9007199254740991]] }, 0)`],
    ['a negative length', `(bytes, graph) => (${NODE_FILE})({ ...graph, sections: [[0, -8]] }, 0)`],
    ['a graph length past the end', `(bytes, graph) => { const b = Buffer.from(bytes); b.writeUInt32LE(0xffffffff, 8); return b; }`],
    ['a million empty sections', `(bytes, graph) => (${NODE_FILE})({ ...graph, sections: Array.from({ length: 1_000_000 }, () => [1, 0]) }, 0)`],
  ] as const) {
    it(`node: ${name}`, async () => {
      const session = (await t.engine.createSession(t.principal)).id;
      const buf = `globalThis.keep = new Float64Array(1000).fill(7);\n${nodeCraft(craft)}`;
      const saved = await run(session, 'javascript', buf);
      expect(saved.status, JSON.stringify([saved.error, saved.stderr.text])).toBe('ok');
      const probe = 'console.log(40 + 2)';
      const restored = await run(session, 'javascript', probe);
      expect(restored.stdout.text.trim(), JSON.stringify([restored.error, restored.stderr.text])).toBe('42');
      // A million empty sections is a valid table: then the values come back.
      if (name !== 'a million empty sections') expect(JSON.stringify(restored.notCarried)).toContain('restore failed');
      const next = await run(session, 'javascript', probe);
      expect(next.stdout.text.trim()).toBe('42');
    });
  }
});
