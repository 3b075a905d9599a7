'use strict';
// The global scope the cells share: which names are the user's, reading their current values
// (including `let`/`const`/`class` bindings, which live in the script scope, not on globalThis),
// and defining restored values.

const vm = require('vm');

const IDENTIFIER = /^[$_\p{ID_Start}][$\u200c\u200d\p{ID_Continue}]*$/u;
const RESERVED = new Set(
  ('break case catch class const continue debugger default delete do else enum export extends false finally for ' +
    'function if import in instanceof new null return super switch this throw true try typeof var void while with').split(' '),
);

class GlobalScope {
  /** Takes the baseline: call after the runner has installed its own globals, before user code. */
  constructor(runnerNames) {
    this.runnerNames = new Set(runnerNames);
    this.baseline = new Set(Object.getOwnPropertyNames(globalThis));
  }

  /**
   * Restored values become configurable properties of globalThis: a later cell may still declare
   * the same name with let, const or class (only non-configurable globals forbid that).
   */
  define(name, value) {
    Object.defineProperty(globalThis, name, { value, writable: true, enumerable: true, configurable: true });
  }

  /** Globals that appeared since warm-up: plain assignments (`x = 1`), restored values, `var`s. */
  newGlobalNames() {
    return Object.getOwnPropertyNames(globalThis).filter((name) => !this.baseline.has(name));
  }

  /**
   * Reads the current value of each name as user code would see it. A name still in its temporal
   * dead zone (the cell threw before `let x = …` ran) falls back to the global property of the same
   * name, i.e. the value restored from an earlier cell, or is skipped.
   * @returns {({name: string, value: unknown} | {name: string, error: unknown})[]}
   */
  read(names) {
    names = names.filter((name) => !this.runnerNames.has(name));
    const byIdentifier = names.filter((name) => IDENTIFIER.test(name) && !RESERVED.has(name));
    const values = new Array(byIdentifier.length);
    const errors = new Array(byIdentifier.length);
    const ok = new Array(byIdentifier.length).fill(false);
    if (byIdentifier.length > 0) {
      // One arrow function for all names: it sees the script scope and globalThis as cells do.
      const body = byIdentifier
        .map((name, i) => `try { __codecell_values[${i}] = ${name}; __codecell_ok[${i}] = true; } catch (e) { __codecell_errors[${i}] = e; }`)
        .join('\n');
      const reader = vm.runInThisContext(`((__codecell_values, __codecell_errors, __codecell_ok) => {\n${body}\n})`, {
        filename: 'codecell-bindings',
      });
      reader(values, errors, ok);
    }

    const found = new Map();
    byIdentifier.forEach((name, i) => {
      if (ok[i]) found.set(name, { name, value: values[i] });
      else if (!(errors[i] instanceof ReferenceError)) found.set(name, { name, error: errors[i] });
      else {
        const global = readGlobalProperty(name);
        if (global) found.set(name, global);
      }
    });
    for (const name of names) {
      if (!found.has(name)) {
        const global = readGlobalProperty(name);
        if (global) found.set(name, global);
      }
    }
    return names.filter((name) => found.has(name)).map((name) => found.get(name));
  }
}

function readGlobalProperty(name) {
  if (!Object.prototype.hasOwnProperty.call(globalThis, name)) return null;
  try {
    return { name, value: globalThis[name] };
  } catch (error) {
    return { name, error };
  }
}

module.exports = { GlobalScope };
