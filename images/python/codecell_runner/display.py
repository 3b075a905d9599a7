"""display(), as in a notebook, for a runner whose output is a stream of text and a list of PNGs.

What an object becomes:
  matplotlib figures (and seaborn grids)   an image, once per figure (figures.py)
  PIL images, objects with _repr_png_       an image (PNG; _repr_jpeg_ and other PIL formats converted)
  pandas DataFrames and Series              their text table on stdout, columns not wrapped, and
                                            a table display (rich.py)
  objects with _repr_html_ (HTML(...), …)   an HTML display (rich.py), and the text below
  objects with no __repr__ of their own     _repr_markdown_, _repr_html_ or _repr_latex_ source as text
  anything else                             repr() on stdout, as IPython's text/plain
The text stays on stdout for models, which read text; the displays are for pages that render them. The IPython.display classes (Image, HTML, Markdown, …) are here too, for the shim package
that `from IPython.display import …` finds (ipython_shim/).
"""
from __future__ import annotations

import base64
import io
import json
import os
import sys

from . import figures, rich

# Image modes a PNG holds as they are; others are converted first.
_PNG_MODES = {"1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"}
_TEXT_REPRS = ("_repr_markdown_", "_repr_html_", "_repr_latex_")


def display(*objs, include=None, exclude=None, metadata=None, transient=None, display_id=None,
            raw=False, clear=False, **kwargs):
    """IPython's display(): shows each object. `clear` is accepted; nothing shown can be taken back."""
    for obj in objs:
        if raw and isinstance(obj, dict):
            _show_mime_bundle(obj)
        else:
            show(obj)
    sys.stdout.flush()
    if display_id:
        return DisplayHandle(display_id if isinstance(display_id, str) else None)
    return None


def update_display(obj, *, display_id=None, **kwargs) -> None:
    """Nothing shown is updated in place here: the new state is shown after the old one."""
    show(obj)


def clear_output(wait=False) -> None:
    """Nothing shown can be taken back from a run's output; accepted so notebook code runs."""


class DisplayHandle:
    """What display(..., display_id=True) returns: update() shows the object again."""

    def __init__(self, display_id: str | None = None) -> None:
        self.display_id = display_id

    def display(self, obj, **kwargs) -> None:
        show(obj)

    def update(self, obj, **kwargs) -> None:
        show(obj)

    def clear(self) -> None:
        pass


def value_text(obj) -> str:
    """The text of a cell's trailing value: repr, or for HTML(...), Markdown(...) and other objects
    with no repr of their own, their source text (as display() shows them), not `<… object at 0x…>`."""
    if type(obj).__repr__ is object.__repr__:
        for method in _TEXT_REPRS:
            text = _call_repr(obj, method)
            if isinstance(text, str):
                return text
    return repr(obj)


def show(obj) -> None:
    """Shows one object: as an image when it is one, else as text on stdout."""
    if obj is None:
        return
    if not show_image(obj):
        text = _text_of(obj)
        rich.record(obj, stdout_text=text + "\n")
        print(text, flush=True)


def show_value(obj) -> None:
    """A cell's trailing value: an image is shown; a table or HTML is recorded as a display (its
    text is the cell's value, not printed)."""
    if obj is not None and not show_image(obj):
        rich.record(obj)


def show_image(obj) -> bool:
    """Shows `obj` as an image when it is one (a figure, a PIL image, _repr_png_); False when not."""
    figure = _figure_of(obj)
    if figure is not None:
        figures.render(figure)
        return True
    pil_image = sys.modules.get("PIL.Image")
    if pil_image is not None and isinstance(obj, pil_image.Image):
        figures.write_image(lambda out: _save_png(obj, out))
        return True
    for method, decode in (("_repr_png_", figures.write_png), ("_repr_jpeg_", _write_as_png)):
        data = _call_repr(obj, method)
        if isinstance(data, str):
            data = base64.b64decode(data)
        if isinstance(data, (bytes, bytearray)) and decode(bytes(data)):
            return True
    return False


def _figure_of(obj):
    """The matplotlib figure `obj` is, or holds when it is a seaborn grid; else None."""
    figure_module = sys.modules.get("matplotlib.figure")
    if figure_module is None:
        return None
    if isinstance(obj, figure_module.Figure):
        return obj
    if type(obj).__module__.startswith("seaborn."):  # FacetGrid, PairGrid, JointGrid, ClusterGrid
        figure = getattr(obj, "figure", None)
        if isinstance(figure, figure_module.Figure):
            return figure
    return None


def _save_png(image, out) -> None:
    if image.mode not in _PNG_MODES:
        if image.mode == "F":
            image = image.convert("L")
        else:
            image = image.convert("RGBA" if "A" in image.mode else "RGB")
    image.save(out, format="PNG")


def _write_as_png(data: bytes) -> bool:
    """Image bytes of another format, converted with PIL (the result frame carries PNG only)."""
    if figures.write_png(data):
        return True
    try:
        from PIL import Image
        image = Image.open(io.BytesIO(data))
        image.load()
    except Exception:
        return False
    figures.write_image(lambda out: _save_png(image, out))
    return True


def _call_repr(obj, method: str):
    function = getattr(type(obj), method, None)
    if function is None:
        return None
    try:
        data = getattr(obj, method)()
    except Exception:
        return None  # as in IPython: a failing rich repr falls back to the next
    if isinstance(data, tuple) and len(data) == 2:  # (data, metadata)
        data = data[0]
    return data


def _text_of(obj) -> str:
    pandas = sys.modules.get("pandas")
    if pandas is not None:
        if isinstance(obj, (pandas.DataFrame, pandas.Series)):
            with pandas.option_context("display.expand_frame_repr", False):
                return repr(obj)
        styler = sys.modules.get("pandas.io.formats.style")
        if styler is not None and isinstance(obj, styler.Styler):
            try:
                return obj.to_string()
            except Exception:
                with pandas.option_context("display.expand_frame_repr", False):
                    return repr(obj.data)
    return value_text(obj)


def _show_mime_bundle(bundle: dict) -> None:
    """display(..., raw=True) of a {mime type: data} dict."""
    png = bundle.get("image/png")
    if png is not None:
        data = base64.b64decode(png) if isinstance(png, str) else png
        if isinstance(data, (bytes, bytearray)) and figures.write_png(bytes(data)):
            return
    if isinstance(bundle.get("text/html"), str):
        rich.record_html(bundle["text/html"])
    for mime_type in ("text/plain", "text/markdown", "text/html", "text/latex", "application/json"):
        if mime_type in bundle:
            data = bundle[mime_type]
            print(data if isinstance(data, str) else json.dumps(data, indent=2), flush=True)
            return


# --- the objects of IPython.display --------------------------------------------------------------


class _TextObject:
    """HTML, Markdown, Latex, …: text from `data` or a file; a URL cannot be fetched here."""

    _repr_method = "_repr_markdown_"

    def __init__(self, data=None, url=None, filename=None, metadata=None, **kwargs) -> None:
        if data is not None and not isinstance(data, str) and not isinstance(self, JSON):
            data = str(data)
        if filename is not None:
            with open(filename, encoding="utf-8") as file:
                data = file.read()
        if data is None and url is not None:
            data = f"({type(self).__name__} from {url}: not fetched, this sandbox has no network access)"
        self.data = data
        self.url = url
        self.filename = filename
        self.metadata = metadata

    def _text(self) -> str:
        return "" if self.data is None else self.data


class HTML(_TextObject):
    def _repr_html_(self) -> str:
        return self._text()


class Markdown(_TextObject):
    def _repr_markdown_(self) -> str:
        return self._text()


class Latex(_TextObject):
    def _repr_latex_(self) -> str:
        return self._text()


class Math(Latex):
    def _repr_latex_(self) -> str:
        text = self._text().strip()
        return text if text.startswith("$") else f"$\\displaystyle {text}$"


class SVG(HTML):
    """SVG source is shown as text: the result frame carries PNG images only."""


class JSON(_TextObject):
    def __init__(self, data=None, url=None, filename=None, expanded=False, metadata=None, **kwargs) -> None:
        super().__init__(data=data, url=url, filename=filename, metadata=metadata)
        if isinstance(self.data, str) and filename is not None:
            self.data = json.loads(self.data)

    def _repr_markdown_(self) -> str:
        return json.dumps(self.data, indent=2, ensure_ascii=False, default=str)


class Code(_TextObject):
    def __init__(self, data=None, url=None, filename=None, language=None, **kwargs) -> None:
        super().__init__(data=data, url=url, filename=filename)
        self.language = language or ""

    def _repr_markdown_(self) -> str:
        return f"```{self.language}\n{self._text()}\n```"


class FileLink:
    def __init__(self, path, url_prefix="", result_html_prefix="", result_html_suffix="") -> None:
        self.path = os.fspath(path)

    def _repr_markdown_(self) -> str:
        return self.path


class Image:
    """IPython.display.Image: PNG bytes for the result, converted from other formats with PIL."""

    def __init__(self, data=None, url=None, filename=None, format=None, embed=None, width=None,
                 height=None, **kwargs) -> None:
        if isinstance(data, str) and filename is None and url is None:
            if data.startswith(("http://", "https://")):
                url, data = data, None
            else:
                filename, data = data, None
        if filename is not None:
            with open(filename, "rb") as file:
                data = file.read()
        self.data = data
        self.url = url
        self.filename = filename
        self.format = format
        self.width = width
        self.height = height

    def _repr_png_(self):
        return self.data if isinstance(self.data, bytes) and self.data.startswith(b"\x89PNG") else None

    def _repr_jpeg_(self):
        return self.data if isinstance(self.data, bytes) else None

    def _repr_markdown_(self) -> str:
        if self.url is not None and self.data is None:
            return f"(Image from {self.url}: not fetched, this sandbox has no network access)"
        return f"(Image {self.filename or ''}: not an image format that can be shown)"
