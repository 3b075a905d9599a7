'use strict';
// Which function sources the snapshot may carry. A function is saved as its source text and
// re-evaluated in the next container, which only gives back the same function if that text was
// written in a cell (or restored from one): Node's own JavaScript classes and functions also have
// source text, but it refers to internals that do not exist in global scope.

const acorn = require('acorn');

class SourceProvenance {
  constructor() {
    this.cellTexts = [];
    this.restored = new Set();
    this.verdicts = new Map();
    this.classes = new Map();
  }

  /** The cell's code and the scripts made from it (dynamic imports are rewritten in those). */
  addCellText(text) {
    this.cellTexts.push(text);
    this.verdicts.clear();
  }

  addRestored(source) {
    this.restored.add(source);
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
   * What the snapshot needs to know about a class: how to rebind its `extends` clause, and whether
   * it has private (#) members, whose values are invisible from outside and so cannot be saved.
   * @returns {{ superClass: {start: number, end: number, name: string | null} | null, hasPrivate: boolean }}
   */
  classInfo(source) {
    let info = this.classes.get(source);
    if (info === undefined) {
      const node = acorn.parseExpressionAt(source, 0, { ecmaVersion: 'latest' });
      const superClass = node.superClass
        ? { start: node.superClass.start, end: node.superClass.end, name: node.superClass.type === 'Identifier' ? node.superClass.name : null }
        : null;
      const hasPrivate = node.body.body.some((member) => member.key && member.key.type === 'PrivateIdentifier');
      info = { superClass, hasPrivate };
      this.classes.set(source, info);
    }
    return info;
  }
}

module.exports = { SourceProvenance };
