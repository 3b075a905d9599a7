'use strict';
// Saving and restoring the session's top-level bindings (PROTOCOL.md, "Snapshots": Node).
// The file (file.js) holds the graph { format, names, values } where values[i] is the encoded value
// of names[i], all in one graph so that a value shared by two bindings is still shared after the
// restore, and the bytes of the buffers the graph holds as raw sections after it.

const fs = require('fs');
const path = require('path');
const { GraphEncoder, describeError } = require('./encode');
const { GraphDecoder } = require('./decode');
const { readStateFile, writeStateFile } = require('./file');

const FORMAT = 'codecell-node-state/3';
// Versions 2 and 3 only added node kinds (encode.js; 3 also the sections), so the decoder reads
// version 1 and 2 snapshots, JSON with buffers in base64, as they are.
const READABLE_FORMATS = [FORMAT, 'codecell-node-state/2', 'codecell-node-state/1'];
// A session with thousands of bad values gets a readable list, not thousands of lines.
const MAX_NOT_CARRIED = 200;

class NotCarriedList {
  constructor() {
    this.items = [];
    this.dropped = 0;
  }

  add(name, type, reason) {
    if (this.items.length < MAX_NOT_CARRIED) this.items.push({ name: name.slice(0, 500), type: type.slice(0, 500), reason: reason.slice(0, 2000) });
    else this.dropped++;
  }

  toJSON() {
    if (this.dropped === 0) return this.items;
    return [...this.items, { name: '…', type: 'summary', reason: `${this.dropped} more values were not carried` }];
  }
}

/**
 * @param {{ bindings: ({name: string, value: unknown} | {name: string, error: unknown})[],
 *           known: object, outDir: string, notCarried: NotCarriedList }} options
 * @returns {{ stateSaved: boolean, stateError: string | null }}
 */
function saveState({ bindings, known, outDir, notCarried }) {
  let pass = encodeBindings(bindings, new GraphEncoder(known));
  // A Buffer met before another view of its memory was written with its own bytes: encode again
  // knowing which memory is shared, so the Buffer becomes a view of it (rare: a second pass only then).
  const share = pass.encoder.buffersToShare();
  if (share.size > 0) pass = encodeBindings(bindings, new GraphEncoder({ ...known, shareBuffers: share }));
  const { encoder, names, values, failures } = pass;
  for (const failure of failures) notCarried.add(failure.name, failure.type, failure.reason);
  try {
    const temporary = path.join(outDir, 'state.tmp');
    writeStateFile(temporary, { format: FORMAT, names, values }, encoder.sections);
    fs.renameSync(temporary, path.join(outDir, 'state'));
    return { stateSaved: true, stateError: null };
  } catch (err) {
    return { stateSaved: false, stateError: `saving the state failed: ${describeError(err)}` };
  }
}

/** Encodes every binding with one encoder; failures are returned, not yet reported. */
function encodeBindings(bindings, encoder) {
  const names = [];
  const values = [];
  const failures = [];
  for (const binding of bindings) {
    if ('error' in binding) {
      failures.push({ name: binding.name, type: 'unknown', reason: `reading it threw ${describeError(binding.error)}` });
      continue;
    }
    const result = encoder.encodeBinding(binding.value);
    for (const failure of result.failures) failures.push({ name: binding.name + failure.path, type: failure.type, reason: failure.reason });
    if (result.carried) {
      names.push(binding.name);
      values.push(result.encoded);
    }
  }
  return { encoder, names, values, failures };
}

/**
 * Restores every binding it can, defining each one as soon as it is decoded so that later ones
 * (a class's static initializer, say) can already see it.
 * @param {{ file: string, requireModule: Function, provenance: object, privates?: object, binds?: object,
 *           define: (name: string, value: unknown) => void, notCarried: NotCarriedList }} options
 * @returns {string[]} the names restored, in their saved order
 */
function restoreState({ file, requireModule, provenance, privates, binds, define, notCarried }) {
  let state;
  let sections;
  try {
    ({ graph: state, sections } = readStateFile(file));
    if (state === null || !READABLE_FORMATS.includes(state.format) || !Array.isArray(state.names) || !Array.isArray(state.values)) {
      throw new Error('the snapshot is not in the format this runner writes');
    }
  } catch (err) {
    notCarried.add('(all values)', 'snapshot', `restore failed: ${describeError(err)}`);
    return [];
  }

  const decoder = new GraphDecoder({ requireModule, provenance, privates, binds, sections });
  const restored = [];
  for (let i = 0; i < state.names.length; i++) {
    const name = state.names[i];
    let result;
    try {
      result = decoder.decodeBinding(state.values[i]);
    } catch (err) {
      // A damaged graph: ids no longer line up, so nothing after this point can be trusted.
      for (const rest of state.names.slice(i)) notCarried.add(rest, 'unknown', `restore failed: ${describeError(err)}`);
      break;
    }
    for (const failure of result.failures) notCarried.add(name, 'unknown', `restore failed: ${failure}`);
    if (result.value === undefined && result.failures.length > 0) continue;
    try {
      define(name, result.value);
      restored.push(name);
    } catch (err) {
      notCarried.add(name, 'unknown', `restore failed: ${describeError(err)}`);
    }
  }
  decoder.detachBuffers();
  return restored;
}

module.exports = { saveState, restoreState, NotCarriedList };
