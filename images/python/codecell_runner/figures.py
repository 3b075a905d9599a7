"""Matplotlib figures rendered to PNG files in the artifacts directory.

Every figure that is shown claims the next file name `figure-<n>.png` there with an exclusive
create, so the runner and any Python subprocess of the user's code (which inherit MPLBACKEND and
the image limit from the environment) number their figures without clashing. A figure beyond the
limit keeps its claimed file empty instead of being rendered: at the end the runner sends the
rendered files up to the job's maxImages and counts every other claim as omitted.

One image per figure: a figure that has not changed since it last became an image is not rendered
again. It became one when it was rendered here (plt.show(), display(), the end of the cell), or
when the user's code saved it with savefig() to a PNG file in /mnt/data: the host shows PNG files a
run writes there inline, so that file is the figure's image and the runner sends none of its own.
"Not changed" is matplotlib's `stale` flag, cleared when the figure becomes an image and set again
by any change to its artists; a saved file counts only while it is still the file that was written.
"""
from __future__ import annotations

import base64
import io
import os
import re
import sys
import weakref
from collections import namedtuple

ARTIFACTS_DIR = "/run/codecell/artifacts"
DATA_DIR = "/mnt/data"
MAX_IMAGES_ENV = "CODECELL_MAX_IMAGES"
DEFAULT_MAX_IMAGES = 10

_FILE_NAME = re.compile(r"figure-([1-9][0-9]*)\.png")
_next_number = 1  # where this process starts looking for a free name
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_sent_digests: set[bytes] = set()  # SHA-256 of every image this process has sent
# The host shows saved PNGs up to this size (MAX_INLINE_IMAGE_BYTES, src/engine/file-change-reporter.ts);
# a larger saved file is not its figure's image, so the figure is still rendered here.
_HOST_INLINE_LIMIT = 10 * 1024 * 1024

# figure -> None (rendered here) or (path, identity) of the PNG file savefig() wrote in DATA_DIR.
_imaged: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def render(figure) -> None:
    """Renders one figure as the next image, unless it is unchanged since it last became one."""
    if _is_imaged(figure):
        return
    write_image(lambda out: figure.savefig(out, format="png"))
    _imaged[figure] = None
    figure.stale = False  # savefig leaves it set; from here on only a real change sets it


def note_saved(figure, target, file_format) -> None:
    """Called after savefig(target): a PNG written into DATA_DIR becomes the figure's image."""
    if not isinstance(target, (str, os.PathLike)):
        return  # a file object: nothing the host will see
    path = os.fsdecode(os.fspath(target))
    if file_format is None and not os.path.splitext(path)[1]:
        path = path.rstrip(".") + ".png"  # what matplotlib does when neither names a format (default png)
    if (file_format or "png").lower() != "png" or not path.lower().endswith(".png"):
        return
    path = os.path.realpath(path)
    if not _in_data_dir(path):
        return
    identity = _file_identity(path)
    if identity is not None and identity[2] <= _HOST_INLINE_LIMIT:
        _imaged[figure] = (path, identity)
        figure.stale = False


def _in_data_dir(real_path: str) -> bool:
    # /mnt/data may itself be a link (the process executor's /proc/self/fd/N to the slot): a path
    # resolved with realpath() then starts with the slot's real directory, not with /mnt/data.
    roots = {DATA_DIR, os.path.realpath(DATA_DIR)}
    return any(real_path.startswith(root.rstrip(os.sep) + os.sep) for root in roots)


def _is_imaged(figure) -> bool:
    if figure not in _imaged or figure.stale:
        return False
    saved = _imaged[figure]
    return saved is None or _file_identity(saved[0]) == saved[1]


def _file_identity(path: str):
    try:
        status = os.stat(path)
    except OSError:
        return None
    return (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)


def write_png(data: bytes) -> bool:
    """Sends PNG bytes as the next image (display() of an image); False when they are not a PNG."""
    if not data.startswith(_PNG_SIGNATURE):
        return False
    write_image(lambda out: out.write(data))
    return True


def write_image(write) -> None:
    """Claims the next free figure-<n>.png and has `write(file)` fill it (only claims, past the limit).

    An image byte for byte the same as one this process already sent is dropped: the same PNG twice
    (display(img) then img.show(), an unchanged figure displayed in a loop) tells nothing new.
    """
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
            buffer = io.BytesIO()
            write(buffer)
            data = buffer.getvalue()
            digest = _digest(data)
            if digest not in _sent_digests:
                out.write(data)
    except BaseException:
        os.unlink(path)  # a half-written file must not be sent
        raise
    if digest in _sent_digests:
        os.unlink(path)  # the claim is given back, for the next image
        _next_number = number
    _sent_digests.add(digest)


def _digest(data: bytes) -> bytes:
    import hashlib  # at the first image: loading OpenSSL is not worth it at every container start

    return hashlib.sha256(data).digest()


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
