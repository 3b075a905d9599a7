'use strict';
// Which function sources the snapshot may carry. A function is saved as its source text and
// re-evaluated in the next container, which only gives back the same function if that text was
// written in a cell (or restored from one): Node's own JavaScript classes and functions also have
// source text, but it refers to internals that do not exist in global scope.

const acorn = require('acorn');
const { findCaptures } = require('./closures');
const { HELPER } = require('../cell');

class SourceProvenance {
  constructor() {
    this.cellTexts = [];
    this.restored = new Set();
    this.verdicts = new Map();
    this.classes = new Map();
    this.captures = new Map();
  }

  /** A script V8 ran for a cell (cell.js): its text, and what its functions close over. */
  addCellScript(text, asyncWrapped) {
    this.addCellText(text);
    for (const [source, names] of findCaptures(text, asyncWrapped) || []) this.noteCaptures(source, names);
  }

  /** Names a function or class with this source closes over that are not globals (closures.js). */
  capturedNames(source) {
    return this.captures.get(source) || [];
  }

  /** The cell's code and the scripts made from it (dynamic imports are rewritten in those). */
  addCellText(text) {
    this.cellTexts.push(text);
    this.verdicts.clear();
  }

  /**
   * A function or class restored from the snapshot, evaluated in global scope: what the functions
   * inside it close over (one made from it in a later cell is judged as one made in a cell).
   */
  addRestored(source, captured = []) {
    if (this.restored.has(source)) return;
    this.restored.add(source);
    if (captured.length > 0) this.noteCaptures(source, captured);
    // A named class is parsed as a declaration, so its methods find it as the global it is; method
    // shorthand only parses inside an object literal (as decode.js evaluates it).
    const wrappings = [`(${source}\n)`, `({${source}\n})`];
    if (/^class\s+[^\s{]/.test(source)) wrappings.unshift(`${source}\n`);
    for (const wrapped of wrappings) {
      const found = findCaptures(wrapped, false);
      if (found === null) continue;
      for (const [text, names] of found) this.noteCaptures(text, names);
      return;
    }
  }

  noteCaptures(source, names) {
    const previous = this.captures.get(source) || [];
    this.captures.set(source, [...new Set([...previous, ...names])]);
  }

  isFromCell(source) {
    let verdict = this.verdicts.get(source);
    if (verdict === undefined) {
      verdict =
        this.restored.has(source) ||
        // Made by `new Function(...)` in a cell: V8 gives those this fixed shape.
        source.startsWith('function anonymous(') ||
        this.cellTexts.some((text) => text.includes(source));
      this.verdicts.set(source, verdict);
    }
    return verdict;
  }

  /**
   * What the snapshot needs to know about a class: how to rebind its `extends` clause, whether it
   * has private (#) members (readable only through what classes.js adds), and whether its explicit
   * constructor, if any, skips itself while an instance is rebuilt (privates.js).
   * @returns {{ superClass: {start: number, end: number, name: string | null} | null, hasPrivate: boolean,
   *            hasConstructor: boolean, constructorSkips: boolean }}
   */
  classInfo(source) {
    let info = this.classes.get(source);
    if (info === undefined) {
      const node = acorn.parseExpressionAt(source, 0, { ecmaVersion: 'latest' });
      const superClass = node.superClass
        ? { start: node.superClass.start, end: node.superClass.end, name: node.superClass.type === 'Identifier' ? node.superClass.name : null }
        : null;
      const hasPrivate = node.body.body.some((member) => member.key && member.key.type === 'PrivateIdentifier');
      const constructor = node.body.body.find((member) => member.type === 'MethodDefinition' && member.kind === 'constructor');
      const first = constructor ? constructor.value.body.body[0] : undefined;
      // classes.js makes this the first statement of every constructor a cell defines.
      const constructorSkips = Boolean(first && source.slice(first.start, first.end).startsWith(`if (${HELPER}.restoring)`));
      info = { superClass, hasPrivate, hasConstructor: Boolean(constructor), constructorSkips };
      this.classes.set(source, info);
    }
    return info;
  }
}

module.exports = { SourceProvenance };
