'use strict';
// The snapshot's graph encoder: turns the values of the cell's bindings into JSON that the decoder
// (decode.js) turns back into equivalent values in the next container.
//
// Format. A value is encoded as itself when JSON can hold it exactly (strings, booleans, null,
// finite numbers other than -0); everything else is an array whose first element is a tag:
//
//   ['u']  undefined              ['n', 'NaN' | 'Infinity' | '-Infinity' | '-0']
//   ['b', digits]  BigInt         ['y', description, registered]  Symbol
//   ['r', id]  a value seen before (shared references and cycles)
//   ['g', 'Array.prototype.map']  a built-in      ['m', moduleId, key | null]  require(moduleId)[key]
//   ['o', link, key, value, …]  ordinary object   ['s', link, shape, value, …]  same keys as an earlier one
//   ['a', link, item, …]  array (['_'] is a hole)
//   ['D', link, time]  ['R', link, source, flags, lastIndex]  ['M', link, k, v, …]  ['S', link, item, …]
//   ['E', link, message, stack, key, value, …]  error
//   ['AB', link, section]  ['BF', section]  ['TA', link, type, buffer, byteOffset, length]
//   ['DV', link, buffer, byteOffset, byteLength]
//       (formats 1 and 2 wrote ['AB', link, base64] and ['BF', base64])
//   ['F', source, name, superParam, superValue, prototype, propCount, key, value, …]  function/class
//
// Added in format 2 (state.js):
//
//   ['O', link, props]  an object whose properties need their descriptors: accessors (get/set),
//       symbol keys, non-enumerable or read-only ones. props is a flat list of
//       key, attributes, value  (or key, attributes, getter, setter when attributes has 8),
//       where key is a string or an encoded symbol, and attributes is 1 enumerable | 2
//       configurable | 4 writable | 8 accessor.
//   ['I', class, maker, props, [holderClass, [value, …], …]]  an instance whose class chain has
//       private (#) members: rebuilt by `maker` (0: the class itself) with its constructors skipped
//       (privates.js), then its properties and each holder class's private field values written in.
//       props is as in 'O', or [0, key, value, …] when plain assignment restores them.
//   ['q', node, …, last]  decode the nodes in order, the value is the last one's.
//   ['X', functionNode, [value, …]]  a class and the values of its static private fields.
//   ['Z', level, node]  the node, then made non-extensible (1), sealed (2) or frozen (3).
//   ['BD', target, thisArg, [arg, …], key, value, …]  a bound function: target.bind(thisArg, …args),
//       with its own properties.
//   ['AT', source, thisObject, key, value, …]  an arrow function made by a class field
//       initializer, made again with the same `this` (classes.js), with its own properties.
//   ['MR', class, key, 'p' | 's']  the method `key` of a class's prototype ('p') or the class ('s').
//
// Added in format 3 (file.js: the bytes of buffers are raw sections of the file, out of the JSON):
//
//   section: the index of the buffer's bytes in the file's section table (ArrayBuffer and Buffer
//       nodes above, and 'SB'). An ArrayBuffer that was detached (transferred) has null instead.
//   ['SB', link, section]  a SharedArrayBuffer (its contents: no other thread shares it any more).
//   ['BV', buffer, byteOffset, length]  a Buffer that views an ArrayBuffer the graph carries (the
//       whole of one, or one another saved value also reaches, in either order: state.js encodes
//       again with `shareBuffers` then), so that it still shares that memory after the restore;
//       other Buffers (slices of Node's pool, say) are 'BF' nodes with their own bytes.
//
// `link` says where the object's prototype comes from: 0 the usual one for its kind, null none,
// an encoded constructor (the prototype is its `.prototype`: class instances), or ['P', object].
//
// Shapes: every 'o' node with at least two keys defines the next shape (its key list, numbered in
// order of appearance); a later object with exactly those keys is written as an 's' node with the
// shape's number and its values only. Arrays of records, the usual bulk of a snapshot, then carry
// their keys once instead of once per record.
//
// Every object, function and unique symbol gets an id: its position in the order of first
// encounter, depth first. Ids are not written; the decoder counts the same way. That makes one rule
// essential: whatever can make a value uncarriable is checked *before* it gets an id, so an id is
// never taken by something that is then left out.

const { types } = require('util');
const vm = require('vm');
const { PrivateRegistry } = require('./privates');
const { KIND_ARRAY_BUFFER, KIND_BUFFER, KIND_SHARED } = require('./file');
const { Stream } = require('stream');
const EventEmitter = require('events');

const UNDEFINED = ['u'];
const HOLE = ['_'];
const UNCARRIED = Symbol('uncarried');
const SUPER_PARAM = '__codecell_super__';
const fnToString = Function.prototype.toString;
const NATIVE_SOURCE = /\{\s*\[native code\]\s*\}\s*$/;
const IDENTIFIER = /^[$_\p{ID_Start}][$\u200c\u200d\p{ID_Continue}]*$/u;
const TIMER_CLASSES = timerClasses();
// Read through the built-in getters: a subclass may override `size`.
const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, 'size').get;
const setSize = Object.getOwnPropertyDescriptor(Set.prototype, 'size').get;
const TYPED_ARRAY_PROTOTYPE = Object.getPrototypeOf(Uint8Array.prototype);
const typedTag = getter(TYPED_ARRAY_PROTOTYPE, Symbol.toStringTag);
const typedBuffer = getter(TYPED_ARRAY_PROTOTYPE, 'buffer');
const typedByteOffset = getter(TYPED_ARRAY_PROTOTYPE, 'byteOffset');
const typedByteLength = getter(TYPED_ARRAY_PROTOTYPE, 'byteLength');
const typedLength = getter(TYPED_ARRAY_PROTOTYPE, 'length');
const dataViewBuffer = getter(DataView.prototype, 'buffer');
const dataViewByteOffset = getter(DataView.prototype, 'byteOffset');
const dataViewByteLength = getter(DataView.prototype, 'byteLength');
const arrayBufferByteLength = getter(ArrayBuffer.prototype, 'byteLength');
const sharedByteLength = getter(SharedArrayBuffer.prototype, 'byteLength');
// Resizable and growable buffers (Node 20 on): absent in Node 18, where every buffer is fixed.
const arrayBufferResizable = getter(ArrayBuffer.prototype, 'resizable');
const arrayBufferMaxByteLength = getter(ArrayBuffer.prototype, 'maxByteLength');
const sharedGrowable = getter(SharedArrayBuffer.prototype, 'growable');
const sharedMaxByteLength = getter(SharedArrayBuffer.prototype, 'maxByteLength');

const PROPERTY = 0;
const INDEX = 1;
const LABEL = 2;

function getter(prototype, key) {
  const descriptor = Object.getOwnPropertyDescriptor(prototype, key);
  return descriptor ? descriptor.get : undefined;
}

/** Whether an ArrayBuffer was detached (transferred away): only a zero-length one can be. */
function isDetached(buffer) {
  if (arrayBufferByteLength.call(buffer) !== 0) return false;
  try {
    new Uint8Array(buffer);
    return false;
  } catch {
    return true;
  }
}

/** The byte length of an ArrayBuffer or SharedArrayBuffer, read through the built-in getters. */
function bufferByteLength(buffer) {
  return types.isSharedArrayBuffer(buffer) ? sharedByteLength.call(buffer) : arrayBufferByteLength.call(buffer);
}

/** The maxByteLength of a resizable ArrayBuffer or growable SharedArrayBuffer, else null. */
function maxByteLengthOf(buffer, shared) {
  const flexible = shared ? sharedGrowable : arrayBufferResizable;
  if (flexible === undefined || !flexible.call(buffer)) return null;
  return (shared ? sharedMaxByteLength : arrayBufferMaxByteLength).call(buffer);
}

function timerClasses() {
  const timeout = setTimeout(() => {}, 0);
  clearTimeout(timeout);
  const immediate = setImmediate(() => {});
  clearImmediate(immediate);
  return [timeout.constructor, immediate.constructor];
}

/** Why an object that is not plain data cannot be carried, or null. */
function blocker(value) {
  if (types.isPromise(value)) return 'promises cannot be carried: await it and keep the result instead';
  if (types.isWeakMap(value) || types.isWeakSet(value) || value instanceof WeakRef || value instanceof FinalizationRegistry) {
    return 'weak collections and references cannot be carried';
  }
  if (types.isGeneratorObject(value)) return "a generator's paused state cannot be carried";
  if (types.isModuleNamespaceObject(value)) return 'module namespaces cannot be carried: import the module again';
  if (types.isExternal(value)) return 'native memory and handles cannot be carried';
  if (TIMER_CLASSES.some((Timer) => value instanceof Timer)) return 'timers do not survive the run';
  if (value instanceof Stream) return 'streams (files, sockets, pipes) do not survive the run';
  if (value instanceof EventEmitter && value._handle) {
    return 'it holds an operating-system handle (socket, server, watcher or process), which does not survive the run';
  }
  return null;
}

/** Values JSON holds exactly as they are: the fast path for the bulk of any data. */
function isRaw(value) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true;
    case 'number':
      return value === value && value !== Infinity && value !== -Infinity && (value !== 0 || 1 / value > 0);
    default:
      return value === null;
  }
}

function typeName(value) {
  if (value === null) return 'null';
  if (typeof value === 'function') return /^class\b/.test(safeSource(value)) ? 'class' : 'function';
  if (typeof value !== 'object') return typeof value;
  try {
    if (types.isProxy(value)) return 'Proxy';
    const tag = Object.prototype.toString.call(value).slice(8, -1);
    const constructor = Object.getPrototypeOf(value)?.constructor;
    return typeof constructor === 'function' && constructor.name ? constructor.name : tag;
  } catch {
    return 'object';
  }
}

function safeSource(fn) {
  try {
    return fnToString.call(fn);
  } catch {
    return '';
  }
}

function formatSegment(key, kind) {
  if (kind === INDEX) return `[${key}]`;
  if (kind === LABEL) return key;
  return IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`;
}

/** The constructor whose `.prototype` is `proto`, when that link is intact. */
function constructorOf(proto) {
  const descriptor = Object.getOwnPropertyDescriptor(proto, 'constructor');
  const constructor = descriptor && descriptor.value;
  return typeof constructor === 'function' && constructor.prototype === proto ? constructor : null;
}

function ownPrototypeObject(fn) {
  const descriptor = Object.getOwnPropertyDescriptor(fn, 'prototype');
  return descriptor && descriptor.value !== null && typeof descriptor.value === 'object' ? descriptor.value : null;
}

function ownString(object, key) {
  const descriptor = Object.getOwnPropertyDescriptor(object, key);
  return descriptor && typeof descriptor.value === 'string' ? descriptor.value : null;
}

class GraphEncoder {
  /**
   * @param {{ intrinsics: Map<unknown, string>, modules: import('./known').ModuleLog,
   *           provenance: import('./provenance').SourceProvenance,
   *           privates?: import('./privates').PrivateRegistry, binds?: { lookup: Function } }} known
   */
  constructor({ intrinsics, modules, provenance, privates, binds, shareBuffers }) {
    this.intrinsics = intrinsics;
    this.modules = modules;
    this.provenance = provenance;
    this.privates = privates || new PrivateRegistry();
    this.binds = binds || { lookup: () => undefined };
    this.building = new Set(); // bound functions being encoded (see encodeBound)
    this.compiled = new Map(); // function source → why it would not evaluate again, or null
    this.chainPlans = new Map(); // class → classChainPlan
    this.ids = new Map();
    this.registered = [];
    this.failures = [];
    this.verdicts = new Map();
    this.shapes = new Map();
    this.lastKeys = null;
    this.lastShape = -1;
    // The bytes of the buffers met so far, views of their memory (not copies): file.js writes them.
    this.sections = [];
    // ArrayBuffers whose Buffers must be 'BV' views (a second pass knows them: buffersToShare).
    this.shareBuffers = shareBuffers || new Set();
    this.ownBytes = new Map(); // ArrayBuffer → [start, end) of each Buffer written with its own bytes
  }

  /**
   * The ArrayBuffers that some 'BF' Buffer shares with another value the graph holds: reached
   * elsewhere (met after the Buffer), or by another 'BF' Buffer over the same bytes. Non-empty
   * means the graph must be encoded again with these as `shareBuffers`.
   * @returns {Set<ArrayBuffer | SharedArrayBuffer>}
   */
  buffersToShare() {
    const share = new Set();
    for (const [buffer, ranges] of this.ownBytes) {
      if (this.ids.has(buffer) || overlaps(ranges)) share.add(buffer);
    }
    return share;
  }

  /**
   * Encodes the value of one top-level binding. Parts that cannot be carried become undefined and
   * are listed in `failures` with their path; if the value as a whole cannot be carried, or reading
   * it throws (a getter), nothing of it is kept.
   * @returns {{ carried: boolean, encoded?: unknown, failures: {path: string, type: string, reason: string}[] }}
   */
  encodeBinding(value) {
    const mark = { ids: this.registered.length, shapes: this.shapes.size, sections: this.sections.length };
    this.failures = [];
    let encoded;
    try {
      encoded = this.encode(value);
    } catch (err) {
      this.forget(mark);
      const reason = err instanceof RangeError && /call stack/i.test(err.message)
        ? 'it is nested too deeply to be saved'
        : `reading it threw ${describeError(err)}`;
      return { carried: false, failures: [{ path: '', type: typeName(value), reason }] };
    }
    const failures = this.failures.map((failure) => ({ path: failure.segments.join(''), type: failure.type, reason: failure.reason }));
    if (encoded !== UNCARRIED && failures.length > 0 && this.isModuleInstance(value)) {
      // Node's and modules' objects rely on their internals (an http.Server without its listeners
      // fails inside Node at its first request): one that lost a part is not carried at all.
      this.forget(mark);
      const [first] = failures;
      const reason = `it is an object of Node.js or a module that cannot be carried in part (${first.path}: ${first.reason}); make it again in the next cell`;
      return { carried: false, failures: [{ path: '', type: typeName(value), reason }] };
    }
    return encoded === UNCARRIED ? { carried: false, failures } : { carried: true, encoded, failures };
  }

  /** Drops the ids, shapes and sections given out since the mark: the decoder never sees those nodes. */
  forget(mark) {
    for (let i = mark.ids; i < this.registered.length; i++) this.ids.delete(this.registered[i]);
    this.registered.length = mark.ids;
    for (const [signature, shape] of this.shapes) if (shape >= mark.shapes) this.shapes.delete(signature);
    this.sections.length = mark.sections;
    this.lastKeys = null;
    this.lastShape = -1;
  }

  /** Whether `value` is an instance of a class that Node.js or a required module defined. */
  isModuleInstance(value) {
    if (value === null || typeof value !== 'object') return false;
    const proto = Object.getPrototypeOf(value);
    const constructor = proto === null ? null : constructorOf(proto);
    return constructor !== null && this.modules.lookup(constructor) !== undefined;
  }

  register(value) {
    this.ids.set(value, this.registered.length);
    this.registered.push(value);
  }

  fail(type, reason) {
    this.failures.push({ segments: [], type, reason });
    return UNCARRIED;
  }

  /** Encodes a value that sits inside another; an uncarriable one becomes undefined. */
  child(value, key, kind) {
    const before = this.failures.length;
    const encoded = this.encode(value);
    if (this.failures.length !== before) {
      const segment = formatSegment(key, kind);
      for (let i = before; i < this.failures.length; i++) this.failures[i].segments.unshift(segment);
    }
    return encoded === UNCARRIED ? UNDEFINED : encoded;
  }

  encode(value) {
    switch (typeof value) {
      case 'string':
      case 'boolean':
        return value;
      case 'number':
        if (value !== value || value === Infinity || value === -Infinity) return ['n', String(value)];
        return value === 0 && 1 / value < 0 ? ['n', '-0'] : value;
      case 'undefined':
        return UNDEFINED;
      case 'bigint':
        return ['b', value.toString()];
      case 'symbol':
        return this.encodeSymbol(value);
      default:
        return value === null ? null : this.encodeObject(value);
    }
  }

  encodeSymbol(symbol) {
    const path = this.intrinsics.get(symbol);
    if (path !== undefined) return ['g', path];
    const key = Symbol.keyFor(symbol);
    if (key !== undefined) return ['y', key, 1];
    const id = this.ids.get(symbol);
    if (id !== undefined) return ['r', id];
    this.register(symbol);
    return ['y', symbol.description === undefined ? null : symbol.description, 0];
  }

  encodeObject(value) {
    const id = this.ids.get(value);
    if (id !== undefined) {
      if (this.building.has(value)) {
        return this.fail('function', 'a bound function whose bound this or arguments lead back to itself cannot be carried there');
      }
      return ['r', id];
    }
    const path = this.intrinsics.get(value);
    if (path !== undefined) return ['g', path];
    const moduleRef = this.modules.lookup(value);
    if (moduleRef !== undefined) return ['m', moduleRef[0], moduleRef[1]];
    if (types.isProxy(value)) return this.fail('Proxy', 'proxies cannot be carried');
    const encoded = this.encodeKind(value);
    // Frozen, sealed or non-extensible objects stay so (checked last: most objects are extensible).
    if (encoded === UNCARRIED || encoded[0] === 'q' || Object.isExtensible(value)) return encoded;
    return ['Z', Object.isFrozen(value) ? 3 : Object.isSealed(value) ? 2 : 1, encoded];
  }

  encodeKind(value) {
    if (typeof value === 'function') {
      const bound = this.binds.lookup(value);
      if (bound !== undefined) return this.encodeBound(value, bound);
      const owner = this.privates.arrowOwner(value);
      if (owner !== undefined && this.closesOverThisOnly(value)) return this.encodeArrowField(value, owner);
      return this.encodeFunction(value);
    }

    const proto = Object.getPrototypeOf(value);
    // Plain data first: it is what snapshots are mostly made of.
    if (proto === Object.prototype) return this.encodeOrdinary(value, 0);
    if (Array.isArray(value)) return this.encodeArray(value, proto);

    // Built-in data kinds next: their internal slot settles what they are, so none of them can be
    // a promise, stream or other live object.
    if (types.isDate(value)) return this.encodeDate(value, proto);
    if (types.isMap(value)) return this.encodeMap(value, proto);
    if (types.isSet(value)) return this.encodeSet(value, proto);
    if (types.isRegExp(value)) return this.encodeRegExp(value, proto);
    if (types.isNativeError(value)) return this.encodeError(value, proto);
    if (Buffer.isBuffer(value)) return this.encodeBuffer(value);
    if (types.isArrayBuffer(value)) return this.encodeArrayBuffer(value, proto);
    if (types.isSharedArrayBuffer(value)) return this.encodeSharedArrayBuffer(value, proto);
    if (types.isTypedArray(value)) return this.encodeTypedArray(value, proto);
    if (types.isDataView(value)) return this.encodeDataView(value, proto);
    const reason = blocker(value);
    if (reason !== null) return this.fail(typeName(value), reason);
    if (value instanceof Error) return this.encodeError(value, proto);
    return this.encodeOrdinary(value, proto);
  }

  // ----- prototypes -------------------------------------------------------------------------

  /**
   * Decides, before the object gets an id, how its prototype will be restored.
   * @returns {{ fail?: string, link?: 0 | null, ctor?: Function, proto?: object }}
   */
  planLink(value, proto, usual) {
    if (proto === usual) return { link: 0 };
    if (proto === null) return { link: null };
    const constructor = constructorOf(proto);
    if (constructor === null) return { proto };
    if (constructor !== Object && this.intrinsics.has(constructor) && usual === Object.prototype) {
      return { fail: `objects of the built-in type ${constructor.name} cannot be carried` };
    }
    const verdict = this.functionVerdict(constructor);
    if (verdict !== null) return { fail: `its class cannot be carried: ${verdict}` };
    const privates = this.planPrivates(value, constructor);
    if (privates.fail) return { fail: privates.fail };
    if (privates.maker) {
      if (usual !== Object.prototype && usual !== Error.prototype) {
        return { fail: `its class ${className(constructor)} has private (#) members and extends a built-in type, which the runner cannot rebuild` };
      }
      return { ctor: constructor, maker: privates.maker, holders: privates.holders };
    }
    return { ctor: constructor };
  }

  /**
   * For an instance of a class chain with private (#) members: which class rebuilds it (the most
   * derived one whose brand it has) and which classes hold private fields to write back in.
   * @returns {{ fail?: string, maker?: Function, holders?: Function[] }}
   */
  planPrivates(value, constructor) {
    const plan = this.classChainPlan(constructor);
    if (plan.fail) return { fail: plan.fail };
    let maker = null;
    const holders = [];
    for (const { cls, record, skipFailure } of plan.branded) {
      if (!safeCall(record.has, value)) continue;
      if (maker === null) {
        if (skipFailure !== null) return { fail: skipFailure };
        maker = cls;
      }
      if (record.fields.length > 0) holders.push(cls);
    }
    return maker === null ? {} : { maker, holders };
  }

  /**
   * What planPrivates needs to know about a class chain, once per class (arrays of instances are
   * common): its classes with private members and a brand, each with the reason its instances
   * could not be rebuilt (a constructor above it that cannot skip itself), or null.
   */
  classChainPlan(constructor) {
    let plan = this.chainPlans.get(constructor);
    if (plan !== undefined) return plan;
    const chain = [];
    for (let cls = constructor; typeof cls === 'function' && this.isCellFunction(cls); cls = Object.getPrototypeOf(cls)) chain.push(cls);
    plan = { fail: null, branded: [] };
    const root = chain.length > 0 ? Object.getPrototypeOf(chain[chain.length - 1]) : null;
    const rootFailure = root === null || root === Function.prototype || this.intrinsics.has(root)
      ? null
      : `its class extends ${className(root)}, which is not from a cell: its private (#) members cannot be rebuilt without running that constructor`;
    // Walking up from the root: the first constructor that cannot skip itself, at or above each class.
    let skipFailure = rootFailure;
    const failures = new Array(chain.length);
    for (let i = chain.length - 1; i >= 0; i--) {
      const info = this.classInfoOf(chain[i]);
      if (info.hasConstructor && !info.constructorSkips) {
        skipFailure = `the constructor of class ${className(chain[i])} was not prepared by the runner, so its instances with private (#) members cannot be rebuilt`;
      }
      failures[i] = skipFailure;
    }
    for (let i = 0; i < chain.length; i++) {
      const cls = chain[i];
      const record = this.privates.record(cls);
      if (record === undefined) {
        if (this.classInfoOf(cls).hasPrivate) {
          plan.fail = `class ${className(cls)} has private (#) members, but it was not defined by a cell the runner prepared ` +
            '(eval, new Function, or a snapshot of an older runner), so they cannot be read';
          break;
        }
      } else if (record.has !== null) {
        plan.branded.push({ cls, record, skipFailure: failures[i] });
      }
    }
    this.chainPlans.set(constructor, plan);
    return plan;
  }

  isCellFunction(fn) {
    return !this.intrinsics.has(fn) && this.modules.lookup(fn) === undefined && /^class\b/.test(safeSource(fn));
  }

  classInfoOf(cls) {
    try {
      return this.provenance.classInfo(safeSource(cls));
    } catch {
      return { superClass: null, hasPrivate: false, hasConstructor: false, constructorSkips: false };
    }
  }

  /** An instance with private (#) members (format note 'I'). */
  encodeInstance(value, plan) {
    // The classes come first: the decoder needs them to make the object at all.
    const ctor = this.child(plan.ctor, ' (its class)', LABEL);
    const maker = plan.maker === plan.ctor ? 0 : this.child(plan.maker, ' (its class)', LABEL);
    const id = this.ids.get(value);
    if (id !== undefined) return ['q', ctor, maker, ['r', id]]; // a static of its class holds it
    this.register(value);
    const keys = Object.keys(value);
    let props;
    if (this.needsDescriptors(value, keys)) {
      props = this.encodeDescribed(value);
    } else {
      props = [0];
      for (const key of keys) props.push(key, this.child(value[key], key, PROPERTY));
    }
    const privates = [];
    for (const cls of plan.holders) {
      const record = this.privates.record(cls);
      const values = record.get(value);
      privates.push(
        this.child(cls, ' (its class)', LABEL),
        values.map((item, i) => this.child(item, `.#${record.fields[i]}`, LABEL)),
      );
    }
    return ['I', ctor, maker, props, privates];
  }

  /** Whether an object has properties a plain key/value list would lose (format note 'O'). */
  needsDescriptors(value, keys) {
    // Names and symbols apart: measurably cheaper than Reflect.ownKeys on bulk records.
    if (Object.getOwnPropertyNames(value).length !== keys.length || Object.getOwnPropertySymbols(value).length !== 0) return true;
    for (const key of keys) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (!descriptor || !descriptor.writable || !descriptor.configurable) return true; // accessors have no `writable`
    }
    return false;
  }

  encodeDescribed(value) {
    const out = [];
    for (const key of Reflect.ownKeys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key);
      if (!descriptor) continue;
      const isString = typeof key === 'string';
      const label = isString ? formatSegment(key, PROPERTY) : `[${String(key)}]`;
      const accessor = !('value' in descriptor);
      const attributes = (descriptor.enumerable ? 1 : 0) | (descriptor.configurable ? 2 : 0) | (descriptor.writable ? 4 : 0) | (accessor ? 8 : 0);
      out.push(isString ? key : this.encodeSymbol(key), attributes);
      if (accessor) {
        out.push(
          descriptor.get === undefined ? UNDEFINED : this.child(descriptor.get, `${label} (getter)`, LABEL),
          descriptor.set === undefined ? UNDEFINED : this.child(descriptor.set, `${label} (setter)`, LABEL),
        );
      } else {
        out.push(isRaw(descriptor.value) ? descriptor.value : this.child(descriptor.value, label, LABEL));
      }
    }
    return out;
  }

  encodeLink(plan) {
    if (plan.ctor) return this.child(plan.ctor, ' (its class)', LABEL);
    if (plan.proto) {
      const encoded = this.child(plan.proto, ' (its prototype)', LABEL);
      return encoded === UNDEFINED ? 0 : ['P', encoded];
    }
    return plan.link;
  }

  // ----- functions and classes ----------------------------------------------------------------

  /** Why a function cannot be carried (null when it can). Decided without giving out any id. */
  functionVerdict(fn) {
    if (this.ids.has(fn) || this.intrinsics.has(fn) || this.modules.lookup(fn) !== undefined) return null;
    let verdict = this.verdicts.get(fn);
    if (verdict === undefined) {
      verdict = this.judgeFunction(fn);
      this.verdicts.set(fn, verdict);
    }
    return verdict;
  }

  judgeFunction(fn) {
    const source = safeSource(fn);
    const name = ownString(fn, 'name') || '(anonymous)';
    if (NATIVE_SOURCE.test(source)) {
      return name.startsWith('bound ')
        ? 'bound functions cannot be carried: bind it again in the next cell'
        : `the built-in function ${name} cannot be carried`;
    }
    if (!this.provenance.isFromCell(source)) {
      return `${name} was defined by Node.js or a module, not in a cell, so its source cannot be carried`;
    }
    const captured = this.provenance.capturedNames(source);
    if (captured.length > 0) {
      const what = captured.map((item) => (/^(this|arguments|super|new\.target)$/.test(item) ? `\`${item}\`` : item)).join(', ');
      return `it closes over ${what} of the function or block it was made in, which the snapshot cannot carry: ` +
        'keep the state it needs in top-level variables, or make it again in the next cell';
    }
    if (/^class\b/.test(source)) {
      let info;
      try {
        info = this.provenance.classInfo(source);
      } catch (err) {
        return `the source of class ${name} could not be parsed (${describeError(err)})`;
      }
      if (info.superClass) {
        const parent = Object.getPrototypeOf(fn);
        const parentVerdict = typeof parent === 'function' ? this.functionVerdict(parent) : 'it extends something that is not a class';
        if (parentVerdict !== null) return `its parent class cannot be carried (${parentVerdict})`;
      }
    }
    return null;
  }

  encodeFunction(fn) {
    const verdict = this.functionVerdict(fn);
    if (verdict !== null) return this.fail(typeName(fn), verdict);

    let source = fnToString.call(fn);
    let superParam = null;
    if (/^class\b/.test(source)) {
      const { superClass } = this.provenance.classInfo(source);
      if (superClass) {
        // `extends Base` is evaluated when the class is: the restored class gets its parent through
        // a parameter of that name (or a placeholder when the clause is not a plain name).
        superParam = superClass.name || SUPER_PARAM;
        if (!superClass.name) source = source.slice(0, superClass.start) + SUPER_PARAM + source.slice(superClass.end);
      }
    }

    const compileError = this.compileCheck(source, superParam);
    if (compileError !== null) return this.fail(typeName(fn), compileError);

    this.register(fn);
    const prototype = ownPrototypeObject(fn);
    let prototypeField = 0;
    if (prototype !== null) {
      const prototypeId = this.ids.get(prototype);
      if (prototypeId !== undefined) {
        prototypeField = ['r', prototypeId];
      } else {
        this.register(prototype);
        prototypeField = 1;
      }
    }
    const superValue = superParam === null ? 0 : this.child(Object.getPrototypeOf(fn), ' (its parent class)', LABEL);
    const out = ['F', source, ownString(fn, 'name'), superParam, superValue, prototypeField, 0];
    let count = 0;
    for (const key of Object.keys(fn)) {
      const before = this.failures.length;
      const encoded = this.child(fn[key], key, PROPERTY);
      // Left out when it could not be carried at all: a class's static initializer then gives it
      // a fresh value again (it is still named), instead of undefined.
      if (encoded === UNDEFINED && this.failures.length > before) continue;
      out.push(key, encoded);
      count++;
    }
    out[6] = count;
    if (prototypeField === 1) {
      // Methods added later (`F.prototype.m = …`); class methods are in the source already.
      for (const key of Object.keys(prototype)) {
        if (key !== 'constructor') out.push(key, this.child(prototype[key], `.prototype${formatSegment(key, PROPERTY)}`, LABEL));
      }
    }
    const record = this.privates.record(fn);
    if (record !== undefined && record.staticFields.length > 0) {
      const values = record.getStatic();
      return ['X', out, values.map((item, i) => this.child(item, `.#${record.staticFields[i]}`, LABEL))];
    }
    return out;
  }

  /**
   * A test restore, as far as it is cheap: the source must compile the way decode.js will evaluate
   * it (a method that uses private names of its class, on its own, does not).
   * @returns {string | null} why not
   */
  compileCheck(source, superParam) {
    const key = `${superParam}\u0000${source}`;
    let verdict = this.compiled.get(key);
    if (verdict !== undefined) return verdict;
    verdict = null;
    if (superParam !== null) {
      verdict = compileError(`(function (${superParam}) { return (${source}\n); })`);
    } else if (compileError(`(${source}\n)`) !== null) {
      // Method shorthand (`area() {…}`, `get size() {…}`) is only valid inside an object literal.
      const inLiteral = compileError(`({${source}\n})`);
      if (inLiteral !== null) verdict = `its source does not compile on its own (${inLiteral}), so it cannot be made again`;
    }
    this.compiled.set(key, verdict);
    return verdict;
  }

  /**
   * Where `fn` is a method of a carried class that `owner` (an instance, or the class for a static
   * method) reaches through its prototype chain.
   * @returns {{ cls: Function, key: string | symbol, kind: 'p' | 's' } | null}
   */
  findMethod(fn, owner) {
    if (typeof fn !== 'function' || owner === null || (typeof owner !== 'object' && typeof owner !== 'function')) return null;
    try {
      for (let o = owner, depth = 0; o !== null && depth < 50; o = Object.getPrototypeOf(o), depth++) {
        if (this.intrinsics.has(o)) return null;
        const cls = typeof o === 'function' ? o : constructorOf(o);
        if (cls === null || !this.isCellFunction(cls) || this.functionVerdict(cls) !== null) continue;
        for (const key of Reflect.ownKeys(o)) {
          const descriptor = Object.getOwnPropertyDescriptor(o, key);
          if (descriptor && descriptor.value === fn) return { cls, key, kind: typeof o === 'function' ? 's' : 'p' };
        }
      }
    } catch {
      // A proxy in the chain: no method found.
    }
    return null;
  }

  closesOverThisOnly(fn) {
    const source = safeSource(fn);
    const captured = this.provenance.capturedNames(source);
    return captured.length === 1 && captured[0] === 'this' && this.provenance.isFromCell(source);
  }

  /** An arrow function field that uses `this` (format note 'AT'): made again for its object. */
  encodeArrowField(fn, owner) {
    const source = fnToString.call(fn);
    const compileError = this.compileCheck(source, null);
    if (compileError !== null) return this.fail(typeName(fn), compileError);
    // Its object first, as for 'I': the decoder needs it to make the arrow.
    const ownerNode = this.child(owner, ' (its this)', LABEL);
    const id = this.ids.get(fn);
    if (id !== undefined) return ['q', ownerNode, ['r', id]];
    if (ownerNode === UNDEFINED) return this.fail(typeName(fn), 'it uses `this`, the object it was made for, which cannot be carried');
    this.register(fn);
    const out = ['AT', source, ownerNode];
    for (const key of Object.keys(fn)) out.push(key, this.child(fn[key], key, PROPERTY));
    return out;
  }

  /** A bound function (format note 'BD'): its target, bound this and arguments. */
  encodeBound(fn, { target, thisArg, args }) {
    // `obj.method.bind(obj)`: the method is taken from its class again (its source alone may not
    // compile: private names), which also keeps it the same function as the class's.
    const method = this.findMethod(target, thisArg);
    if (method === null && typeof target === 'function' && this.binds.lookup(target) === undefined) {
      const verdict = this.functionVerdict(target);
      if (verdict !== null) return this.fail(typeName(fn), `the function it binds cannot be carried: ${verdict}`);
    }
    this.register(fn);
    this.building.add(fn);
    let out;
    try {
      const targetNode = method === null
        ? this.child(target, ' (its target)', LABEL)
        : ['MR', this.child(method.cls, ' (its class)', LABEL), typeof method.key === 'string' ? method.key : this.encodeSymbol(method.key), method.kind];
      const thisNode = this.child(thisArg, ' (its bound this)', LABEL);
      out = ['BD', targetNode, thisNode, args.map((arg, i) => this.child(arg, ` (bound argument ${i + 1})`, LABEL))];
    } finally {
      this.building.delete(fn);
    }
    for (const key of Object.keys(fn)) out.push(key, this.child(fn[key], key, PROPERTY));
    return out;
  }

  // ----- objects ------------------------------------------------------------------------------

  encodeOrdinary(value, proto) {
    let plan = null;
    if (proto !== 0) {
      const reason = blocker(value);
      if (reason !== null) return this.fail(typeName(value), reason);
      plan = this.planLink(value, proto, Object.prototype);
      if (plan.fail) return this.fail(typeName(value), plan.fail);
      if (plan.maker) return this.encodeInstance(value, plan);
    }
    this.register(value);
    const link = plan === null ? 0 : this.encodeLink(plan);
    const keys = Object.keys(value);
    if (this.needsDescriptors(value, keys)) return ['O', link, this.encodeDescribed(value)];
    const shape = this.shapeOf(keys);
    // Sized up front: growing tens of thousands of small arrays one push at a time shows up.
    let out;
    if (shape >= 0) {
      out = new Array(3 + keys.length);
      out[0] = 's';
      out[1] = link;
      out[2] = shape;
      for (let i = 0; i < keys.length; i++) {
        const item = value[keys[i]];
        out[i + 3] = isRaw(item) ? item : this.child(item, keys[i], PROPERTY);
      }
      return out;
    }
    out = new Array(2 + 2 * keys.length);
    out[0] = 'o';
    out[1] = link;
    for (let i = 0, at = 2; i < keys.length; i++, at += 2) {
      const key = keys[i];
      const item = value[key];
      out[at] = key;
      out[at + 1] = isRaw(item) ? item : this.child(item, key, PROPERTY);
    }
    return out;
  }

  /** The number of an earlier shape with exactly these keys, or -1 (and then this one is new). */
  shapeOf(keys) {
    if (keys.length < 2) return -1;
    const last = this.lastKeys;
    if (last !== null && last.length === keys.length) {
      let same = true;
      for (let i = 0; i < keys.length; i++) {
        if (last[i] !== keys[i]) {
          same = false;
          break;
        }
      }
      if (same) return this.lastShape;
    }
    // Length-prefixed, so no two different key lists can give the same string.
    let signature = '';
    for (const key of keys) signature += `${key.length}:${key}`;
    let shape = this.shapes.get(signature);
    const known = shape !== undefined;
    if (!known) {
      shape = this.shapes.size;
      this.shapes.set(signature, shape);
    }
    this.lastKeys = keys;
    this.lastShape = shape;
    return known ? shape : -1;
  }

  encodeArray(value, proto) {
    let link = 0;
    if (proto !== Array.prototype) {
      const plan = this.planLink(value, proto, Array.prototype);
      if (plan.fail) return this.fail(typeName(value), plan.fail);
      this.register(value);
      link = this.encodeLink(plan);
    } else {
      this.register(value);
    }
    const length = value.length;
    const out = new Array(length + 2);
    out[0] = 'a';
    out[1] = link;
    for (let i = 0; i < length; i++) {
      const item = value[i];
      if (isRaw(item)) out[i + 2] = item;
      else if (item === undefined && !(i in value)) out[i + 2] = HOLE;
      else out[i + 2] = this.child(item, i, INDEX);
    }
    return out;
  }

  /** For the kinds with internal data: plan the prototype, take the id, then encode the link. */
  begin(value, proto, usual) {
    const plan = this.planLink(value, proto, usual);
    if (plan.fail) return { failed: this.fail(typeName(value), plan.fail) };
    this.register(value);
    return { link: this.encodeLink(plan) };
  }

  encodeDate(value, proto) {
    const { failed, link } = this.begin(value, proto, Date.prototype);
    if (failed) return failed;
    const time = Date.prototype.getTime.call(value);
    return ['D', link, Number.isNaN(time) ? null : time];
  }

  encodeRegExp(value, proto) {
    const { failed, link } = this.begin(value, proto, RegExp.prototype);
    if (failed) return failed;
    return ['R', link, value.source, value.flags, value.lastIndex];
  }

  encodeMap(value, proto) {
    const { failed, link } = this.begin(value, proto, Map.prototype);
    if (failed) return failed;
    const out = new Array(2 + 2 * mapSize.call(value));
    out[0] = 'M';
    out[1] = link;
    let at = 2;
    Map.prototype.forEach.call(value, (item, key) => {
      out[at++] = isRaw(key) ? key : this.child(key, '<Map key>', LABEL);
      out[at++] = isRaw(item) ? item : this.child(item, typeof key === 'string' ? `.get(${JSON.stringify(key)})` : '<Map value>', LABEL);
    });
    out.length = at;
    return out;
  }

  encodeSet(value, proto) {
    const { failed, link } = this.begin(value, proto, Set.prototype);
    if (failed) return failed;
    const out = new Array(2 + setSize.call(value));
    out[0] = 'S';
    out[1] = link;
    let at = 2;
    Set.prototype.forEach.call(value, (item) => {
      out[at++] = isRaw(item) ? item : this.child(item, '<Set item>', LABEL);
    });
    out.length = at;
    return out;
  }

  encodeError(value, proto) {
    const plan = this.planLink(value, proto, Error.prototype);
    if (plan.fail) return this.fail(typeName(value), plan.fail);
    // An error class with private members: rebuilt through its class, which makes a real error.
    if (plan.maker) return this.encodeInstance(value, plan);
    this.register(value);
    const link = this.encodeLink(plan);
    const message = ownString(value, 'message');
    const stack = typeof value.stack === 'string' ? value.stack : null;
    const out = ['E', link, message === null ? '' : message, stack];
    const keys = Object.keys(value);
    // Own but not enumerable, and worth keeping.
    for (const key of ['name', 'cause', 'errors']) {
      if (Object.prototype.hasOwnProperty.call(value, key) && !keys.includes(key)) keys.push(key);
    }
    for (const key of keys) out.push(key, this.child(value[key], key, PROPERTY));
    return out;
  }

  /** A section for the bytes of a buffer (format note "Added in format 3"): its index. */
  addSection(kind, bytes, maxByteLength) {
    this.sections.push({ kind, bytes, byteLength: bytes.byteLength, maxByteLength });
    return this.sections.length - 1;
  }

  encodeArrayBuffer(value, proto) {
    const { failed, link } = this.begin(value, proto, ArrayBuffer.prototype);
    if (failed) return failed;
    if (isDetached(value)) return ['AB', link, null];
    return ['AB', link, this.addSection(KIND_ARRAY_BUFFER, new Uint8Array(value), maxByteLengthOf(value, false))];
  }

  encodeSharedArrayBuffer(value, proto) {
    const { failed, link } = this.begin(value, proto, SharedArrayBuffer.prototype);
    if (failed) return failed;
    return ['SB', link, this.addSection(KIND_SHARED, new Uint8Array(value), maxByteLengthOf(value, true))];
  }

  encodeBuffer(value) {
    const buffer = typedBuffer.call(value);
    const byteOffset = typedByteOffset.call(value);
    const byteLength = typedByteLength.call(value);
    const proto = Object.getPrototypeOf(buffer);
    const wholePlainBuffer = byteOffset === 0 && byteLength === bufferByteLength(buffer) &&
      (proto === ArrayBuffer.prototype || proto === SharedArrayBuffer.prototype);
    this.register(value);
    if (this.ids.has(buffer) || wholePlainBuffer || this.shareBuffers.has(buffer)) {
      return ['BV', this.child(buffer, '.buffer', LABEL), byteOffset, byteLength];
    }
    const ranges = this.ownBytes.get(buffer);
    if (ranges === undefined) this.ownBytes.set(buffer, [[byteOffset, byteOffset + byteLength]]);
    else ranges.push([byteOffset, byteOffset + byteLength]);
    return ['BF', this.addSection(KIND_BUFFER, new Uint8Array(buffer, byteOffset, byteLength), null)];
  }

  encodeTypedArray(value, proto) {
    const type = typedTag.call(value);
    const { failed, link } = this.begin(value, proto, globalThis[type].prototype);
    if (failed) return failed;
    return ['TA', link, type, this.child(typedBuffer.call(value), '.buffer', LABEL), typedByteOffset.call(value), typedLength.call(value)];
  }

  encodeDataView(value, proto) {
    const { failed, link } = this.begin(value, proto, DataView.prototype);
    if (failed) return failed;
    const buffer = dataViewBuffer.call(value);
    // A DataView's offset and length cannot be read once its buffer is detached.
    const detached = types.isArrayBuffer(buffer) && isDetached(buffer);
    return [
      'DV', link, this.child(buffer, '.buffer', LABEL),
      detached ? 0 : dataViewByteOffset.call(value), detached ? 0 : dataViewByteLength.call(value),
    ];
  }
}

/** Whether any two of the [start, end) ranges share a byte. */
function overlaps(ranges) {
  if (ranges.length < 2) return false;
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < sorted.length; i++) if (sorted[i][0] < sorted[i - 1][1]) return true;
  return false;
}

function className(cls) {
  return ownString(cls, 'name') || '(anonymous)';
}

function safeCall(fn, value) {
  try {
    return Boolean(fn(value));
  } catch {
    return false;
  }
}

function compileError(code) {
  try {
    new vm.Script(code);
    return null;
  } catch (err) {
    return describeError(err);
  }
}

function describeError(err) {
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

module.exports = { GraphEncoder, SUPER_PARAM, describeError };
