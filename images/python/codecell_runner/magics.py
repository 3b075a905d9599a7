"""IPython's magics and shell escapes in a plain Python cell, rewritten before it is compiled.

As IPython does, each magic line becomes a call, on the same line (so line numbers stay the
user's), of the runner's stand-in shell (shell.py), a builtin named SHELL_BUILTIN:
    %name args        __codecell_ipython__().run_line_magic('name', 'args')
    !cmd              __codecell_ipython__().system('cmd')
    x = !cmd          x = __codecell_ipython__().getoutput('cmd')   (also !!cmd, and x = %name args)
    %%name args       a cell magic on the first line: the rest of the cell is its body
Not `get_ipython()`: libraries take a builtin of that name for a running IPython (sympy's
init_printing() then reaches for IPython's display formatters), and there is none here. A name
with two trailing underscores is not mangled inside class bodies and not saved in snapshots.
A line is a magic only where a statement starts (also inside indented blocks), never inside a
string or a bracket: the cell is tokenized once, and each line is looked at when the tokenizer
asks for it, which is exactly when it knows whether a new statement begins there.
"""
from __future__ import annotations

import re
import tokenize
from collections import namedtuple

# name and arguments of a cell magic (%%time …); body is the rest of the cell.
CellMagic = namedtuple("CellMagic", "name line body")
SHELL_BUILTIN = "__codecell_ipython__"

_ANY_MAGIC = re.compile(r"^[ \t]*(?:[%!]|[\w., \t]+=[ \t]*[%!])", re.MULTILINE)
_LINE_MAGIC = re.compile(r"^([ \t]*)%(\w+)(.*)$", re.DOTALL)
_SHELL = re.compile(r"^([ \t]*)(!!?)(.*)$", re.DOTALL)
_ASSIGNED = re.compile(r"^([ \t]*)([A-Za-z_][\w.]*(?:[ \t]*,[ \t]*[A-Za-z_][\w.]*)*)[ \t]*=[ \t]*(!!?|%(?=\w))(.*)$", re.DOTALL)
_CELL_MAGIC = re.compile(r"^%%(\w+)[ \t]*(.*)$")
_OPENERS, _CLOSERS = set("([{"), set(")]}")
_STATEMENT_ENDS = (tokenize.NEWLINE, tokenize.NL)


def split_cell_magic(source: str) -> CellMagic | None:
    """The cell magic on the cell's first line, if there is one (as in IPython, only there)."""
    first, newline, body = source.partition("\n")
    match = _CELL_MAGIC.match(first.rstrip("\r"))
    if match is None:
        return None
    return CellMagic(name=match.group(1), line=match.group(2).strip(), body=body)


def cell_magic_call(magic: CellMagic) -> str:
    """The one line a cell with a cell magic (other than %%time) runs as."""
    return f"{SHELL_BUILTIN}().run_cell_magic({magic.name!r}, {magic.line!r}, {magic.body!r})"


def rewrite(source: str) -> str:
    """The cell with every magic line replaced by its call; the same number of lines."""
    if not _ANY_MAGIC.search(source):
        return source  # most cells: no line even looks like one
    lines = source.splitlines(keepends=True)
    output: list[str] = []
    # Bracket depth, and the type of the last token the previous line produced (None: none, as for
    # a line inside a multi-line string). A statement starts after NEWLINE or NL outside brackets.
    state = {"depth": 0, "last": tokenize.NEWLINE}

    def next_line() -> str:
        if len(output) == len(lines):
            return ""
        line = lines[len(output)]
        at_statement_start = state["depth"] == 0 and state["last"] in _STATEMENT_ENDS
        state["last"] = None
        output.append(_rewrite_line(line) if at_statement_start else line)
        return output[-1]

    try:
        for token in tokenize.generate_tokens(next_line):
            if token.type == tokenize.OP:
                if token.string in _OPENERS:
                    state["depth"] += 1
                elif token.string in _CLOSERS:
                    state["depth"] = max(0, state["depth"] - 1)
            state["last"] = token.type
    except (tokenize.TokenError, SyntaxError):
        pass  # the code does not tokenize: the rest stays as written, and compiling it says why
    output.extend(lines[len(output):])
    return "".join(output)


def _rewrite_line(line: str) -> str:
    text = line.rstrip("\r\n")
    ending = line[len(text):]
    match = _ASSIGNED.match(text)
    if match:
        indent, target, sigil, rest = match.groups()
        if sigil == "%":
            name, _, args = rest.partition(" ")
            return f"{indent}{target} = {_line_magic_call(name, args)}{ending}"
        return f"{indent}{target} = {SHELL_BUILTIN}().getoutput({rest!r}){ending}"
    match = _SHELL.match(text)
    if match:
        indent, sigil, command = match.groups()
        method = "getoutput" if sigil == "!!" else "system"
        return f"{indent}{SHELL_BUILTIN}().{method}({command!r}){ending}"
    match = _LINE_MAGIC.match(text)
    if match and not text.lstrip().startswith("%%"):
        indent, name, args = match.groups()
        return f"{indent}{_line_magic_call(name, args)}{ending}"
    return line


def _line_magic_call(name: str, args: str) -> str:
    return f"{SHELL_BUILTIN}().run_line_magic({name!r}, {args.strip()!r})"

