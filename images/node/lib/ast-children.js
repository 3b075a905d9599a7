'use strict';
// Walking an acorn tree one level down, and the names a binding pattern declares; shared by the cell rewriter and the snapshot's closure analysis.

/** Calls back for every child node of `node` (any property holding a node or an array of nodes). */
function forEachChild(node, callback) {
  for (const key of Object.keys(node)) {
    const value = node[key];
    if (value === null || typeof value !== 'object') continue;
    if (Array.isArray(value)) {
      for (const item of value) if (item !== null && typeof item.type === 'string') callback(item);
    } else if (typeof value.type === 'string') {
      callback(value);
    }
  }
}

/** The names a binding pattern declares (`{ a, b: [c, , d = 1], ...e }` → a, c, d, e). */
function patternNames(pattern, out = []) {
  if (!pattern) return out;
  switch (pattern.type) {
    case 'Identifier':
      out.push(pattern.name);
      break;
    case 'ObjectPattern':
      for (const property of pattern.properties) patternNames(property.type === 'RestElement' ? property.argument : property.value, out);
      break;
    case 'ArrayPattern':
      for (const element of pattern.elements) patternNames(element, out);
      break;
    case 'AssignmentPattern':
      patternNames(pattern.left, out);
      break;
    case 'RestElement':
      patternNames(pattern.argument, out);
      break;
    default:
  }
  return out;
}

module.exports = { forEachChild, patternNames };
