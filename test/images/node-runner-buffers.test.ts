/**
 * Binary data in the Node runner's state (images/node/lib/snapshot/file.js, format 3), through real
 * throwaway containers (run-image.ts): every typed-array kind the image's Node has comes back
 * byte-exact, views keep sharing their buffers, a 10 MB Float64Array is stored as its raw bytes,
 * a snapshot written by the runner before format 3 still loads, and a save that fails keeps the
 * last good state.
 */
import { copyFileSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { useImageHarness, type Run } from './run-image.js';

const harness = useImageHarness('node');
const { Session } = harness;

const FIXTURE_V2 = path.resolve(import.meta.dirname, 'fixtures/node-state-v2.json');

function printedJson(run: Run): unknown {
  expect(run.result.error).toBeNull();
  return JSON.parse(run.output);
}

/** A cell that prints, for each name, the SHA-256 of the bytes its view covers, its kind, offset and length. */
function describeViews(names: string[]): string {
  return `
    const { createHash } = require('crypto');
    const describe = (v) => [Object.prototype.toString.call(v), v.byteOffset, v.byteLength,
      createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex')];
    console.log(JSON.stringify({ ${names.map((name) => `${name}: describe(${name})`).join(', ')} }));
  `;
}

describe('node runner state: binary data', () => {
  it('carries every typed-array kind byte-exact, NaN payloads and negative zeros included', async () => {
    const session = new Session();
    const kinds = await session.run(`
      const kinds = ['Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
        'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'Float16Array'].filter((k) => typeof globalThis[k] === 'function');
      let seed = 7;
      const arrays = kinds.map((k) => {
        const buffer = new ArrayBuffer(1024);
        const bytes = new Uint8Array(buffer);
        for (let i = 0; i < bytes.length; i++) { seed = (seed * 1103515245 + 12345) >>> 0; bytes[i] = seed >>> 24; }
        return new globalThis[k](buffer, 8, 64);
      });
      kinds
    `);
    expect(kinds.result).toMatchObject({ outcome: 'ok', stateSaved: true, notCarried: [] });
    // Node 18 in the image: Float16Array is not there yet, the other eleven are.
    const kindCount = (kinds.result.value ?? '').match(/Array'/g)?.length ?? 0;
    expect(kindCount).toBeGreaterThanOrEqual(11);

    const hashes = `
      const { createHash } = require('crypto');
      const hash = (a) => createHash('sha256').update(new Uint8Array(a.buffer)).digest('hex');
      console.log(JSON.stringify(arrays.map((a) => [Object.prototype.toString.call(a), a.byteOffset, a.length, a.buffer.byteLength, hash(a)])));
    `;
    const before = await session.run(hashes);
    const after = await session.run(hashes);
    const described = printedJson(after) as [string, number, number, number, string][];
    expect(described).toHaveLength(kindCount);
    expect(described.map(([kind, offset, , bufferLength]) => [kind.startsWith('[object '), offset, bufferLength])).toEqual(
      described.map(() => [true, 8, 1024]),
    );
    // The same bytes after two restores and saves as after one.
    expect(described).toEqual(printedJson(before));
    expect(after.result.notCarried).toEqual([]);
  });

  it('keeps views of one buffer sharing it after the restore: subarrays, DataViews, Buffers, SharedArrayBuffers, detached buffers', async () => {
    const session = new Session();
    const first = await session.run(`
      const raw = new ArrayBuffer(64);
      const floats = new Float64Array(raw, 8, 4);
      floats.set([1.5, -0, NaN, 1e-310]);
      const bytes = new Uint8Array(raw);
      const window = bytes.subarray(10, 20);
      const view = new DataView(raw, 40, 16);
      view.setUint32(0, 0xdeadbeef);
      const overRaw = Buffer.from(raw, 56, 8);
      const whole = Buffer.alloc(12, 7);
      const wholeWords = new Uint16Array(whole.buffer);
      const shared = new SharedArrayBuffer(16);
      const sharedWords = new Int32Array(shared);
      Atomics.store(sharedWords, 2, -5);
      const gone = new ArrayBuffer(32);
      const goneView = new Float32Array(gone, 4, 2);
      structuredClone(gone, { transfer: [gone] });
    `);
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true, notCarried: [] });

    const second = await session.run(`
      bytes[56] = 0xff;
      const sameRaw = [floats, bytes, window, view, overRaw].every((v) => v.buffer === raw);
      console.log(JSON.stringify({
        sameRaw,
        floats: [floats[0], Object.is(floats[1], -0), Number.isNaN(floats[2]), floats[3]],
        at: [window.byteOffset, window.length, overRaw.byteOffset, overRaw.length],
        view: view.getUint32(0),
        overRawSeesWrite: overRaw[0],
        buffers: [Buffer.isBuffer(overRaw), Buffer.isBuffer(whole), wholeWords.buffer === whole.buffer, [...whole].join('')],
        shared: [Object.prototype.toString.call(shared), sharedWords.buffer === shared, Atomics.load(sharedWords, 2)],
        gone: [gone.byteLength, goneView.length, goneView.buffer === gone, (() => { try { new Uint8Array(gone); return 'usable'; } catch { return 'detached'; } })()],
      }));
    `);
    expect(printedJson(second)).toEqual({
      sameRaw: true,
      floats: [1.5, true, true, 1e-310],
      at: [10, 10, 56, 8],
      view: 0xdeadbeef,
      overRawSeesWrite: 0xff,
      buffers: [true, true, true, '777777777777'],
      shared: ['[object SharedArrayBuffer]', true, -5],
      gone: [0, 0, true, 'detached'],
    });
    expect(second.result.notCarried).toEqual([]);
    // The write through one view is carried and seen through the other in the next run too.
    expect((await session.run('[overRaw[0], bytes[56], raw.byteLength]')).result.value).toBe('[ 255, 255, 64 ]');
  });

  for (const order of ['{ p, u }', '{ u, p }']) {
    it(`keeps a pool Buffer sharing memory with a view over it, whichever the state meets first (${order})`, async () => {
      const session = new Session();
      // The order of the declarations decides which one the state meets first: p then u once lost the sharing.
      const code = order === '{ p, u }'
        ? `const p = Buffer.from('hello'); const u = new Uint8Array(p.buffer, p.byteOffset, p.length);`
        : `let u; const p = Buffer.from('hello'); u = new Uint8Array(p.buffer, p.byteOffset, p.length);`;
      const first = await session.run(code);
      expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true, notCarried: [] });
      const second = await session.run(`p[0] = 72; console.log(JSON.stringify([u[0], p.toString(), Buffer.from(u).toString()]))`);
      expect(printedJson(second)).toEqual([72, 'Hello', 'Hello']);
    });
  }

  it('saves a small pool Buffer without its 8 KB pool slab unless another saved view shares the slab', async () => {
    const session = new Session();
    const alone = await session.run(`const small = Buffer.from('hello'); small.buffer.byteLength`);
    expect(alone.result).toMatchObject({ outcome: 'ok', stateSaved: true });
    // The Buffer sits in Node's pool slab (8 KB or more), yet the file holds only its own bytes.
    expect(Number(alone.result.value)).toBeGreaterThanOrEqual(8192);
    expect(statSync(session.statePath).size).toBeLessThan(2048);
    const shared = await session.run(`const over = new Uint8Array(small.buffer, small.byteOffset, small.length); over[1] = 69; small.toString()`);
    expect(shared.result.value).toContain('hEllo');
    // Now a second saved value shares the slab: the slab is saved once and both keep sharing it.
    expect(statSync(session.statePath).size).toBeGreaterThanOrEqual(8192);
    const after = await session.run(`small[4] = 79; console.log(JSON.stringify([over[4], String.fromCharCode(...over)]))`);
    expect(printedJson(after)).toEqual([79, 'hEllO']);
  });

  it('stores a 10 MB Float64Array as its raw bytes and carries it byte-exact, mutated in place', async () => {
    const session = new Session();
    const first = await session.run(`
      const big = new Float64Array(1310720);
      for (let i = 0; i < big.length; i++) big[i] = Math.sin(i) * 1e6;
      const half = big.subarray(655360);
    `);
    expect(first.result).toMatchObject({ outcome: 'ok', stateSaved: true, notCarried: [] });
    // 10 MiB of bytes plus a small graph: no base64 (which would be 13.3 MiB).
    const size = statSync(session.statePath).size;
    expect(size).toBeGreaterThanOrEqual(10 * 1048576);
    expect(size).toBeLessThan(10 * 1048576 + 4096);

    const before = await session.run(describeViews(['big', 'half']));
    const mutated = await session.run('big[3] = 42; half[0] = -1; [big[655360], big.length]');
    expect(mutated.result.value).toBe('[ -1, 1310720 ]');
    const after = await session.run(`
      let expected = 0;
      for (let i = 0; i < big.length; i++) if (big[i] === (i === 3 ? 42 : i === 655360 ? -1 : Math.sin(i) * 1e6)) expected++;
      console.log(JSON.stringify({ matching: expected, shared: half.buffer === big.buffer, halfAt: [half.byteOffset, half.length] }));
    `);
    expect(printedJson(after)).toEqual({ matching: 1310720, shared: true, halfAt: [5242880, 655360] });
    const described = printedJson(before) as Record<string, [string, number, number, string]>;
    expect(described.big?.slice(0, 3)).toEqual(['[object Float64Array]', 0, 10485760]);
    expect(described.half?.slice(0, 3)).toEqual(['[object Float64Array]', 5242880, 5242880]);
  });

  it('loads a snapshot written by the runner before format 3 (JSON, buffers in base64) and saves it as format 3', async () => {
    const dataDir = harness.hostDir();
    const inDir = harness.hostDir();
    const outDir = harness.hostDir();
    copyFileSync(FIXTURE_V2, path.join(inDir, 'state'));
    const run = await harness.runContainer({
      code: `console.log(JSON.stringify({
        shared: [floats.buffer === raw, bytes.buffer === raw, tail.buffer === raw, view.buffer === raw],
        floats: [floats[0], Object.is(floats[1], -0)],
        view: view.getInt16(0),
        wide: [...wide].map(String),
        clamped: [...clamped],
        text: text.toString(),
        norm: record.point.norm(),
        indexed: record.index.get('floats') === floats,
      }))`,
      dataDir,
      inDir,
      outDir,
      restore: true,
    });
    expect(run.result).toMatchObject({ outcome: 'ok', stateSaved: true, notCarried: [] });
    expect(JSON.parse(run.output)).toEqual({
      shared: [true, true, true, true],
      floats: [1.5, true],
      view: -2,
      wide: ['1', '-9007199254740993'],
      clamped: [0, 128, 255],
      text: 'héllo, snapshot',
      norm: 5,
      indexed: true,
    });
    expect(readFileSync(path.join(outDir, 'state')).subarray(0, 8).toString('latin1')).toBe('CCNODE3\n');
  });

  it('keeps the last good state when a buffer is detached while the state is being saved', async () => {
    const session = new Session();
    expect((await session.run('const numbers = new Float64Array([1, 2, 3]);')).result.stateSaved).toBe(true);
    const lastGood = readFileSync(session.statePath);
    // Saving reads `trap.boom` (an own enumerable property of a function), which detaches the buffer
    // whose bytes were already taken for the file.
    const failed = await session.run(`
      numbers[0] = 99;
      function trap() {}
      Object.defineProperty(trap, 'boom', { enumerable: true, get() { structuredClone(numbers.buffer, { transfer: [numbers.buffer] }); return 1; } });
    `);
    expect(failed.result).toMatchObject({ outcome: 'ok', stateSaved: false });
    expect(failed.result.stateError).toBe('saving the state failed: Error: a buffer changed its size while the state was being saved');
    expect(readFileSync(session.statePath).equals(lastGood)).toBe(true);
    expect((await session.run('[...numbers]')).result.value).toBe('[ 1, 2, 3 ]');
  });
});
