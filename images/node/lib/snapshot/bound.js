'use strict';
// Bound functions hide their target, `this` and arguments from JavaScript. The runner wraps
// Function.prototype.bind at warm-up (a Proxy, so it still looks and behaves like the built-in) and
// keeps what each call bound, so the snapshot can carry a bound function as "bind this again".

/**
 * Replaces Function.prototype.bind with a recording proxy.
 * @returns {{ lookup: (fn: Function) => { target: Function, thisArg: unknown, args: unknown[] } | undefined,
 *             bind: Function }} lookup answers for functions bound since; bind is the proxy
 */
function recordBinds() {
  const bound = new WeakMap();
  const original = Function.prototype.bind;
  const bind = new Proxy(original, {
    apply(target, fn, args) {
      const result = Reflect.apply(target, fn, args);
      bound.set(result, { target: fn, thisArg: args[0], args: args.slice(1) });
      return result;
    },
  });
  Object.defineProperty(Function.prototype, 'bind', { value: bind, writable: true, enumerable: false, configurable: true });
  return { lookup: (fn) => bound.get(fn), bind };
}

module.exports = { recordBinds };
