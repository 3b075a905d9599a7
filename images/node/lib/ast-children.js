'use strict';
// Walking an acorn tree one level down, shared by the cell rewriter and the snapshot's closure analysis.

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

module.exports = { forEachChild };
