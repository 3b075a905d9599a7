"""Matplotlib figures rendered to PNG files in the artifacts directory.

Every figure that is shown claims the next file name `figure-<n>.png` there with an exclusive
create, so the runner and any Python subprocess of the user's code (which inherit MPLBACKEND and
the image limit from the environment) number their figures without clashing. A figure beyond the
limit keeps its claimed file empty instead of being rendered: at the end the runner sends the
rendered files up to the job's maxImages and counts every other claim as omitted.
"""
from __future__ import annotations

import base64
import os
import re
import sys
from collections import namedtuple

ARTIFACTS_DIR = "/run/codecell/artifacts"
MAX_IMAGES_ENV = "CODECELL_MAX_IMAGES"
DEFAULT_MAX_IMAGES = 10

_FILE_NAME = re.compile(r"figure-([1-9][0-9]*)\.png")
_next_number = 1  # where this process starts looking for a free name


def render(figure) -> None:
    """Renders one figure to the next free figure-<n>.png (or only claims it, past the limit)."""
    global _next_number
    number = _next_number
    while True:
        path = os.path.join(ARTIFACTS_DIR, f"figure-{number}.png")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            number += 1
            continue
        break
    _next_number = number + 1
    if number > _max_images():
        os.close(fd)
        return
    try:
        with os.fdopen(fd, "wb") as out:
            figure.savefig(out, format="png")
    except BaseException:
        os.unlink(path)  # a half-written file must not be sent
        raise


def show_open_figures() -> None:
    """Renders every figure pyplot has open, then closes them all (what plt.show() does here)."""
    helpers = sys.modules.get("matplotlib._pylab_helpers")
    if helpers is None:  # pyplot was never imported, so there is nothing open
        return
    try:
        for manager in helpers.Gcf.get_all_fig_managers():
            render(manager.canvas.figure)
    finally:
        helpers.Gcf.destroy_all()


# images: list of {"name", "mimeType", "base64"}; omitted: how many were left out.
CollectedImages = namedtuple("CollectedImages", "images omitted")


def collect(max_images: int) -> CollectedImages:
    """The rendered figures to send, in the order they were shown, and how many were left out."""
    try:
        names = os.listdir(ARTIFACTS_DIR)
    except FileNotFoundError:
        return CollectedImages(images=[], omitted=0)
    numbered = sorted(
        (int(match.group(1)), name) for name in names if (match := _FILE_NAME.fullmatch(name))
    )
    images, omitted = [], 0
    for number, name in numbered:
        data = b""
        if number <= max_images:
            with open(os.path.join(ARTIFACTS_DIR, name), "rb") as file:
                data = file.read()
        if data:
            images.append(
                {"name": name, "mimeType": "image/png", "base64": base64.b64encode(data).decode("ascii")}
            )
        else:
            omitted += 1
    return CollectedImages(images=images, omitted=omitted)


def _max_images() -> int:
    try:
        return max(0, int(os.environ.get(MAX_IMAGES_ENV, DEFAULT_MAX_IMAGES)))
    except ValueError:
        return DEFAULT_MAX_IMAGES
