"""What both snapshot formats share: how a value that is not carried is reported, and the errors."""
from __future__ import annotations

import importlib
import os
import pickle
import struct
import sys
from collections import namedtuple

PYTHON = "%d.%d" % sys.version_info[:2]
# Both formats end with the index offset and the format's magic.
FOOTER = struct.Struct("<Q8s")
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


def read_index(file, magic: bytes, required_keys: set[str]) -> dict:
    """The index of a snapshot file in the format `magic` names: a pickled dict at the offset the footer gives."""
    try:
        if file.read(len(magic)) != magic:
            raise SnapshotError("not a Python snapshot")
        file.seek(-FOOTER.size, os.SEEK_END)
        index_offset, found = FOOTER.unpack(file.read(FOOTER.size))
        if found != magic:
            raise SnapshotError("the snapshot is truncated")
        file.seek(index_offset)
        index = pickle.load(file)
    except SnapshotError:
        raise
    except Exception as exc:
        raise SnapshotError(f"the snapshot is unreadable: {describe(exc)}") from exc
    if not isinstance(index, dict) or not required_keys <= index.keys():
        raise SnapshotError("the snapshot has no valid index")
    return index


def restore_modules(index: dict, namespace: dict, not_carried: list) -> str | None:
    """Imports the index's modules into `namespace`; returns why no value can be read (another
    Python saved them), or None."""
    for name, module_name in index["modules"]:
        try:
            namespace[name] = importlib.import_module(module_name)
        except BaseException as exc:
            not_carried.append(NotCarried(name, "module", f"restore failed: {describe(exc)}"))
    if index["python"] != PYTHON:
        return f"restore failed: saved by Python {index['python']}, this is Python {PYTHON}"
    return None
