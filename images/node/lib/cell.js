'use strict';
// Turns the code of one cell into scripts that V8 can run like a REPL cell.
//
// A cell is a plain script (sloppy mode, its completion value is the cell's value), extended with
// what people type in notebooks: static `import` declarations, `export` keywords pasted from module
// code, and top-level `await`. The rewrite works on acorn's AST and edits the source text in place,
// so everything keeps its line number and stack traces point at the user's lines.
//
// Without top-level await the cell runs as one script: V8 itself then gives `let`/`const`/`class`
// their global lexical scope and the completion value. With top-level await the body has to run in
// an async function, so the declarations are hoisted out of it (see CellRewrite.finish). One
// cosmetic cost: `return (` is inserted before the trailing expression, so error columns on that
// one line are off by its length (lines stay right).

const acorn = require('acorn');
const { forEachChild, patternNames } = require('./ast-children');
const { classEdits } = require('./classes');

const HELPER = '__codecell';
const ASYNC_PREFIX = '(async () => {';
const ASYNC_SUFFIX = '\n})()';

const PARSE_OPTIONS = {
  ecmaVersion: 'latest',
  sourceType: 'script',
  allowHashBang: true,
  allowImportExportEverywhere: true,
  allowAwaitOutsideFunction: true,
};

/**
 * @returns {{
 *   parseError: Error | null,
 *   scripts: { source: string, columnOffset: number }[],  run in order; the last one's value counts
 *   asyncWrapped: boolean,     the last script evaluates to a promise of the cell's value
 *   hasValue: boolean,         the cell ends with an expression statement, whose value is the
 *                              cell's (as in a notebook: `x = 1; const y = 2` has no value)
 *   declared: string[],        top-level binding names, in source order
 * }}
 */
function prepareCell(code) {
  let ast;
  try {
    ast = acorn.parse(code, PARSE_OPTIONS);
  } catch (err) {
    // Let V8 have the last word: it reports the error with its own message and a caret under
    // '<cell>', or it accepts syntax this acorn does not know yet.
    return { parseError: err, scripts: [{ source: code, columnOffset: 0 }], asyncWrapped: false, hasValue: true, declared: [] };
  }

  const scan = scanTree(ast);
  const cell = new CellRewrite(code, scan.topLevelAwait);
  if (code.startsWith('#!')) {
    const lineEnd = code.search(/[\n\r\u2028\u2029]|$/);
    cell.edit(0, lineEnd, '');
  }
  for (const node of scan.dynamicImports) cell.edit(node.start, node.start + 'import'.length, `${HELPER}.import`);
  // Lets the snapshot carry instances of classes with private members (classes.js).
  for (const node of scan.classes) for (const edit of classEdits(node, HELPER)) cell.edit(edit.start, edit.end, edit.text);
  for (const statement of ast.body) cell.topLevelStatement(statement);
  const last = ast.body[ast.body.length - 1];
  const hasValue = Boolean(last && last.type === 'ExpressionStatement' && !last.directive);
  if (cell.async && hasValue) cell.returnCompletionValue(last);
  return { ...cell.finish(), hasValue };
}

class CellRewrite {
  constructor(code, async) {
    this.code = code;
    this.async = async;
    this.edits = [];
    this.declared = [];
    this.seen = new Set();
    this.lexicalNames = []; // hoisted as `let` when async: let, const, class, import
    this.varNames = []; // hoisted as `var` when async
    this.hoistedFunctions = []; // top-level function declarations, moved to the prelude when async
  }

  edit(start, end, text) {
    this.edits.push({ start, end, text });
  }

  declare(name, lexical) {
    if (!this.seen.has(name)) {
      this.seen.add(name);
      this.declared.push(name);
    }
    (lexical ? this.lexicalNames : this.varNames).push(name);
  }

  topLevelStatement(statement) {
    const node = this.unwrapExport(statement);
    if (node === null) return;
    switch (node.type) {
      case 'ImportDeclaration':
        return this.importDeclaration(node);
      case 'VariableDeclaration':
        for (const declarator of node.declarations) {
          for (const name of patternNames(declarator.id)) this.declare(name, node.kind !== 'var');
        }
        if (this.async) this.declarationToAssignments(node, 'top-level');
        return;
      case 'FunctionDeclaration':
        this.declare(node.id.name, false);
        if (this.async) this.hoistedFunctions.push(node);
        return;
      case 'ClassDeclaration':
        this.declare(node.id.name, true);
        if (this.async) {
          this.edit(node.start, node.start, `;${node.id.name} = `);
          this.edit(node.end, node.end, ';');
        }
        return;
      default:
        // `var` inside top-level blocks and loops is top-level too (function scope of the script).
        forEachNestedVar(node, (declaration, position) => {
          for (const declarator of declaration.declarations) {
            for (const name of patternNames(declarator.id)) this.declare(name, false);
          }
          if (this.async) this.declarationToAssignments(declaration, position);
        });
    }
  }

  /** Strips `export` (a cell is not a module); returns the statement to process, or null. */
  unwrapExport(statement) {
    switch (statement.type) {
      case 'ExportNamedDeclaration':
        if (statement.declaration) {
          this.edit(statement.start, statement.declaration.start, '');
          return statement.declaration;
        }
        this.edit(statement.start, statement.end, '');
        return null;
      case 'ExportAllDeclaration':
        this.edit(statement.start, statement.end, '');
        return null;
      case 'ExportDefaultDeclaration': {
        const declaration = statement.declaration;
        const named = (declaration.type === 'FunctionDeclaration' || declaration.type === 'ClassDeclaration') && declaration.id;
        if (named) {
          this.edit(statement.start, declaration.start, '');
          return declaration;
        }
        // `export default <expression>` becomes the expression (anonymous function/class included).
        this.edit(statement.start, declaration.start, ';(');
        this.edit(declaration.end, declaration.end, ')');
        return null;
      }
      default:
        return statement;
    }
  }

  /** `import a, {b as c} from 'm'` → bindings taken from require('m') (Node built-ins are CommonJS). */
  importDeclaration(node) {
    const source = JSON.stringify(node.source.value);
    const required = `${HELPER}.require(${source})`;
    const assignments = [];
    const named = [];
    for (const specifier of node.specifiers) {
      const local = specifier.local.name;
      this.declare(local, true);
      if (specifier.type === 'ImportNamespaceSpecifier') {
        assignments.push(`${local} = ${required}`);
      } else if (specifier.type === 'ImportDefaultSpecifier' || importedName(specifier) === 'default') {
        assignments.push(`${local} = ${HELPER}.importDefault(${required})`);
      } else {
        named.push(`${JSON.stringify(importedName(specifier))}: ${local}`);
      }
    }
    if (named.length > 0) assignments.push(`{ ${named.join(', ')} } = ${required}`);

    let replacement;
    if (assignments.length === 0) replacement = `${required};`;
    else if (this.async) replacement = `;${assignments.map((a) => `(${a})`).join(', ')};`;
    else replacement = `const ${assignments.join(', ')};`;
    this.edit(node.start, node.end, replacement);
  }

  /**
   * Async cells only: the binding is hoisted to the prelude, so its declaration becomes an
   * assignment: `const {a} = f(), b;` → `;({a} = f()), void 0;` (parenthesised so an object
   * pattern is not read as a block). Inside `if (x) var y = 1` the statement must stay a single
   * statement, so nested ones start with `void 0, ` instead of `;`.
   */
  declarationToAssignments(declaration, position) {
    const first = declaration.declarations[0];
    if (position === 'for-left') {
      this.edit(declaration.start, first.start, '');
      return;
    }
    const lead = { 'top-level': ';', statement: 'void 0, ', 'for-init': '' }[position];
    this.edit(declaration.start, first.start, lead);
    for (const declarator of declaration.declarations) {
      if (declarator.init) {
        this.edit(declarator.start, declarator.start, '(');
        this.edit(declarator.end, declarator.end, ')');
      } else {
        this.edit(declarator.start, declarator.end, 'void 0');
      }
    }
  }

  /** Async cells: the last expression statement becomes the async function's return value. */
  returnCompletionValue(last) {
    // At the statement's start: a parenthesised expression (`({ a, b })`) starts inside its brackets.
    this.edit(last.start, last.start, 'return (');
    this.edit(last.expression.end, last.expression.end, ')');
  }

  finish() {
    if (!this.async) {
      return {
        parseError: null,
        scripts: [{ source: applyEdits(this.code, this.edits), columnOffset: 0 }],
        asyncWrapped: false,
        declared: this.declared,
      };
    }
    // Two scripts. The prelude declares the hoisted bindings and defines the top-level functions,
    // kept at their original offsets (everything else blanked) so their line numbers stay right
    // and they are hoisted as in a script. The main script is the rest, inside an async arrow.
    const inFunction = (edit) => this.hoistedFunctions.some((fn) => edit.start >= fn.start && edit.end <= fn.end);
    const preludeEdits = this.edits.filter(inFunction);
    const mainEdits = this.edits.filter((edit) => !inFunction(edit));
    let cursor = 0;
    for (const fn of this.hoistedFunctions) {
      preludeEdits.push({ start: cursor, end: fn.start, text: blank(this.code.slice(cursor, fn.start)) });
      mainEdits.push({ start: fn.start, end: fn.end, text: blank(this.code.slice(fn.start, fn.end)) });
      cursor = fn.end;
    }
    preludeEdits.push({ start: cursor, end: this.code.length, text: blank(this.code.slice(cursor)) });

    const lets = unique(this.lexicalNames);
    const vars = unique(this.varNames).filter((name) => !lets.includes(name));
    const declarations = [lets.length ? `let ${lets.join(', ')};` : '', vars.length ? `var ${vars.join(', ')};` : ''].join(' ');
    const prelude = applyEdits(this.code, preludeEdits) + '\n' + declarations;
    const main = ASYNC_PREFIX + applyEdits(this.code, mainEdits) + ASYNC_SUFFIX;
    return {
      parseError: null,
      scripts: [
        { source: prelude, columnOffset: 0 },
        // The prefix shares line 1 with the user's first line: shift columns back so they match.
        { source: main, columnOffset: -ASYNC_PREFIX.length },
      ],
      asyncWrapped: true,
      declared: this.declared,
    };
  }
}

function importedName(specifier) {
  return specifier.imported.type === 'Identifier' ? specifier.imported.name : specifier.imported.value;
}

/**
 * One pass over the whole tree: is there an `await` (or `for await`) outside any function, where
 * are the dynamic `import()` calls (vm scripts cannot import() without an experimental flag, so
 * they go through the runner's helper instead), and where are the classes.
 */
function scanTree(ast) {
  const found = { topLevelAwait: false, dynamicImports: [], classes: [] };
  const visit = (node, inFunction) => {
    switch (node.type) {
      case 'FunctionDeclaration':
      case 'FunctionExpression':
      case 'ArrowFunctionExpression':
      case 'StaticBlock':
        inFunction = true;
        break;
      case 'PropertyDefinition':
        // A class field's initializer runs later, as a method would.
        if (node.computed) visit(node.key, inFunction);
        if (node.value) visit(node.value, true);
        return;
      case 'AwaitExpression':
        if (!inFunction) found.topLevelAwait = true;
        break;
      case 'ForOfStatement':
        if (node.await && !inFunction) found.topLevelAwait = true;
        break;
      case 'ImportExpression':
        found.dynamicImports.push(node);
        break;
      case 'ClassDeclaration':
      case 'ClassExpression':
        found.classes.push(node);
        break;
      default:
    }
    forEachChild(node, (child) => visit(child, inFunction));
  };
  visit(ast, false);
  return found;
}


/**
 * Calls back for every `var` declaration in statement position below a top-level statement, not
 * entering functions or classes (a `var` can only appear where a statement can, or in a for head).
 */
function forEachNestedVar(statement, callback) {
  const visit = (node, position) => {
    if (!node) return;
    switch (node.type) {
      case 'VariableDeclaration':
        if (node.kind === 'var') callback(node, position);
        return;
      case 'BlockStatement':
        for (const child of node.body) visit(child, 'statement');
        return;
      case 'IfStatement':
        visit(node.consequent, 'statement');
        visit(node.alternate, 'statement');
        return;
      case 'ForStatement':
        visit(node.init, 'for-init');
        visit(node.body, 'statement');
        return;
      case 'ForInStatement':
      case 'ForOfStatement':
        visit(node.left, 'for-left');
        visit(node.body, 'statement');
        return;
      case 'WhileStatement':
      case 'DoWhileStatement':
      case 'LabeledStatement':
      case 'WithStatement':
        visit(node.body, 'statement');
        return;
      case 'TryStatement':
        visit(node.block, 'statement');
        if (node.handler) visit(node.handler.body, 'statement');
        visit(node.finalizer, 'statement');
        return;
      case 'SwitchStatement':
        for (const switchCase of node.cases) for (const child of switchCase.consequent) visit(child, 'statement');
        return;
      default:
    }
  };
  visit(statement, 'statement');
}


const LINE_BREAK = /\r\n|[\n\r\u2028\u2029]/g;

function countLineBreaks(text) {
  LINE_BREAK.lastIndex = 0;
  let count = 0;
  while (LINE_BREAK.exec(text)) count++;
  return count;
}

/** Spaces for everything but line breaks: same lines, same columns, no code. */
function blank(text) {
  return text.replace(/[^\n\r\u2028\u2029]/g, ' ');
}

/**
 * Applies non-overlapping edits. A replacement that has fewer line breaks than the text it replaces
 * is padded with newlines, so the lines after it keep their numbers.
 */
function applyEdits(code, edits) {
  const sorted = edits.slice().sort((a, b) => a.start - b.start || a.end - b.end);
  let out = '';
  let cursor = 0;
  for (const { start, end, text } of sorted) {
    out += code.slice(cursor, start);
    const missing = countLineBreaks(code.slice(start, end)) - countLineBreaks(text);
    out += missing > 0 ? text + '\n'.repeat(missing) : text;
    cursor = end;
  }
  return out + code.slice(cursor);
}

function unique(names) {
  return [...new Set(names)];
}

module.exports = { prepareCell, HELPER };
