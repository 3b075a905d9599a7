/**
 * JavaScript and TypeScript sessions holding binary data, through the engine (real executor, real
 * images): typed arrays, Buffers and shared buffers carry over byte-exact and keep sharing their
 * memory, a 10 MB Float64Array included, and a later TypeScript cell sees what a JavaScript one left.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Language } from '../../src/domain/types.js';
import type { ExecutionResult } from '../../src/engine/types.js';
import { startTestEngine, type TestEngine } from '../helpers/engine.js';

let t: TestEngine;

beforeAll(async () => {
  t = await startTestEngine({ EXECUTION_TIMEOUT: '60' });
});

afterAll(async () => {
  await t?.close();
});

async function run(code: string, sessionId: string, language: Language = 'javascript'): Promise<ExecutionResult> {
  const result = await t.engine.execute({ principal: t.principal, sessionId, language, code });
  expect(result.status, JSON.stringify(result.error)).toBe('ok');
  return result;
}

describe('javascript binary state through the engine', () => {
  it('carries a 10 MB Float64Array and views of shared buffers byte-exact, still sharing, into JavaScript and TypeScript cells', async () => {
    const session = (await t.engine.createSession(t.principal)).id;
    const first = await run(
      [
        "const { createHash } = require('crypto');",
        'const big = new Float64Array(1310720);',
        'for (let i = 0; i < big.length; i++) big[i] = Math.cos(i) * 1e3;',
        'const tail = big.subarray(1310000);',
        'const words = new BigInt64Array([-1n, 2n ** 62n]);',
        'const raw = new ArrayBuffer(16);',
        'const halves = [new Int16Array(raw, 0, 4), new DataView(raw, 8), Buffer.from(raw, 12, 4)];',
        'halves[1].setFloat32(0, 2.5);',
        'const shared = new Int32Array(new SharedArrayBuffer(8));',
        'shared[1] = 7;',
        "const digest = (view) => createHash('sha256').update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)).digest('hex');",
        'digest(big)',
      ].join('\n'),
      session,
    );
    expect(first.stateSaved).toBe(true);
    expect(first.notCarried).toEqual([]);
    const bigDigest = first.value;
    expect(bigDigest).toMatch(/^'[0-9a-f]{64}'$/);

    const second = await run(
      [
        'big[0] = -1;',
        'halves[2][0] = 0x7f;',
        'console.log(JSON.stringify({',
        '  values: big[5] === Math.cos(5) * 1e3 && big[1310719] === Math.cos(1310719) * 1e3,',
        '  tailShares: tail.buffer === big.buffer && tail.byteOffset === 1310000 * 8 && tail.length === 720,',
        '  words: [...words].map(String),',
        '  rawShared: halves.every((view) => view.buffer === raw),',
        '  float: halves[1].getFloat32(0),',
        '  shared: [Object.prototype.toString.call(shared.buffer), shared[1]],',
        '}));',
        'big[0] = Math.cos(0) * 1e3;',
        'digest(big)',
      ].join('\n'),
      session,
    );
    expect(JSON.parse(second.stdout.text)).toEqual({
      values: true,
      tailShares: true,
      words: ['-1', '4611686018427387904'],
      rawShared: true,
      float: 2.5,
      shared: ['[object SharedArrayBuffer]', 7],
    });
    // Back to the first contents: the same bytes as were saved the first time.
    expect(second.value).toBe(bigDigest);
    expect(second.notCarried).toEqual([]);

    const typescript = await run(
      'const firstWord: bigint = words[0];\nconsole.log(big.length, tail[0] === big[1310000], raw.byteLength, new Uint8Array(raw)[12], String(firstWord));',
      session,
      'typescript',
    );
    expect(typescript.stdout.text).toBe('1310720 true 16 127 -1\n');
  });
});
