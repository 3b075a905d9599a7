'use strict';
// The runner's side of the class rewrite in classes.js: every class with private (#) members
// registers accessors for them when it is defined (in a cell, or when a snapshot re-evaluates its
// source), and instances are rebuilt through the class itself while `restoring` is on, so that
// they get their private fields and brand without running the user's constructor code.

class PrivateRegistry {
  constructor() {
    this.records = new WeakMap();
    this.arrows = new WeakMap();
    this.depth = 0;
  }

  /** Called by an arrow function field's initializer (classes.js): notes the arrow's `this`. */
  arrow(owner, fn) {
    if (typeof fn === 'function') this.arrows.set(fn, owner);
    return fn;
  }

  /** The object an arrow function field was made for, if it was made by one. */
  arrowOwner(fn) {
    return this.arrows.get(fn);
  }

  /** Called by the static block classes.js adds to a class body. */
  register(cls, fields, get, set, has, staticFields, getStatic, setStatic) {
    if (typeof cls !== 'function') return;
    this.records.set(cls, { fields, get, set, has, staticFields, getStatic, setStatic });
  }

  /** @returns {{ fields: string[], get: Function, set: Function, has: Function | null,
   *   staticFields: string[], getStatic: Function, setStatic: Function } | undefined} */
  record(cls) {
    return this.records.get(cls);
  }

  get restoring() {
    return this.depth > 0;
  }

  /**
   * A new object whose prototype is `cls.prototype`, made by `maker` (cls or one of its parents)
   * with every constructor in between returning at once: it has the private fields (undefined)
   * and brands of `maker` and its parents, ready for the saved values.
   */
  construct(maker, cls) {
    this.depth++;
    try {
      return Reflect.construct(maker, [], cls);
    } finally {
      this.depth--;
    }
  }
}

module.exports = { PrivateRegistry };
