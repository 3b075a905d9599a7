"""What both snapshot formats share: how a value that is not carried is reported, and the errors."""
from __future__ import annotations

import sys
from collections import namedtuple

PYTHON = "%d.%d" % sys.version_info[:2]
_MAX_REASON_CHARS = 500

# A global that is not carried: its name, the name of its type, and why.
NotCarried = namedtuple("NotCarried", "name type reason")


class SnapshotError(Exception):
    """The snapshot as a whole cannot be written or read."""


def type_name(value: object) -> str:
    return type(value).__name__


def describe(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception:
        text = type(exc).__name__
    return text[:_MAX_REASON_CHARS]
