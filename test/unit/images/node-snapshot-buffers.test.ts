/**
 * The node runner's state file (images/node/lib/snapshot/file.js, format 3) without Docker: buffers'
 * bytes are raw sections after the graph and come back byte-exact, with every view still sharing its
 * buffer; a snapshot of format 2 (JSON with base64, made by the runner before format 3) still loads;
 * a damaged file is reported, never half-read; and a failed save leaves the last state file as it was.
 */
import { createRequire } from 'node:module';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';

interface NotCarriedEntry {
  name: string;
  type: string;
  reason: string;
}
interface NotCarriedList {
  toJSON(): NotCarriedEntry[];
}

const runnerRequire = createRequire(import.meta.url);
const snapshotDir = '../../../images/node/lib/snapshot';
const { saveState, restoreState, NotCarriedList } = runnerRequire(`${snapshotDir}/state.js`) as {
  saveState(options: { bindings: { name: string; value: unknown }[]; known: unknown; outDir: string; notCarried: NotCarriedList }): {
    stateSaved: boolean;
    stateError: string | null;
  };
  restoreState(options: {
    file: string;
    requireModule: (id: string) => unknown;
    provenance: unknown;
    define: (name: string, value: unknown) => void;
    notCarried: NotCarriedList;
  }): string[];
  NotCarriedList: new () => NotCarriedList;
};
const { collectIntrinsics, ModuleLog } = runnerRequire(`${snapshotDir}/known.js`) as {
  collectIntrinsics(): unknown;
  ModuleLog: new (resolve: (id: string) => string) => unknown;
};
const { SourceProvenance } = runnerRequire(`${snapshotDir}/provenance.js`) as { SourceProvenance: new () => unknown };

const FIXTURE_V2 = path.resolve(import.meta.dirname, '../../images/fixtures/node-state-v2.json');
const MAGIC = 'CCNODE3\n';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'codecell-node-snapshot-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function save(values: Record<string, unknown>, outDir = dir): { stateSaved: boolean; stateError: string | null; notCarried: NotCarriedEntry[] } {
  const known = { intrinsics: collectIntrinsics(), modules: new ModuleLog(runnerRequire.resolve), provenance: new SourceProvenance() };
  const notCarried = new NotCarriedList();
  const bindings = Object.entries(values).map(([name, value]) => ({ name, value }));
  return { ...saveState({ bindings, known, outDir, notCarried }), notCarried: notCarried.toJSON() };
}

function restore(file = path.join(dir, 'state')): { values: Record<string, unknown>; notCarried: NotCarriedEntry[] } {
  const values: Record<string, unknown> = {};
  const notCarried = new NotCarriedList();
  restoreState({
    file,
    requireModule: runnerRequire,
    provenance: new SourceProvenance(),
    define: (name, value) => {
      values[name] = value;
    },
    notCarried,
  });
  return { values, notCarried: notCarried.toJSON() };
}

/** Deterministic bytes that are not all valid numbers: NaN payloads, negative zeros, denormals. */
function patternBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    bytes[i] = x >>> 24;
  }
  return bytes;
}

function bytesOf(view: ArrayBufferView): number[] {
  return [...new Uint8Array(view.buffer, view.byteOffset, view.byteLength)];
}

const TYPED_ARRAY_KINDS = [
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array',
  'Float32Array', 'Float64Array', 'BigInt64Array', 'BigUint64Array', 'Float16Array',
].filter((kind) => typeof (globalThis as Record<string, unknown>)[kind] === 'function');

type TypedArrayConstructor = new (buffer: ArrayBufferLike, byteOffset?: number, length?: number) => ArrayBufferView & { length: number };

describe('node snapshot buffers (state file format 3)', () => {
  it('carries every typed-array kind byte-exact, with its offset and length, as raw bytes after the graph', () => {
    const values: Record<string, unknown> = {};
    TYPED_ARRAY_KINDS.forEach((kind, i) => {
      const Kind = (globalThis as unknown as Record<string, TypedArrayConstructor>)[kind] as TypedArrayConstructor;
      const buffer = new ArrayBuffer(8 * 40);
      new Uint8Array(buffer).set(patternBytes(buffer.byteLength, i + 1));
      values[kind] = new Kind(buffer, 16, 24);
    });
    const saved = save(values);
    expect(saved).toMatchObject({ stateSaved: true, stateError: null, notCarried: [] });

    const file = readFileSync(path.join(dir, 'state'));
    expect(file.subarray(0, 8).toString('latin1')).toBe(MAGIC);
    const graphLength = file.readUInt32LE(8);
    const graph = JSON.parse(file.subarray(16, 16 + graphLength).toString('utf8')) as { format: string; sections: number[][] };
    expect(graph.format).toBe('codecell-node-state/3');
    // One section per buffer, each 320 bytes of kind 0 (ArrayBuffer), the file ending right after the last.
    expect(graph.sections).toEqual(TYPED_ARRAY_KINDS.map(() => [0, 320]));
    const dataStart = Math.ceil((16 + graphLength) / 8) * 8;
    expect(file.length).toBe(dataStart + 320 * TYPED_ARRAY_KINDS.length);
    // The sections are the buffers' bytes as they are, 8-byte aligned.
    expect([...file.subarray(dataStart, dataStart + 320)]).toEqual([...patternBytes(320, 1)]);

    const restored = restore();
    expect(restored.notCarried).toEqual([]);
    for (const kind of TYPED_ARRAY_KINDS) {
      const before = values[kind] as ArrayBufferView & { length: number };
      const after = restored.values[kind] as ArrayBufferView & { length: number };
      expect(Object.prototype.toString.call(after)).toBe(`[object ${kind}]`);
      expect([after.byteOffset, after.length, after.buffer.byteLength]).toEqual([before.byteOffset, before.length, 320]);
      expect(bytesOf(new Uint8Array(after.buffer))).toEqual(bytesOf(new Uint8Array(before.buffer)));
    }
  });

  it('keeps views of one buffer sharing it: subarrays, DataViews, Buffers, SharedArrayBuffers, detached buffers', () => {
    const raw = new ArrayBuffer(64);
    const floats = new Float64Array(raw, 8, 4);
    floats.set([1.5, -0, NaN, 1e-310]);
    const bytes = new Uint8Array(raw);
    const window = bytes.subarray(10, 20);
    const view = new DataView(raw, 40, 16);
    view.setUint32(0, 0xdeadbeef);
    const overRaw = Buffer.from(raw, 8, 16);
    const whole = Buffer.alloc(12, 7);
    const wholeWords = new Uint16Array(whole.buffer);
    const pooled = Buffer.from('héllo');
    const shared = new SharedArrayBuffer(16);
    const sharedWords = new Int32Array(shared);
    sharedWords[2] = -5;
    const sharedBytes = new Uint8Array(shared, 8, 4);
    const gone = new ArrayBuffer(32);
    const goneView = new Float32Array(gone, 4, 2);
    const goneDataView = new DataView(gone, 8);
    structuredClone(gone, { transfer: [gone] });
    const empty = new ArrayBuffer(0);
    const values = { raw, floats, bytes, window, view, overRaw, whole, wholeWords, pooled, shared, sharedWords, sharedBytes, gone, goneView, goneDataView, empty };
    expect(save(values)).toMatchObject({ stateSaved: true, notCarried: [] });

    const { values: r, notCarried } = restore();
    expect(notCarried).toEqual([]);
    const got = r as typeof values;
    for (const sharer of [got.floats, got.bytes, got.window, got.view, got.overRaw]) expect(sharer.buffer).toBe(got.raw);
    expect([got.window.byteOffset, got.window.length, got.overRaw.byteOffset, got.overRaw.length]).toEqual([10, 10, 8, 16]);
    expect([got.floats[0], Object.is(got.floats[1], -0), Number.isNaN(got.floats[2]), got.floats[3]]).toEqual([1.5, true, true, 1e-310]);
    expect(got.view.getUint32(0)).toBe(0xdeadbeef);
    got.bytes[8] = 0xff;
    expect(got.overRaw[0]).toBe(0xff);
    expect(Buffer.isBuffer(got.overRaw) && Buffer.isBuffer(got.whole) && Buffer.isBuffer(got.pooled)).toBe(true);
    expect(got.wholeWords.buffer).toBe(got.whole.buffer);
    expect([...got.whole]).toEqual(new Array(12).fill(7));
    expect(got.pooled.toString()).toBe('héllo');
    expect(Object.prototype.toString.call(got.shared)).toBe('[object SharedArrayBuffer]');
    expect(got.sharedWords.buffer).toBe(got.shared);
    expect(got.sharedBytes.buffer).toBe(got.shared);
    expect([got.sharedWords[2], got.sharedBytes.byteOffset]).toEqual([-5, 8]);
    // Still detached: no bytes, and views of it are empty.
    expect(() => new Uint8Array(got.gone)).toThrow(TypeError);
    expect([got.gone.byteLength, got.goneView.length, got.goneView.buffer === got.gone, got.goneDataView.buffer === got.gone]).toEqual([0, 0, true, true]);
    expect(got.empty.byteLength).toBe(0);
    expect(new Uint8Array(got.empty).length).toBe(0);
  });

  it('loads a format 2 snapshot (JSON, buffers in base64) written by the runner before format 3', () => {
    const { values, notCarried } = restore(FIXTURE_V2);
    expect(notCarried).toEqual([]);
    const got = values as {
      raw: ArrayBuffer;
      floats: Float64Array;
      tail: Uint8Array;
      view: DataView;
      wide: BigInt64Array;
      clamped: Uint8ClampedArray;
      text: Buffer;
      record: { index: Map<string, unknown>; point: { norm(): number } };
    };
    expect([got.floats.buffer === got.raw, got.tail.buffer === got.raw, got.view.buffer === got.raw]).toEqual([true, true, true]);
    expect([got.floats[0], Object.is(got.floats[1], -0), got.view.getInt16(0)]).toEqual([1.5, true, -2]);
    expect([...got.wide]).toEqual([1n, -9007199254740993n]);
    expect([...got.clamped]).toEqual([0, 128, 255]);
    expect(got.text.toString()).toBe('héllo, snapshot');
    expect(got.record.index.get('floats')).toBe(got.floats);
    expect(got.record.point.norm()).toBe(5);
  });

  it('reports a cut-short or damaged file as a whole, and restores nothing from it', () => {
    expect(save({ big: new Float64Array(1000).fill(2.5), note: 'kept' })).toMatchObject({ stateSaved: true });
    const file = readFileSync(path.join(dir, 'state'));
    const cut = path.join(dir, 'cut');
    writeFileSync(cut, file.subarray(0, file.length - 8));
    const fromCut = restore(cut);
    expect(fromCut.values).toEqual({});
    expect(fromCut.notCarried).toEqual([
      { name: '(all values)', type: 'snapshot', reason: 'restore failed: Error: the snapshot file is shorter than its section table says' },
    ]);
    const graphLength = file.readUInt32LE(8);
    const graph = file.subarray(16, 16 + graphLength).toString('utf8').replace('"sections":[[0,8000]]', '"sections":[[0,9000000000]]');
    const header = Buffer.alloc(16);
    header.write(MAGIC, 'latin1');
    header.writeUInt32LE(Buffer.byteLength(graph), 8);
    const lying = path.join(dir, 'lying');
    writeFileSync(lying, Buffer.concat([header, Buffer.from(graph), file.subarray(16 + graphLength)]));
    expect(restore(lying).notCarried).toEqual([
      { name: '(all values)', type: 'snapshot', reason: 'restore failed: Error: the snapshot file is shorter than its section table says' },
    ]);
  });

  it('leaves the last state file as it was when a save fails, and names why', () => {
    expect(save({ numbers: new Float64Array([1, 2, 3]) })).toMatchObject({ stateSaved: true });
    const before = readFileSync(path.join(dir, 'state'));
    // The temporary file cannot be made: a directory is in its way.
    mkdirSync(path.join(dir, 'state.tmp'));
    const failed = save({ numbers: new Float64Array([4, 5, 6]) });
    expect(failed.stateSaved).toBe(false);
    expect(failed.stateError).toMatch(/^saving the state failed: Error: EISDIR/);
    expect(readFileSync(path.join(dir, 'state')).equals(before)).toBe(true);
    expect([...(restore().values.numbers as Float64Array)]).toEqual([1, 2, 3]);
    expect(statSync(path.join(dir, 'state')).size).toBe(before.length);
  });
});
