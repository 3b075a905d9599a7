"""Notebook habits in a plain Python process, installed once at warm-up:
  display() as a builtin (display.py); the stand-in shell that magics.py rewrites % and ! lines to
  call (shell.py), under a builtin name of the runner's own, since there is no get_ipython() here;
  `from IPython.display import display, Image, HTML, Markdown` through the shim package in
  ipython_shim/ (last on sys.path: a real IPython wins); and PIL's Image.show() showing the image
  inline instead of looking for a desktop viewer.
"""
from __future__ import annotations

import builtins
import os
import sys

from . import display, magics, shell

IPYTHON_SHIM_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ipython_shim")


def install() -> None:
    builtins.display = display.display
    setattr(builtins, magics.SHELL_BUILTIN, shell.get_shell)
    if IPYTHON_SHIM_DIR not in sys.path:
        sys.path.append(IPYTHON_SHIM_DIR)
    hooks = {"PIL.ImageShow": _show_pil_images_inline}
    for name in [name for name in hooks if name in sys.modules]:  # imported at warm-up (CODECELL_PRELOAD)
        hooks.pop(name)(sys.modules[name])
    sys.meta_path.insert(0, _AfterImport(hooks))


def _show_pil_images_inline(image_show) -> None:
    """Registers a viewer, first in line, that shows the image as display() would (PIL's own
    mechanism for viewers: Image.show() asks each registered viewer in turn)."""

    class InlineViewer(image_show.Viewer):
        def show(self, image, **options) -> int:
            display.display(image)
            return 1

    image_show.register(InlineViewer(), order=-1)


class _AfterImport:
    """A meta path finder that calls hook(module) right after a named module is first imported.

    Hand-written: the standard library has no post-import hook. It finds the module with the other
    finders and wraps only that module's loader; every other import passes through untouched.
    """

    def __init__(self, hooks: dict) -> None:
        self._hooks = hooks

    def find_spec(self, name, path=None, target=None):
        hook = self._hooks.get(name)
        if hook is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _HookedLoader(spec.loader, hook)
        return spec


class _HookedLoader:
    def __init__(self, loader, hook) -> None:
        self._loader = loader
        self._hook = hook

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        self._loader.exec_module(module)
        try:
            self._hook(module)
        except Exception as exc:  # the user's import must not fail because of the runner's extra
            print(f"codecell: could not set up {module.__name__}: {exc}", file=sys.stderr, flush=True)

    def __getattr__(self, name):
        return getattr(self._loader, name)
