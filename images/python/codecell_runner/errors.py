"""Tracebacks of user errors as the user should see them.

The runner's own frames are removed, so a traceback starts at the user's `<cell>` and goes on into
library frames. Source lines of `<cell>` frames come from this run's code only: functions carried
over from an earlier run were compiled from another cell under the same file name, and showing
this cell's line for them would be wrong, so their frames show no source line.
"""
from __future__ import annotations

import os
import traceback
import types

CELL_FILENAME = "<cell>"
MAX_TRACEBACK_CHARS = 50_000
MAX_MESSAGE_CHARS = 10_000

_RUNNER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def describe(exc: BaseException, cell_codes: frozenset[int]) -> dict:
    """The `error` object of the result frame for an exception raised by user code."""
    _remove_runner_frames(exc, set())
    report = traceback.TracebackException.from_exception(exc, lookup_lines=False)
    _hide_foreign_cell_lines(report, exc, cell_codes, set())
    text = "".join(report.format())
    if len(text) > MAX_TRACEBACK_CHARS:
        text = "[… traceback truncated …]\n" + text[-MAX_TRACEBACK_CHARS:]
    return {"name": type(exc).__name__, "message": _message(exc), "traceback": text}


def describe_syntax_error(exc: BaseException) -> dict:
    """The `error` object for code that does not compile: no frames, just the place."""
    text = "".join(traceback.format_exception_only(type(exc), exc))
    return {"name": type(exc).__name__, "message": _message(exc), "traceback": text}


def codes_of(*codes: types.CodeType | None) -> frozenset[int]:
    """Identities of every code object compiled from this cell: the module code and all nested
    ones. By identity, because code objects compare equal by content."""
    found: set[int] = set()
    pending = [code for code in codes if code is not None]
    while pending:
        code = pending.pop()
        found.add(id(code))
        pending.extend(const for const in code.co_consts if isinstance(const, types.CodeType))
    return frozenset(found)


def _message(exc: BaseException) -> str:
    try:
        message = str(exc)
    except Exception:  # a broken __str__ must not break the report
        message = f"<{type(exc).__name__} with an unprintable message>"
    return message[:MAX_MESSAGE_CHARS]


def _chained(exc: BaseException) -> list[BaseException]:
    linked = [exc.__cause__, exc.__context__, *getattr(exc, "exceptions", ())]
    return [other for other in linked if isinstance(other, BaseException)]


def _is_runner_frame(frame: types.FrameType) -> bool:
    return frame.f_code.co_filename.startswith(_RUNNER_DIR)


def _remove_runner_frames(exc: BaseException, seen: set[int]) -> None:
    """Drops the runner's frames, and whatever called into the cell (such as the event loop that
    ran a cell with top-level await): the traceback starts at the cell when the cell is in it."""
    if id(exc) in seen:
        return
    seen.add(id(exc))
    kept = []
    tb = exc.__traceback__
    while tb is not None:
        if not _is_runner_frame(tb.tb_frame):
            kept.append(tb)
        tb = tb.tb_next
    first_cell = next((i for i, entry in enumerate(kept) if entry.tb_frame.f_code.co_filename == CELL_FILENAME), 0)
    kept = kept[first_cell:]
    rebuilt = None
    for entry in reversed(kept):
        rebuilt = types.TracebackType(rebuilt, entry.tb_frame, entry.tb_lasti, entry.tb_lineno)
    exc.__traceback__ = rebuilt
    for other in _chained(exc):
        _remove_runner_frames(other, seen)


def _hide_foreign_cell_lines(
    report: traceback.TracebackException,
    exc: BaseException,
    cell_codes: frozenset[int],
    seen: set[int],
) -> None:
    if id(report) in seen:
        return
    seen.add(id(report))
    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    if len(frames) == len(report.stack):  # sys.tracebacklimit may have cut the stack short
        for index, (frame, summary) in enumerate(zip(frames, report.stack)):
            if summary.filename == CELL_FILENAME and id(frame.f_code) not in cell_codes:
                report.stack[index] = traceback.FrameSummary(
                    summary.filename, summary.lineno, summary.name, lookup_line=False, line=""
                )
    pairs = [(report.__cause__, exc.__cause__), (report.__context__, exc.__context__)]
    pairs += zip(getattr(report, "exceptions", None) or (), getattr(exc, "exceptions", ()))
    for sub_report, sub_exc in pairs:
        if sub_report is not None and sub_exc is not None:
            _hide_foreign_cell_lines(sub_report, sub_exc, cell_codes, seen)
