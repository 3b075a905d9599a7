"""Running the user's code like a notebook cell.

The code runs in the namespace of the user's `__main__` module. When its last statement is an
expression, that expression is evaluated separately and its repr becomes the cell's value (and
when it is an image, a figure or a PIL image, it is also shown, as a notebook shows it). IPython's
magics and shell escapes are rewritten first (magics.py); `%%time` on the first line times the cell.
"""
from __future__ import annotations

import ast
import linecache
import sys
import time
import types
from collections import namedtuple

from . import display, errors, magics, timing

MAX_VALUE_CHARS = 10_000
_FLAGS = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
# inspect.CO_COROUTINE, without importing inspect (and dataclasses, for the same reason: at every
# container start they cost more CPU than the whole rest of the runner's imports).
_CO_COROUTINE = 0x0080


class CellOutcome(namedtuple("CellOutcome", "value error exit_code")):
    """value: repr of the trailing expression (or None); error: describe()'s dict (or None)."""

    __slots__ = ()

    @property
    def ok(self) -> bool:
        return self.error is None


def run_cell(source: str, namespace: dict) -> CellOutcome:
    cell_magic = magics.split_cell_magic(source)
    timed = cell_magic is not None and cell_magic.name == "time"
    try:
        if timed:
            code = "\n" + magics.rewrite(cell_magic.body)  # the magic's line stays, empty: line numbers hold
        elif cell_magic is not None:
            code = magics.cell_magic_call(cell_magic)
        else:
            code = magics.rewrite(source)
        body, trailing = _compile(code)
    except (SyntaxError, ValueError) as exc:  # ValueError: null bytes in the source
        return CellOutcome(value=None, error=errors.describe_syntax_error(exc), exit_code=1)
    # Registered so that tracebacks, warnings and inspect.getsource() can show the cell's lines.
    # An mtime of None keeps linecache.checkcache() from dropping the entry.
    linecache.cache[errors.CELL_FILENAME] = (
        len(source), None, source.splitlines(keepends=True), errors.CELL_FILENAME
    )
    try:
        started, cpu_started = time.perf_counter(), timing.cpu_times()
        _evaluate(body, namespace)
        value = _evaluate(trailing, namespace) if trailing is not None else None
        if timed:
            timing.report_time(started, cpu_started)
        _show_if_image(value)
        text = None if value is None else _capped(display.value_text(value))
    except SystemExit as exc:
        return _exit_outcome(exc, errors.codes_of(body, trailing))
    except BaseException as exc:  # KeyboardInterrupt and friends are the user's too
        return CellOutcome(value=None, error=errors.describe(exc, errors.codes_of(body, trailing)), exit_code=1)
    return CellOutcome(value=text, error=None, exit_code=0)


def _show_if_image(value) -> None:
    """A trailing figure or image is shown, as a notebook shows it (once: figures.py); a table or
    HTML becomes a display (rich.py)."""
    if value is None:
        return
    try:
        display.show_value(value)
    except Exception as exc:  # showing is a courtesy; the value is still the cell's
        print(f"codecell: could not show the value as an image: {exc}", file=sys.stderr, flush=True)


def _compile(source: str) -> tuple[types.CodeType, types.CodeType | None]:
    """Compiles the cell; a trailing expression statement is split off as an `eval` code.

    Top-level `await` is allowed, as in a notebook: such code compiles to a coroutine.
    """
    tree = compile(source, errors.CELL_FILENAME, "exec", ast.PyCF_ONLY_AST | _FLAGS, dont_inherit=True)
    trailing = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = tree.body.pop()
        trailing = compile(ast.Expression(last.value), errors.CELL_FILENAME, "eval", _FLAGS, dont_inherit=True)
    body = compile(tree, errors.CELL_FILENAME, "exec", _FLAGS, dont_inherit=True)
    return body, trailing


def _evaluate(code: types.CodeType, namespace: dict):
    """Runs compiled cell code; code that awaits at top level runs to completion in an event loop."""
    result = eval(code, namespace)
    if code.co_flags & _CO_COROUTINE:
        import asyncio  # only for cells that need it: importing it costs a few milliseconds

        result = asyncio.run(result)
    return result


def _exit_outcome(exc: SystemExit, cell_codes: frozenset[int]) -> CellOutcome:
    """sys.exit(n) ends the cell with exit code n, the way it would end a script."""
    code = exc.code
    if code is None:
        exit_code = 0
    elif isinstance(code, int):
        exit_code = int(code)
    else:
        # Like the interpreter: a non-integer argument is printed to stderr and means failure.
        print(code, file=sys.stderr, flush=True)
        exit_code = 1
    if exit_code == 0:
        return CellOutcome(value=None, error=None, exit_code=0)
    return CellOutcome(value=None, error=errors.describe(exc, cell_codes), exit_code=exit_code)


def _capped(text: str) -> str:
    if len(text) <= MAX_VALUE_CHARS:
        return text
    return text[: MAX_VALUE_CHARS - 1] + "…"
