'use strict';
// The snapshot's graph decoder: the inverse of encode.js (the format is described there).
//
// Ids are handed out in exactly the encoder's order, so every node is visited even when building
// its value fails (a function whose source no longer evaluates, a module that is gone): the value
// becomes undefined, the failure is reported, and the rest of the snapshot still lines up.

const vm = require('vm');
const { resolveIntrinsic } = require('./known');
const { describeError } = require('./encode');
const { PrivateRegistry } = require('./privates');
const { KIND_ARRAY_BUFFER, KIND_BUFFER, KIND_SHARED } = require('./file');

// Stack frames of restored functions show this file name; their line numbers count from the
// start of the function's own source.
const RESTORED_FILENAME = '<earlier cell>';

class GraphDecoder {
  /**
   * @param {{ requireModule: (id: string) => unknown,
   *           provenance: import('./provenance').SourceProvenance,
   *           privates?: import('./privates').PrivateRegistry, binds?: { bind: Function },
   *           sections?: (ArrayBuffer | SharedArrayBuffer | Buffer)[] }} options
   *   sections: the bytes of the buffers, from the state file (file.js)
   */
  constructor({ requireModule, provenance, privates, binds, sections }) {
    this.requireModule = requireModule;
    this.provenance = provenance;
    this.privates = privates || new PrivateRegistry();
    // The runner's recording bind (bound.js), so a restored bound function is known as one.
    this.bind = binds ? binds.bind : Function.prototype.bind;
    this.values = [];
    this.scripts = new Map();
    this.failures = [];
    this.shapes = [];
    this.sections = sections || [];
    this.taken = new Set();
    // Detached buffers are detached once everything is decoded: views of them are made first.
    this.toDetach = [];
  }

  /** Detaches the buffers that were detached when saved; call once the last binding is decoded. */
  detachBuffers() {
    for (const buffer of this.toDetach) this.attempt(() => structuredClone(buffer, { transfer: [buffer] }));
    this.toDetach = [];
  }

  /** The buffer holding a section's bytes, which must be of `kind` and is handed out once. */
  section(index, kind) {
    const buffer = this.sections[index];
    const actual = buffer instanceof ArrayBuffer ? KIND_ARRAY_BUFFER : Buffer.isBuffer(buffer) ? KIND_BUFFER : KIND_SHARED;
    if (buffer === undefined || actual !== kind || this.taken.has(index)) throw new Error(`the snapshot refers to a missing section ${index}`);
    this.taken.add(index);
    return buffer;
  }

  /** @returns {{ value: unknown, failures: string[] }} */
  decodeBinding(encoded) {
    this.failures = [];
    const value = this.decode(encoded);
    return { value, failures: this.failures };
  }

  reserve() {
    this.values.push(undefined);
    return this.values.length - 1;
  }

  register(value) {
    this.values.push(value);
    return value;
  }

  decode(node) {
    if (node === null || typeof node !== 'object') return node;
    switch (node[0]) {
      case 'u':
        return undefined;
      case 'n':
        return Number(node[1]);
      case 'b':
        return BigInt(node[1]);
      case 'y':
        return node[2] === 1 ? Symbol.for(node[1]) : this.register(Symbol(node[1] === null ? undefined : node[1]));
      case 'r':
        return this.values[node[1]];
      case 'g':
        return this.attempt(() => resolveIntrinsic(node[1]));
      case 'm':
        return this.attempt(() => {
          const exports = this.requireModule(node[1]);
          return node[2] === null ? exports : exports[node[2]];
        });
      case 'o':
        return this.decodeOrdinary(node);
      case 's':
        return this.decodeShaped(node);
      case 'a':
        return this.decodeArray(node);
      case 'D':
        return this.finish(new Date(node[2] === null ? NaN : node[2]), node[1]);
      case 'R': {
        const regexp = this.finish(new RegExp(node[2], node[3]), node[1]);
        regexp.lastIndex = node[4];
        return regexp;
      }
      case 'M': {
        const map = this.finish(new Map(), node[1]);
        for (let i = 2; i < node.length; i += 2) map.set(this.decode(node[i]), this.decode(node[i + 1]));
        return map;
      }
      case 'S': {
        const set = this.finish(new Set(), node[1]);
        for (let i = 2; i < node.length; i++) set.add(this.decode(node[i]));
        return set;
      }
      case 'E':
        return this.decodeError(node);
      case 'AB':
        return this.finish(this.decodeArrayBuffer(node[2]), node[1]);
      case 'SB':
        return this.finish(this.section(node[2], KIND_SHARED), node[1]);
      case 'BF':
        // Formats 1 and 2: base64.
        return this.register(typeof node[1] === 'string' ? Buffer.from(node[1], 'base64') : this.section(node[1], KIND_BUFFER));
      case 'BV':
        return this.decodeBufferView(node);
      case 'TA':
      case 'DV':
        return this.decodeView(node);
      case 'F':
        return this.decodeFunction(node);
      case 'O': {
        const object = node[1] === null ? Object.create(null) : {};
        this.finish(object, node[1]);
        this.defineProperties(object, node[2]);
        return object;
      }
      case 'I':
        return this.decodeInstance(node);
      case 'q': {
        let value;
        for (let i = 1; i < node.length; i++) value = this.decode(node[i]);
        return value;
      }
      case 'X':
        return this.decodeStaticPrivates(node);
      case 'Z': {
        const value = this.decode(node[2]);
        if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
          this.attempt(() => {
            if (node[1] === 3) Object.freeze(value);
            else if (node[1] === 2) Object.seal(value);
            else Object.preventExtensions(value);
          });
        }
        return value;
      }
      case 'BD':
        return this.decodeBound(node);
      case 'AT':
        return this.decodeArrowField(node);
      case 'MR': {
        const cls = this.decode(node[1]);
        const key = typeof node[2] === 'string' ? node[2] : this.decode(node[2]);
        return this.attempt(() => {
          if (typeof cls !== 'function') throw new Error('the class of a bound method was not restored');
          const descriptor = Object.getOwnPropertyDescriptor(node[3] === 's' ? cls : cls.prototype, key);
          if (!descriptor || typeof descriptor.value !== 'function') throw new Error(`class ${cls.name} has no method ${String(key)}`);
          return descriptor.value;
        });
      }
      default:
        throw new Error(`unknown snapshot node ${JSON.stringify(node[0])}`);
    }
  }

  attempt(build) {
    try {
      return build();
    } catch (err) {
      this.failures.push(describeError(err));
      return undefined;
    }
  }

  /** Registers a freshly built object, then gives it the prototype its link names. */
  finish(object, link) {
    this.register(object);
    this.applyLink(object, link);
    return object;
  }

  applyLink(object, link) {
    const proto = this.resolveLink(link);
    if (proto !== undefined) Object.setPrototypeOf(object, proto);
  }

  /** The prototype a link names, or undefined for "the usual one" (or one that failed to restore). */
  resolveLink(link) {
    if (link === 0) return undefined;
    if (link === null) return null;
    let proto;
    if (Array.isArray(link) && link[0] === 'P') {
      proto = this.decode(link[1]);
    } else {
      const constructor = this.decode(link);
      proto = constructor === undefined ? undefined : constructor.prototype;
    }
    return proto !== null && (typeof proto === 'object' || typeof proto === 'function') ? proto : undefined;
  }

  decodeOrdinary(node) {
    const object = node[1] === null ? Object.create(null) : {};
    this.finish(object, node[1]);
    if (node.length >= 6) {
      // Defines the next shape (see encode.js), before the values, as the encoder did.
      const keys = new Array((node.length - 2) / 2);
      for (let i = 2; i < node.length; i += 2) keys[(i - 2) / 2] = node[i];
      this.shapes.push(keys);
    }
    for (let i = 2; i < node.length; i += 2) setProperty(object, node[i], this.decode(node[i + 1]));
    return object;
  }

  /** The property list of an 'O' or 'I' node (see encode.js), defined with its attributes. */
  defineProperties(object, props) {
    let i = 0;
    while (i < props.length) {
      const keyNode = props[i];
      const key = typeof keyNode === 'string' ? keyNode : this.decode(keyNode);
      const attributes = props[i + 1];
      const descriptor = { enumerable: (attributes & 1) !== 0, configurable: (attributes & 2) !== 0 };
      if (attributes & 8) {
        descriptor.get = this.decode(props[i + 2]);
        descriptor.set = this.decode(props[i + 3]);
        if (typeof descriptor.get !== 'function') descriptor.get = undefined;
        if (typeof descriptor.set !== 'function') descriptor.set = undefined;
        i += 4;
      } else {
        descriptor.value = this.decode(props[i + 2]);
        descriptor.writable = (attributes & 4) !== 0;
        i += 3;
      }
      if (typeof key === 'string' || typeof key === 'symbol') this.attempt(() => Object.defineProperty(object, key, descriptor));
    }
  }

  /** An instance with private (#) members: rebuilt through its class (privates.js). */
  decodeInstance(node) {
    const cls = this.decode(node[1]);
    const maker = node[2] === 0 ? cls : this.decode(node[2]);
    const made = this.attempt(() => {
      if (typeof cls !== 'function' || typeof maker !== 'function') throw new Error('its class was not restored');
      return this.privates.construct(maker, cls);
    });
    this.register(made);
    // Without an instance, the rest is still decoded (into a throwaway) to keep ids in step.
    const target = made !== undefined ? made : {};
    const props = node[3];
    if (props[0] === 0) for (let i = 1; i < props.length; i += 2) setProperty(target, props[i], this.decode(props[i + 1]));
    else this.defineProperties(target, props);
    const privates = node[4];
    for (let i = 0; i < privates.length; i += 2) {
      const holder = this.decode(privates[i]);
      const values = privates[i + 1].map((item) => this.decode(item));
      if (made === undefined) continue;
      this.attempt(() => {
        const record = typeof holder === 'function' ? this.privates.record(holder) : undefined;
        if (record === undefined) throw new Error(`the private fields of class ${holder && holder.name} have no accessor`);
        record.set(made, values);
      });
    }
    return made;
  }

  decodeStaticPrivates(node) {
    const cls = this.decode(node[1]);
    const values = node[2].map((item) => this.decode(item));
    if (cls !== undefined) {
      this.attempt(() => {
        const record = this.privates.record(cls);
        if (record === undefined) throw new Error(`the static private fields of class ${cls.name} have no accessor`);
        record.setStatic(values);
      });
    }
    return cls;
  }

  decodeArrowField(node) {
    const owner = this.decode(node[2]);
    const fn = this.attempt(() => {
      if (owner === undefined) throw new Error('the object its `this` was is not restored');
      const made = this.run(`(function () { return (${node[1]}\n); })`).call(owner);
      this.provenance.addRestored(fnToString(made), ['this']);
      return this.privates.arrow(owner, made);
    });
    this.register(fn);
    const holder = fn !== undefined ? fn : {};
    for (let i = 3; i < node.length; i += 2) setProperty(holder, node[i], this.decode(node[i + 1]));
    return fn;
  }

  decodeBound(node) {
    const id = this.reserve();
    const target = this.decode(node[1]);
    const thisArg = this.decode(node[2]);
    const args = node[3].map((item) => this.decode(item));
    const bound = this.attempt(() => {
      if (typeof target !== 'function') throw new Error('the function it binds was not restored');
      return Reflect.apply(this.bind, target, [thisArg, ...args]);
    });
    this.values[id] = bound;
    const holder = bound !== undefined ? bound : {};
    for (let i = 4; i < node.length; i += 2) setProperty(holder, node[i], this.decode(node[i + 1]));
    return bound;
  }

  decodeShaped(node) {
    const object = node[1] === null ? Object.create(null) : {};
    this.finish(object, node[1]);
    const keys = this.shapes[node[2]];
    for (let i = 0; i < keys.length; i++) setProperty(object, keys[i], this.decode(node[i + 3]));
    return object;
  }

  decodeArray(node) {
    const array = new Array(node.length - 2);
    this.finish(array, node[1]);
    for (let i = 2; i < node.length; i++) {
      const item = node[i];
      if (item !== null && typeof item === 'object') {
        if (item[0] !== '_') array[i - 2] = this.decode(item);
      } else {
        array[i - 2] = item;
      }
    }
    return array;
  }

  decodeError(node) {
    const error = this.finish(new Error(node[2]), node[1]);
    if (node[3] !== null) Object.defineProperty(error, 'stack', { value: node[3], writable: true, configurable: true, enumerable: false });
    for (let i = 4; i < node.length; i += 2) {
      const key = node[i];
      const value = this.decode(node[i + 1]);
      if (key === 'name' || key === 'cause' || key === 'errors') {
        Object.defineProperty(error, key, { value, writable: true, configurable: true, enumerable: false });
      } else {
        setProperty(error, key, value);
      }
    }
    return error;
  }

  decodeArrayBuffer(content) {
    if (typeof content === 'string') {
      // Formats 1 and 2: base64.
      const bytes = Buffer.from(content, 'base64');
      return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length);
    }
    if (content !== null) return this.section(content, KIND_ARRAY_BUFFER);
    const detached = new ArrayBuffer(0);
    this.toDetach.push(detached);
    return detached;
  }

  decodeBufferView(node) {
    const id = this.reserve();
    const buffer = this.decode(node[1]);
    const view = this.attempt(() => Buffer.from(buffer, node[2], node[3]));
    this.values[id] = view;
    return view;
  }

  decodeView(node) {
    // The encoder gave the view its id, then encoded its link, then its buffer: same order here.
    const id = this.reserve();
    const proto = this.resolveLink(node[1]);
    const typed = node[0] === 'TA';
    const buffer = this.decode(typed ? node[3] : node[2]);
    const view = typed ? new globalThis[node[2]](buffer, node[4], node[5]) : new DataView(buffer, node[3], node[4]);
    if (proto !== undefined) Object.setPrototypeOf(view, proto);
    this.values[id] = view;
    return view;
  }

  decodeFunction(node) {
    const [, source, name, superParam, superNode, prototypeField, propertyCount] = node;
    const id = this.reserve();
    const prototypeId = prototypeField === 1 ? this.reserve() : -1;
    const parent = superParam === null ? undefined : this.decode(superNode);
    const fn = this.attempt(() => this.evaluate(source, superParam, parent));
    this.values[id] = fn;
    if (fn !== undefined) {
      this.provenance.addRestored(fnToString(fn));
      if (name !== null && fn.name !== name) Object.defineProperty(fn, 'name', { value: name, configurable: true });
    }
    if (prototypeId >= 0) {
      this.values[prototypeId] = fn !== undefined ? fn.prototype : undefined;
    } else if (Array.isArray(prototypeField)) {
      const prototype = this.decode(prototypeField);
      if (fn !== undefined && prototype !== undefined) this.attempt(() => (fn.prototype = prototype));
    }
    // Without a function, properties are still decoded (into a throwaway) to keep ids in step.
    const target = fn !== undefined ? fn : {};
    let i = 7;
    for (let n = 0; n < propertyCount; n++, i += 2) {
      Object.defineProperty(target, node[i], { value: this.decode(node[i + 1]), writable: true, enumerable: true, configurable: true });
    }
    const prototypeTarget = fn !== undefined && prototypeId >= 0 ? fn.prototype : {};
    for (; i < node.length; i += 2) setProperty(prototypeTarget, node[i], this.decode(node[i + 1]));
    return fn;
  }

  /**
   * Evaluates a function's source in global scope, so what it refers to by name resolves to the
   * session's globals when it runs, as it did in the cell that defined it.
   */
  evaluate(source, superParam, parent) {
    if (superParam !== null) {
      const factory = this.run(`(function (${superParam}) { return (${source}\n); })`);
      return factory(parent);
    }
    try {
      return this.run(`(${source}\n)`);
    } catch (err) {
      if (!(err instanceof SyntaxError)) throw err;
    }
    // Method shorthand (`area() {…}`, `get size() {…}`) is only valid inside an object literal.
    const holder = this.run(`({${source}\n})`);
    const [descriptor] = Object.values(Object.getOwnPropertyDescriptors(holder));
    return descriptor.value || descriptor.get || descriptor.set;
  }

  run(code) {
    let script = this.scripts.get(code);
    if (script === undefined) {
      script = new vm.Script(code, { filename: RESTORED_FILENAME });
      this.scripts.set(code, script);
    }
    return script.runInThisContext();
  }
}

function fnToString(fn) {
  return Function.prototype.toString.call(fn);
}

/** Plain assignment, except for a key named __proto__, which must stay a key. */
function setProperty(object, key, value) {
  if (key === '__proto__') {
    Object.defineProperty(object, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    object[key] = value;
  }
}

module.exports = { GraphDecoder, RESTORED_FILENAME };
