'use strict';
// The state file's layout (format 3): the graph as JSON, then the bytes of every ArrayBuffer,
// SharedArrayBuffer and Buffer the graph holds as raw sections, so that saving writes them straight
// from the values' memory and restoring reads them straight into new buffers, with no per-byte work.
//
//   offset 0   8 bytes  magic "CCNODE3\n"
//   offset 8   u32 LE   byte length G of the graph
//   offset 12  u32 LE   0 (reserved)
//   offset 16  G bytes  the graph: UTF-8 JSON { format, names, values, sections }
//   then, from the next multiple of 8, each section in the order of `sections`, each one starting at
//   a multiple of 8 (zero bytes pad the gaps). sections[i] = [kind, byteLength] or
//   [kind, byteLength, maxByteLength] for a resizable (growable) buffer; kind is 0 ArrayBuffer,
//   1 Buffer (its own bytes), 2 SharedArrayBuffer. The file ends right after the last section.
//
// Files of formats 1 and 2 are the graph's JSON alone (they start with "{"), buffers in base64.

const fs = require('fs');

const MAGIC = Buffer.from('CCNODE3\n', 'latin1');
const HEADER_LENGTH = 16;
const ALIGNMENT = 8;
const KIND_ARRAY_BUFFER = 0;
const KIND_BUFFER = 1;
const KIND_SHARED = 2;
// Linux's IOV_MAX: readv takes at most this many buffers per call.
const MAX_IOVECS = 1024;
const PADDING = new Uint8Array(ALIGNMENT);

function padding(length) {
  return (ALIGNMENT - (length % ALIGNMENT)) % ALIGNMENT;
}

/**
 * Writes the graph and its sections. Each section's bytes are checked against the length the graph
 * gives it, so a buffer that changed size while the graph was made (a getter that detached it)
 * fails the save instead of misplacing every section after it.
 * @param {string} file
 * @param {{ format: string, names: string[], values: unknown[] }} graph
 * @param {{ kind: number, bytes: Uint8Array, byteLength: number, maxByteLength: number | null }[]} sections
 */
function writeStateFile(file, graph, sections) {
  const table = sections.map((section) =>
    section.maxByteLength === null ? [section.kind, section.byteLength] : [section.kind, section.byteLength, section.maxByteLength],
  );
  const graphBytes = Buffer.from(JSON.stringify({ ...graph, sections: table }), 'utf8');
  if (graphBytes.length > 0xffffffff) throw new Error('the snapshot graph is larger than 4 GiB');
  const header = Buffer.alloc(HEADER_LENGTH);
  MAGIC.copy(header, 0);
  header.writeUInt32LE(graphBytes.length, 8);

  const chunks = [header, graphBytes];
  let size = HEADER_LENGTH + graphBytes.length;
  for (const section of sections) {
    const gap = padding(size);
    if (gap > 0) chunks.push(PADDING.subarray(0, gap));
    if (section.bytes.byteLength !== section.byteLength) throw new Error('a buffer changed its size while the state was being saved');
    if (section.byteLength > 0) chunks.push(section.bytes);
    size += gap + section.byteLength;
  }

  const fd = fs.openSync(file, 'w', 0o644);
  try {
    // libuv writes every chunk, resuming after short writes, in batches of IOV_MAX.
    const written = fs.writevSync(fd, chunks, 0);
    if (written !== size) throw new Error(`only ${written} of ${size} bytes were written`);
  } finally {
    fs.closeSync(fd);
  }
}

/** A new buffer of a section's kind and size, for its bytes to be read into. */
function allocateSection(kind, byteLength, maxByteLength) {
  const options = maxByteLength === null ? undefined : { maxByteLength };
  if (kind === KIND_ARRAY_BUFFER) return new ArrayBuffer(byteLength, options);
  if (kind === KIND_SHARED) return new SharedArrayBuffer(byteLength, options);
  return Buffer.allocUnsafe(byteLength);
}

function bytesOf(buffer) {
  return buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
}

function checkSectionTable(table) {
  if (!Array.isArray(table)) throw new Error('the snapshot has no section table');
  return table.map((entry) => {
    const valid = Array.isArray(entry) && (entry.length === 2 || entry.length === 3) &&
      [KIND_ARRAY_BUFFER, KIND_BUFFER, KIND_SHARED].includes(entry[0]) &&
      entry.slice(1).every((number) => Number.isSafeInteger(number) && number >= 0) &&
      (entry.length === 2 || (entry[0] !== KIND_BUFFER && entry[2] >= entry[1]));
    if (!valid) throw new Error('the snapshot has a damaged section table');
    return { kind: entry[0], byteLength: entry[1], maxByteLength: entry.length === 3 ? entry[2] : null };
  });
}

/** Reads `targets` (in file order, back to back from `position`) with as few readv calls as it can. */
function readInto(fd, targets, position) {
  const pending = targets.filter((target) => target.byteLength > 0);
  let next = 0;
  while (next < pending.length) {
    let count = fs.readvSync(fd, pending.slice(next, next + MAX_IOVECS), position);
    if (count === 0) throw new Error('the snapshot file ends before its last section');
    position += count;
    while (count > 0) {
      const target = pending[next];
      if (count >= target.byteLength) {
        count -= target.byteLength;
        next++;
      } else {
        pending[next] = target.subarray(count);
        count = 0;
      }
    }
  }
}

/**
 * Reads a state file of any format.
 * @returns {{ graph: any, sections: (ArrayBuffer | SharedArrayBuffer | Buffer)[] }} the parsed graph
 *   and, for format 3, each section's bytes in a buffer of its own (none for formats 1 and 2)
 */
function readStateFile(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const fileSize = fs.fstatSync(fd).size;
    const header = Buffer.alloc(HEADER_LENGTH);
    const headerRead = fs.readSync(fd, header, 0, HEADER_LENGTH, 0);
    if (headerRead < MAGIC.length || !header.subarray(0, MAGIC.length).equals(MAGIC)) {
      // Formats 1 and 2: the whole file is the graph's JSON.
      return { graph: JSON.parse(fs.readFileSync(fd, 'utf8')), sections: [] };
    }
    const graphLength = header.readUInt32LE(8);
    if (headerRead < HEADER_LENGTH || HEADER_LENGTH + graphLength > fileSize) throw new Error('the snapshot file is cut short');
    const graphBytes = Buffer.allocUnsafe(graphLength);
    readInto(fd, [graphBytes], HEADER_LENGTH);
    const graph = JSON.parse(graphBytes.toString('utf8'));
    if (graph === null || typeof graph !== 'object') throw new Error('the snapshot graph is not an object');
    const table = checkSectionTable(graph.sections);

    let size = HEADER_LENGTH + graphLength;
    const targets = [];
    const sections = [];
    const gapBytes = new Uint8Array(ALIGNMENT);
    for (const { kind, byteLength, maxByteLength } of table) {
      const gap = padding(size);
      if (gap > 0) targets.push(gapBytes.subarray(0, gap));
      size += gap + byteLength;
      // Checked before anything is allocated: a damaged table must not ask for gigabytes.
      if (size > fileSize) throw new Error('the snapshot file is shorter than its section table says');
      const buffer = allocateSection(kind, byteLength, maxByteLength);
      sections.push(buffer);
      targets.push(bytesOf(buffer));
    }
    if (size !== fileSize) throw new Error('the snapshot file is longer than its section table says');
    readInto(fd, targets, HEADER_LENGTH + graphLength);
    return { graph, sections };
  } finally {
    fs.closeSync(fd);
  }
}

/** The sections as a reader of the file would see them, without the file: for warming up the code paths. */
function copySections(sections) {
  return sections.map(({ kind, bytes, byteLength, maxByteLength }) => {
    const buffer = allocateSection(kind, byteLength, maxByteLength);
    bytesOf(buffer).set(bytes);
    return buffer;
  });
}

module.exports = { writeStateFile, readStateFile, copySections, KIND_ARRAY_BUFFER, KIND_BUFFER, KIND_SHARED };
