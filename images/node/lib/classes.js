'use strict';
// The edits cell.js makes to every class a cell defines, so that the snapshot can carry instances
// whose classes have private (#) members. Private fields cannot be read from outside the class
// body, and an object only gets them (and the "brand" private methods check) from the class's
// own constructor. So each class gets, in its own body:
//
//   - a static block that hands the runner accessors for its private fields (instance and
//     static) and a brand check: `#x in o`, `o.#x`, `o.#x = v` (only when it has private members);
//   - a first statement in an explicit constructor that returns at once while the runner is
//     rebuilding an instance (derived classes call `super()` first), and instance field
//     initializers that give undefined then: the rebuilt instance gets its private fields and brand
//     without running the user's constructor code, and the saved values are written in after;
//   - for an arrow function field (static too), a note of the object it was made for: its `this`.
//
// Nothing adds a line break, so line numbers stay the user's; the columns after an insertion on the
// same line shift. A class's source text (Function.prototype.toString) shows the inserted code.

/** @returns {{start: number, end: number, text: string}[]} */
function classEdits(node, helper) {
  const edits = [];
  const restoring = `${helper}.restoring`;
  const instanceFields = [];
  const staticFields = [];
  let brand = null;
  for (const member of node.body.body) {
    const isPrivate = member.key && member.key.type === 'PrivateIdentifier';
    if (member.type === 'PropertyDefinition') {
      if (isPrivate) (member.static ? staticFields : instanceFields).push(member.key.name);
      if (member.static && member.value && member.value.type === 'ArrowFunctionExpression') {
        // Static arrow fields run again when the class is restored; noted for the same reason.
        edits.push({ start: member.value.start, end: member.value.start, text: `${helper}.arrow(this, ` });
        edits.push({ start: member.value.end, end: member.value.end, text: ')' });
      }
      if (!member.static && member.value) {
        // An arrow function field (`onClick = () => this.n++`) is noted with its `this`, so that
        // the snapshot can make it again for the same object (privates.js, `arrow`).
        const open = member.value.type === 'ArrowFunctionExpression' ? `${helper}.arrow(this, ` : '(';
        edits.push({ start: member.value.start, end: member.value.start, text: `(${restoring} ? void 0 : ${open}` });
        edits.push({ start: member.value.end, end: member.value.end, text: '))' });
      }
    } else if (member.type === 'MethodDefinition') {
      if (member.kind === 'constructor') {
        const at = member.value.body.start + 1;
        const bypass = node.superClass ? `if (${restoring}) { super(); return; }` : `if (${restoring}) return;`;
        edits.push({ start: at, end: at, text: bypass });
      }
    }
    if (isPrivate && !member.static && brand === null) brand = member.key.name;
  }
  if (brand === null && staticFields.length === 0) return edits;

  const read = (target, names) => `[${names.map((name) => `${target}.#${name}`).join(', ')}]`;
  const write = (target, names) => names.map((name, i) => `${target}.#${name} = v[${i}];`).join(' ');
  const parts = [
    'this',
    JSON.stringify(instanceFields),
    `(o) => ${read('o', instanceFields)}`,
    `(o, v) => { ${write('o', instanceFields)} }`,
    brand === null ? 'null' : `(o) => #${brand} in o`,
    JSON.stringify(staticFields),
    `() => ${read('this', staticFields)}`,
    `(v) => { ${write('this', staticFields)} }`,
  ];
  const close = node.body.end - 1;
  edits.push({ start: close, end: close, text: ` static { ${helper}.privates(${parts.join(', ')}); }` });
  return edits;
}

module.exports = { classEdits };
