'use strict';
// The Node runner (images/PROTOCOL.md): warm up, say ready, take one job, run it, report, exit.

const Module = require('module');
const path = require('path');
const { pathToFileURL } = require('url');
const protocol = require('./protocol');
const { HELPER, prepareCell } = require('./cell');
const { installStackFilter } = require('./errors');
const { CellRun } = require('./run');
const { GlobalScope } = require('./scope');
const { applyLimits } = require('./limits');
const { installSlotPaths } = require('./slot-paths');
const { collectIntrinsics, ModuleLog } = require('./snapshot/known');
const { SourceProvenance } = require('./snapshot/provenance');
const { GraphEncoder } = require('./snapshot/encode');
const { GraphDecoder } = require('./snapshot/decode');
const { PrivateRegistry } = require('./snapshot/privates');
const { recordBinds } = require('./snapshot/bound');
const { copySections } = require('./snapshot/file');

const DATA_DIR = '/mnt/data';
const STATE_IN = '/run/codecell/in/state';
const OUT_DIR = '/run/codecell/out';

function warmUp() {
  applyLimits();
  installSlotPaths();
  // Before anything is added to globalThis: the built-ins as Node made them.
  const intrinsics = collectIntrinsics();
  const binds = recordBinds();
  intrinsics.set(binds.bind, 'Function.prototype.bind');
  const privates = new PrivateRegistry();

  const baseRequire = Module.createRequire(path.join(DATA_DIR, '<cell>'));
  const modules = new ModuleLog(baseRequire.resolve);
  const userRequire = function require(id) {
    const exports = baseRequire(id);
    modules.record(id, exports);
    return exports;
  };
  Object.assign(userRequire, { resolve: baseRequire.resolve, cache: baseRequire.cache, extensions: baseRequire.extensions });

  // What rewritten cells call (cell.js): never enumerable, and fixed so a cell cannot replace it.
  const helper = Object.freeze({
    require: userRequire,
    importDefault: (exports) => (exports !== null && typeof exports === 'object' && exports.__esModule ? exports.default : exports),
    import: (specifier) => import(importTarget(String(specifier), baseRequire)),
    privates: (...args) => privates.register(...args),
    arrow: (owner, fn) => privates.arrow(owner, fn),
    get restoring() {
      return privates.restoring;
    },
  });
  Object.defineProperty(globalThis, HELPER, { value: helper, enumerable: false, writable: false, configurable: false });
  Object.defineProperty(globalThis, 'require', { value: userRequire, enumerable: false, writable: true, configurable: true });

  installStackFilter();
  const provenance = new SourceProvenance();
  const known = { intrinsics, modules, provenance, privates, binds };
  warmCodePaths(known);
  return {
    scope: new GlobalScope([HELPER]),
    known,
    userRequire,
    realExit: process.exit.bind(process),
    dataDir: DATA_DIR,
    stateIn: STATE_IN,
    outDir: OUT_DIR,
  };
}

/** import() of a relative path or an installed package means the one under /mnt/data. */
function importTarget(specifier, baseRequire) {
  if (/^\.{0,2}\//.test(specifier)) return pathToFileURL(path.resolve(DATA_DIR, specifier)).href;
  if (specifier.includes(':') || Module.builtinModules.includes(specifier)) return specifier;
  try {
    return pathToFileURL(baseRequire.resolve(specifier)).href;
  } catch {
    return specifier; // ESM-only packages do not resolve with require; let import() try.
  }
}

/**
 * Runs the parser and the snapshot code once on throwaway input while the container waits in the
 * pool, so the job does not pay for their first, unoptimised run.
 */
function warmCodePaths(known) {
  const warm = prepareCell("import { join } from 'path';\nconst { a } = await Promise.resolve({ a: 1 });\nclass K { #p = 1; f = () => this; }\nfunction f() { return () => a; }\nf();");
  for (const script of warm.scripts) new SourceProvenance().addCellScript(script.source, warm.asyncWrapped);
  const numbers = new Float64Array([1.5, 2]);
  const sample = {
    list: [1, 'two', null, [3n]], when: new Date(0), map: new Map([[1, new Set([2])]]), bytes: Buffer.from('x'),
    numbers, view: new DataView(numbers.buffer, 8), whole: Buffer.alloc(16),
  };
  sample.self = sample;
  const encoder = new GraphEncoder({ ...known, provenance: new SourceProvenance() });
  const encoded = JSON.parse(JSON.stringify(encoder.encodeBinding(sample).encoded));
  const sections = copySections(encoder.sections);
  new GraphDecoder({ ...known, requireModule: () => undefined, provenance: new SourceProvenance(), sections }).decodeBinding(encoded);
}

function main() {
  const env = warmUp();
  protocol.writeFrame(protocol.READY_NONCE, { type: 'ready', runtime: 'node', version: process.versions.node });
  let job;
  try {
    job = protocol.readJobLine();
  } catch (err) {
    process.stderr.write(`codecell runner: no usable job: ${err.message}\n`);
    process.exitCode = 2;
    return;
  }
  protocol.detachStdin();
  // As for `node script.js ARGS`: argv[0] is node, argv[1] the script (here the runner), then the args.
  process.argv.splice(2, process.argv.length - 2, ...job.args);
  new CellRun(job, env).start();
}

module.exports = { main };
