'use strict';
// Values the snapshot refers to by name instead of by content: built-ins reachable from globalThis
// (`Math`, `console.log`, `Symbol.iterator`, `Array.prototype.map`) and what the cells required
// (`fs`, `path.join`, a class exported by ./lib.js). On restore they are looked up again, which
// is the only way to carry them: they are native, or they close over the module's internals.

const { builtinModules } = require('module');

// Globals that are accessors in Node 18 but cheap and side-effect free to read. The other accessor
// globals (fetch, Blob, TextEncoder, …) load their implementation on first read: reading them all
// would slow every warm-up for values cells rarely keep.
const CHEAP_ACCESSOR_GLOBALS = ['process', 'Buffer'];

function isReferenceType(value) {
  return (typeof value === 'object' && value !== null) || typeof value === 'function' || typeof value === 'symbol';
}

/**
 * Maps every built-in object, function and well-known symbol up to two levels below globalThis to
 * its path. Taken at warm-up, before any user code, so a cell cannot plant its own values in it.
 */
function collectIntrinsics() {
  const paths = new Map();
  const add = (value, path) => {
    if (isReferenceType(value) && !paths.has(value)) paths.set(value, path);
  };
  const addDataProperties = (owner, ownerPath) => {
    for (const key of Object.getOwnPropertyNames(owner)) {
      const descriptor = Object.getOwnPropertyDescriptor(owner, key);
      if (descriptor && 'value' in descriptor) add(descriptor.value, `${ownerPath}.${key}`);
    }
  };

  add(globalThis, 'globalThis');
  const roots = [];
  for (const name of Object.getOwnPropertyNames(globalThis)) {
    const descriptor = Object.getOwnPropertyDescriptor(globalThis, name);
    const value = 'value' in descriptor ? descriptor.value : CHEAP_ACCESSOR_GLOBALS.includes(name) ? globalThis[name] : undefined;
    if (!isReferenceType(value) || paths.has(value)) continue;
    add(value, name);
    roots.push([name, value]);
  }
  for (const [name, value] of roots) {
    if (typeof value === 'symbol') continue;
    addDataProperties(value, name);
    const prototype = typeof value === 'function' ? value.prototype : undefined;
    if (prototype !== null && typeof prototype === 'object') {
      add(prototype, `${name}.prototype`);
      addDataProperties(prototype, `${name}.prototype`);
    }
  }
  return paths;
}

/** Follows a path made by collectIntrinsics, e.g. "Array.prototype.map". */
function resolveIntrinsic(path) {
  let value = globalThis;
  if (path === 'globalThis') return value;
  for (const key of path.split('.')) {
    if (value === null || value === undefined) throw new Error(`built-in ${path} does not exist`);
    value = value[key];
  }
  if (value === undefined) throw new Error(`built-in ${path} does not exist`);
  return value;
}

/**
 * Keeps what each cell required, in order, so that a value that *is* a module's exports (or one of
 * its exported members) can be saved as "require(spec)[key]". `spec` is the module's resolved file
 * name for files, so the next container loads the same file whatever the cell typed.
 */
class ModuleLog {
  constructor(resolve) {
    this.resolve = resolve;
    this.loaded = new Map(); // spec as typed → exports
    this.index = null;
  }

  record(spec, exports) {
    if (!isReferenceType(exports)) return;
    this.loaded.delete(spec);
    this.loaded.set(spec, exports);
    this.index = null;
  }

  /** @returns {[string, string | null] | undefined} [module id, member key or null for the exports] */
  lookup(value) {
    if (this.index === null) this.index = this.buildIndex();
    return this.index.get(value);
  }

  buildIndex() {
    const index = new Map();
    for (const [spec, exports] of this.loaded) {
      const id = this.canonicalId(spec);
      if (!index.has(exports)) index.set(exports, [id, null]);
      // Data properties only: some modules define lazy getters whose first read does real work.
      const descriptors = Object.getOwnPropertyDescriptors(exports);
      for (const key of Object.keys(descriptors)) {
        const descriptor = descriptors[key];
        if ('value' in descriptor && isReferenceType(descriptor.value) && typeof descriptor.value !== 'symbol' && !index.has(descriptor.value)) {
          index.set(descriptor.value, [id, key]);
        }
      }
    }
    return index;
  }

  canonicalId(spec) {
    const bare = spec.startsWith('node:') ? spec.slice(5) : spec;
    if (builtinModules.includes(bare)) return spec;
    try {
      return this.resolve(spec);
    } catch {
      return spec;
    }
  }
}

module.exports = { collectIntrinsics, resolveIntrinsic, ModuleLog };
