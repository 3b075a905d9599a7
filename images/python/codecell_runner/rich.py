"""Rich displays of a run (images/PROTOCOL.md, "displays"): tables of pandas objects and HTML.

They go in the result frame beside the text, which stays as it is for models; a page that renders
them (the playground) shows a table as a table and HTML in a sandboxed frame. Bounded here so one
run cannot make a huge frame: a table shows at most MAX_ROWS x MAX_COLUMNS cells (the totals are
kept), an HTML display at most MAX_HTML_BYTES, a run at most MAX_DISPLAYS displays and
MAX_RUN_CELLS table cells; what is left out is said in a notice.
"""
from __future__ import annotations

import math
import sys

MAX_ROWS = 200
MAX_COLUMNS = 50
MAX_CELL_CHARS = 1_000
MAX_HTML_BYTES = 256 * 1024
MAX_DISPLAYS = 20
MAX_RUN_CELLS = 20_000
# The text a display printed on stdout, sent so the host can find its place there (stdout_span).
MAX_STDOUT_TEXT_CHARS = 64 * 1024

_displays: list[dict] = []
_left_out = {"displays": 0, "html": 0, "cells": 0}


def record(obj, stdout_text: str | None = None) -> bool:
    """Records `obj` as a table (DataFrame, Series) or as HTML (_repr_html_); False when it is neither.
    `stdout_text`: what display() prints for it next, when it does."""
    try:
        shown = _table_of(obj)
        if shown is None:
            shown = _html_of(obj)
    except Exception:
        return False  # a display is a courtesy: the text of the object is shown anyway
    if shown is None:
        return False
    if stdout_text is not None and len(stdout_text) <= MAX_STDOUT_TEXT_CHARS:
        shown["stdout_text"] = stdout_text.encode("utf-8", "replace").decode("utf-8")
    _add(shown)
    return True


def record_html(html: str) -> None:
    _add(_html_display(html))


def collect() -> tuple[list[dict], list[str]]:
    """The run's displays in output order, and notices for what was left out."""
    notices = []
    if _left_out["displays"]:
        notices.append(f"{_left_out['displays']} more tables or HTML displays were not kept (at most {MAX_DISPLAYS} per run); their text is in the output.")
    if _left_out["cells"]:
        notices.append(f"{_left_out['cells']} tables were not kept as tables (at most {MAX_RUN_CELLS} table cells per run); their text is in the output.")
    if _left_out["html"]:
        notices.append(f"{_left_out['html']} HTML displays were larger than {MAX_HTML_BYTES // 1024} KB and were not kept; their source is in the output.")
    return list(_displays), notices


def _add(shown: dict | None) -> None:
    if shown is None:
        return
    if len(_displays) >= MAX_DISPLAYS:
        _left_out["displays"] += 1
        return
    if shown["type"] == "table":
        cells = sum(len(row) for row in shown["rows"]) + len(shown["columns"])
        used = sum(sum(len(row) for row in d["rows"]) + len(d["columns"]) for d in _displays if d["type"] == "table")
        if used + cells > MAX_RUN_CELLS:
            _left_out["cells"] += 1
            return
    _displays.append(shown)


def _html_display(html) -> dict | None:
    if not isinstance(html, str):
        return None
    if len(html.encode("utf-8", "surrogatepass")) > MAX_HTML_BYTES:
        _left_out["html"] += 1
        return None
    return {"type": "html", "html": html.encode("utf-8", "replace").decode("utf-8")}


def _html_of(obj) -> dict | None:
    method = getattr(type(obj), "_repr_html_", None)
    if method is None:
        return None
    try:
        html = obj._repr_html_()
    except Exception:
        return None
    if isinstance(html, tuple) and len(html) == 2:  # (data, metadata)
        html = html[0]
    return _html_display(html)


def _table_of(obj) -> dict | None:
    pandas = sys.modules.get("pandas")
    if pandas is None:
        return None
    if isinstance(obj, pandas.Series):
        name = obj.name
        frame = obj.to_frame(name="" if name is None else name)
    elif isinstance(obj, pandas.DataFrame):
        frame = obj
    else:
        return None
    total_rows, total_columns = frame.shape
    shown = frame.iloc[:MAX_ROWS, :MAX_COLUMNS]
    index = shown.index
    default_index = isinstance(index, pandas.RangeIndex) and index.start == 0 and index.step == 1
    return {
        "type": "table",
        "columns": [_label(column) for column in shown.columns],
        "index": None if default_index else [_label(label) for label in index],
        "index_names": None if default_index else _level_names(index),
        "column_names": _level_names(shown.columns),
        "rows": [[_cell(value) for value in row] for row in shown.itertuples(index=False, name=None)],
        "total_rows": int(total_rows),
        "total_columns": int(total_columns),
        "truncated": bool(total_rows > MAX_ROWS or total_columns > MAX_COLUMNS),
    }


def _level_names(labels) -> list | None:
    """The names of an index's levels (groupby("region") -> ["region"]); None when none is named."""
    names = [None if name is None else _text(name) for name in labels.names]
    return names if any(name is not None for name in names) else None


def _label(label) -> str:
    if isinstance(label, tuple):  # MultiIndex
        return " / ".join(_text(part) for part in label)
    return _text(label)


def _text(value) -> str:
    text = str(value)
    return text if len(text) <= MAX_CELL_CHARS else text[: MAX_CELL_CHARS - 1] + "…"


def _cell(value):
    """A JSON value for one cell: bool, int, finite float, None for missing, else text."""
    if value is None:
        return None
    if isinstance(value, bool):
        return value
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        if isinstance(value, numpy.bool_):
            return bool(value)
        if isinstance(value, numpy.integer):
            value = int(value)
        elif isinstance(value, numpy.floating):
            value = float(value)
    if isinstance(value, int):
        # Beyond 2**53 a JSON number loses digits in JavaScript: kept exact as text.
        return value if abs(value) <= 2**53 else str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return value if math.isfinite(value) else str(value)
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        try:
            if value is pandas.NaT or value is pandas.NA:
                return None
        except Exception:
            pass
    return _text(value)
