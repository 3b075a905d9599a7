'use strict';
// Which functions in a cell's script close over something the snapshot cannot carry. A function is
// carried as its source and re-evaluated in global scope, so a name it uses must resolve there:
// globals and the cells' top-level bindings do (they are carried by name); a local of an enclosing
// function or block does not, and neither does the `this` or `arguments` an arrow function takes
// from the function around it. This finds those, so the snapshot can name them instead of
// carrying a function that fails later.
//
// A small scope analysis on acorn's tree (hand-written: the image has acorn but no scope library).
// It errs on the side of "captures": a name bound anywhere between the reference and the function
// counts, whatever the declaration order.

const acorn = require('acorn');
const { forEachChild, patternNames } = require('../ast-children');

const FUNCTION_TYPES = new Set(['FunctionDeclaration', 'FunctionExpression', 'ArrowFunctionExpression']);
const CLASS_TYPES = new Set(['ClassDeclaration', 'ClassExpression']);

/**
 * @param {string} source a script as V8 ran it
 * @param {boolean} asyncWrapped whether its body is cell.js's `(async () => {…})()` wrapper, whose
 *   arrow is the cell's top level, not a function of the user's
 * @returns {Map<string, string[]> | null} source text of a function or class (as toString gives
 *   it) → what it captures; null when the source does not parse
 */
function findCaptures(source, asyncWrapped) {
  let ast;
  try {
    ast = acorn.parse(source, { ecmaVersion: 'latest', sourceType: 'script', allowHashBang: true, allowAwaitOutsideFunction: true, allowReturnOutsideFunction: true });
  } catch {
    return null;
  }
  const analysis = new ScopeAnalysis(source, asyncWrapped ? wrapperArrow(ast) : null);
  analysis.visitProgram(ast);
  const out = new Map();
  for (const [node, names] of analysis.captures) {
    if (names.size === 0) continue;
    for (const text of toStringTexts(source, node)) {
      const previous = out.get(text) || [];
      out.set(text, [...new Set([...previous, ...names])]);
    }
  }
  return out;
}

/** N, when `call` is `(function (N) {…})(N || (N = {}))`, as TypeScript emits namespaces and enums. */
function namespaceAlias(call) {
  const fn = call.callee;
  if (fn.type !== 'FunctionExpression' || fn.params.length !== 1 || fn.params[0].type !== 'Identifier') return null;
  const name = fn.params[0].name;
  const [arg] = call.arguments;
  const isName = (node) => node && node.type === 'Identifier' && node.name === name;
  const matches = call.arguments.length === 1 && arg.type === 'LogicalExpression' && arg.operator === '||' && isName(arg.left) &&
    arg.right.type === 'AssignmentExpression' && isName(arg.right.left) && arg.right.right.type === 'ObjectExpression';
  return matches ? name : null;
}

function wrapperArrow(ast) {
  const last = ast.body[ast.body.length - 1];
  const call = last && last.type === 'ExpressionStatement' ? last.expression : null;
  return call && call.type === 'CallExpression' && call.callee.type === 'ArrowFunctionExpression' ? call.callee : null;
}

/** The text Function.prototype.toString gives for the function or class at `node`. */
function toStringTexts(source, node) {
  const text = source.slice(node.start, node.end);
  if (node.type === 'MethodDefinition' || node.type === 'Property') return [text.replace(/^static\b\s*/, '')];
  return [text];
}

class Scope {
  constructor(parent, kind) {
    this.parent = parent;
    this.kind = kind; // 'global' | 'function' | 'arrow' | 'block' | 'class'
    this.names = new Set();
    this.owner = null; // the function-like node whose scope this is
  }
}

class ScopeAnalysis {
  constructor(source, wrapper) {
    this.source = source;
    this.wrapper = wrapper;
    this.captures = new Map(); // function-like node → Set of captured names
    this.owners = []; // stack of { node, scope } for the function-likes we are inside
  }

  visitProgram(ast) {
    const global = new Scope(null, 'global');
    this.visitStatements(ast.body, global);
  }

  // ----- declarations -------------------------------------------------------------------------

  /** Declares what a list of statements declares directly in `scope` (and hoists `var`s). */
  declareStatements(statements, scope, functionScope) {
    for (const statement of statements) this.declareStatement(statement, scope, functionScope);
  }

  declareStatement(node, scope, functionScope) {
    if (!node) return;
    switch (node.type) {
      case 'VariableDeclaration': {
        const target = node.kind === 'var' ? functionScope : scope;
        for (const declarator of node.declarations) for (const name of patternNames(declarator.id)) target.names.add(name);
        return;
      }
      case 'FunctionDeclaration':
      case 'ClassDeclaration':
        if (node.id) scope.names.add(node.id.name);
        return;
      case 'ExportNamedDeclaration':
      case 'ExportDefaultDeclaration':
        return this.declareStatement(node.declaration, scope, functionScope);
      case 'ImportDeclaration':
        for (const specifier of node.specifiers) scope.names.add(specifier.local.name);
        return;
      default:
        // Nested `var`s belong to the function scope, wherever they are.
        forEachNestedVar(node, (declaration) => {
          for (const declarator of declaration.declarations) for (const name of patternNames(declarator.id)) functionScope.names.add(name);
        });
    }
  }

  // ----- visiting -----------------------------------------------------------------------------

  visitStatements(statements, scope) {
    const functionScope = nearestFunctionScope(scope);
    this.declareStatements(statements, scope, functionScope);
    for (const statement of statements) this.visit(statement, scope);
  }

  visit(node, scope) {
    if (!node || typeof node.type !== 'string') return;
    if (FUNCTION_TYPES.has(node.type)) return this.visitFunction(node, scope, node);
    if (CLASS_TYPES.has(node.type)) return this.visitClass(node, scope);
    switch (node.type) {
      case 'Identifier':
        return this.reference(node.name, scope);
      case 'ThisExpression':
        return this.thisReference('this', scope);
      case 'MetaProperty':
        return this.thisReference('new.target', scope);
      case 'Super':
        return this.thisReference('super', scope);
      case 'BlockStatement':
      case 'StaticBlock': {
        const block = node.type === 'StaticBlock' ? this.enterOwner(node, new Scope(scope, 'function')) : new Scope(scope, 'block');
        this.visitStatements(node.body, block);
        if (node.type === 'StaticBlock') this.owners.pop();
        return;
      }
      case 'ForStatement':
      case 'ForInStatement':
      case 'ForOfStatement': {
        const loop = new Scope(scope, 'block');
        const head = node.type === 'ForStatement' ? node.init : node.left;
        if (head && head.type === 'VariableDeclaration') this.declareStatement(head, loop, nearestFunctionScope(scope));
        for (const key of ['init', 'test', 'update', 'left', 'right', 'body']) this.visit(node[key], loop);
        return;
      }
      case 'CatchClause': {
        const clause = new Scope(scope, 'block');
        if (node.param) for (const name of patternNames(node.param)) clause.names.add(name);
        this.visit(node.param, clause);
        this.visit(node.body, clause);
        return;
      }
      case 'SwitchStatement': {
        this.visit(node.discriminant, scope);
        const block = new Scope(scope, 'block');
        const statements = node.cases.flatMap((switchCase) => switchCase.consequent);
        this.declareStatements(statements, block, nearestFunctionScope(scope));
        for (const switchCase of node.cases) {
          this.visit(switchCase.test, block);
          for (const statement of switchCase.consequent) this.visit(statement, block);
        }
        return;
      }
      case 'MemberExpression':
        this.visit(node.object, scope);
        if (node.computed) this.visit(node.property, scope);
        return;
      case 'Property':
        if (node.computed) this.visit(node.key, scope);
        if (node.method || node.kind === 'get' || node.kind === 'set') return this.visitFunction(node.value, scope, node);
        return this.visit(node.value, scope);
      case 'CallExpression': {
        const alias = namespaceAlias(node);
        if (alias === null || !this.resolvesGlobally(alias, scope)) break;
        // TypeScript's namespace or enum: `(function (N) {…})(N || (N = {}))`. Its parameter is
        // the global N itself, so functions that use it can be carried.
        this.visitFunction(node.callee, scope, node.callee, alias);
        for (const arg of node.arguments) this.visit(arg, scope);
        return;
      }
      case 'LabeledStatement':
        return this.visit(node.body, scope);
      case 'BreakStatement':
      case 'ContinueStatement':
        return;
      default:
    }
    forEachChild(node, (child) => this.visit(child, scope));
  }

  resolvesGlobally(name, scope) {
    let binding = scope;
    while (binding !== null && !binding.names.has(name)) binding = binding.parent;
    return binding === null || binding.kind === 'global';
  }

  enterOwner(node, scope) {
    scope.owner = node;
    this.captures.set(node, new Set());
    this.owners.push({ node, scope });
    return scope;
  }

  /** A function, arrow, or method (`owner` is the node whose toString text it has). */
  visitFunction(fn, scope, owner, globalAlias = null) {
    if (fn === this.wrapper) {
      // The async cell wrapper: its body is the cell's top level.
      const global = nearestGlobal(scope);
      return this.visitStatements(fn.body.body, global);
    }
    const inner = this.enterOwner(owner, new Scope(scope, fn.type === 'ArrowFunctionExpression' ? 'arrow' : 'function'));
    if (fn.type === 'FunctionExpression' && fn.id && owner === fn) inner.names.add(fn.id.name);
    if (fn.type !== 'ArrowFunctionExpression') inner.names.add('arguments');
    for (const param of fn.params) for (const name of patternNames(param)) if (name !== globalAlias) inner.names.add(name);
    for (const param of fn.params) this.visit(param, inner);
    if (fn.body.type === 'BlockStatement') this.visitStatements(fn.body.body, inner);
    else this.visit(fn.body, inner);
    this.owners.pop();
  }

  visitClass(node, scope) {
    this.visit(node.superClass, scope);
    const classScope = this.enterOwner(node, new Scope(scope, 'class'));
    // A class declared at the top level is a global by that name: its methods, carried on their
    // own, find it there. Elsewhere the name is the class's own, and a method using it captures it.
    const isGlobalDeclaration = node.type === 'ClassDeclaration' && scope.kind === 'global';
    if (node.id && !isGlobalDeclaration) classScope.names.add(node.id.name);
    for (const member of node.body.body) {
      if (member.computed) this.visit(member.key, classScope);
      if (member.type === 'MethodDefinition') this.visitFunction(member.value, classScope, member);
      else if (member.type === 'PropertyDefinition' && member.value) {
        // A field initializer runs as a method of the class would: its own `this`.
        const initializer = this.enterOwner(member, new Scope(classScope, 'function'));
        this.visit(member.value, initializer);
        this.owners.pop();
      } else if (member.type === 'StaticBlock') this.visit(member, classScope);
    }
    this.owners.pop();
  }

  /** A name used at `scope`: every function-like between here and a local binding captures it. */
  reference(name, scope) {
    let binding = scope;
    while (binding !== null && !binding.names.has(name)) binding = binding.parent;
    if (binding === null || binding.kind === 'global') return;
    this.markOwnersOutside(binding, name);
  }

  /** `this` and friends: an arrow takes them from the nearest function around it. */
  thisReference(name, scope) {
    let binding = scope;
    while (binding !== null && binding.kind !== 'function' && binding.kind !== 'class' && binding.kind !== 'global') binding = binding.parent;
    if (binding === null || binding.kind === 'global') return;
    this.markOwnersOutside(binding, name);
  }

  /** Marks every function-like entered after `binding` was (so nested inside it) as capturing `name`. */
  markOwnersOutside(binding, name) {
    for (let i = this.owners.length - 1; i >= 0; i--) {
      const { node, scope } = this.owners[i];
      if (isWithin(binding, scope)) return;
      this.captures.get(node).add(name);
    }
  }
}

/** Whether `scope` is `ancestor` or inside it. */
function isWithin(scope, ancestor) {
  for (let s = scope; s !== null; s = s.parent) if (s === ancestor) return true;
  return false;
}

function nearestFunctionScope(scope) {
  let s = scope;
  while (s.kind === 'block') s = s.parent;
  return s;
}

function nearestGlobal(scope) {
  let s = scope;
  while (s.parent !== null) s = s.parent;
  return s;
}


/** `var` declarations below a statement, not entering functions or classes. */
function forEachNestedVar(node, callback) {
  if (!node || typeof node.type !== 'string') return;
  if (FUNCTION_TYPES.has(node.type) || CLASS_TYPES.has(node.type)) return;
  if (node.type === 'VariableDeclaration') {
    if (node.kind === 'var') callback(node);
    for (const declarator of node.declarations) forEachNestedVar(declarator.init, callback);
    return;
  }
  forEachChild(node, (child) => forEachNestedVar(child, callback));
}


module.exports = { findCaptures };
