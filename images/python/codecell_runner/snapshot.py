"""Carrying the user's globals from one container to the next (images/PROTOCOL.md, "Snapshots").

Every global whose name does not start with `__` is carried. Modules are saved by name and
imported again. Everything else is pickled with snapshot_pickling.SnapshotPickler (cloudpickle,
which pickles the functions and classes of the user's `__main__` by value, plus fixes).

Values are saved in groups, each with its own pickle memo: a value is grouped with the others
it shares objects with (`alias = shared`, two closures over one cell, a list of the instances
another global holds), so that the sharing comes back; most values are a group of one. A value
that fails to restore takes no other group with it, and in its own group only the values that
refer to its objects (snapshot_loader.SharedMemoLoader).

Saving, in three steps:
1. each value is pickled on its own into nothing (snapshot_pickling.SharingProbe), which finds
   the values that cannot be pickled and the objects each value reaches;
2. the values that reach a common object are joined into groups, and each group is written;
3. each group up to a size budget is restored at once in a scratch `__main__`, so that a value
   that would fail to restore is reported by the run that made it, and left out of the snapshot.

File layout:

    MAGIC
    groups   per group, one pickle per value, all by one Pickler (one memo per group)
    index    pickle of {"python": "3.11", "modules": [(name, module)], "groups": [[(name, type, start, end)]]}
    footer   offset of the index (8 bytes, little-endian), MAGIC

Files of the first format (one memo for all values, snapshot_v1.py) are still restored.
"""
from __future__ import annotations

import contextlib
import errno
import importlib
import io
import os
import pickle
import struct
import sys
import threading
import types
import weakref

from cloudpickle import cloudpickle as _cloudpickle_internals

from . import snapshot_v1
from .snapshot_format import PYTHON, NotCarried, SnapshotError, describe, type_name
from .snapshot_loader import SharedMemoLoader
from .snapshot_pickling import PICKLE_PROTOCOL, SharingProbe, SnapshotPickler
# Snapshots of the first format name `codecell_runner.snapshot._main_globals` in their pickles.
from .snapshot_pickling import main_globals as _main_globals  # noqa: F401

__all__ = ["NotCarried", "SnapshotError", "save", "restore"]

MAGIC = b"CCPYSNP2"
_FOOTER = struct.Struct("<Q8s")

# Test-restore at save time: groups whose pickle is at most this large, up to this much in all.
# Larger ones (big arrays and frames, which restore reliably) are carried untested.
TEST_RESTORE_GROUP_BYTES = 16 * 1024 * 1024
TEST_RESTORE_TOTAL_BYTES = 64 * 1024 * 1024

# Errors of the snapshot file itself (a full disk): the whole save fails, no value is to blame.
_WRITE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EROFS, errno.EBADF}

_LOCK_TYPES = (
    type(threading.Lock()),
    type(threading.RLock()),
    threading.Condition,
    threading.Semaphore,
    threading.Event,
    threading.Barrier,
)


# --- saving -----------------------------------------------------------------------------------


def save(namespace: dict, path: str) -> list[NotCarried]:
    """Writes the carried globals of `namespace` to `path` (via `path`.tmp and a rename)."""
    not_carried: list[NotCarried] = []
    modules: list[tuple[str, str]] = []
    candidates: list[tuple[str, object]] = []
    for name, value in list(namespace.items()):
        if name.startswith("__"):
            continue
        if isinstance(value, types.ModuleType):
            modules.append((name, value.__name__))
            continue
        reason = _uncarriable_reason(value)
        if reason is not None:
            not_carried.append(NotCarried(name, type_name(value), reason))
            continue
        candidates.append((name, value))

    groups = _group_by_sharing(candidates, namespace, not_carried)
    temporary = path + ".tmp"
    try:
        with open(temporary, "w+b") as file:
            file.write(MAGIC)
            writer = _GroupWriter(file, namespace, not_carried)
            for members in groups:
                writer.write(members)
            writer.test_restore()
            file.seek(0, os.SEEK_END)
            index_offset = file.tell()
            index = {"python": PYTHON, "modules": modules, "groups": writer.index()}
            pickle.dump(index, file, protocol=PICKLE_PROTOCOL)
            file.write(_FOOTER.pack(index_offset, MAGIC))
        os.replace(temporary, path)
    except BaseException:
        _remove_quietly(temporary)
        raise
    order = {name: position for position, name in enumerate(namespace)}
    not_carried.sort(key=lambda item: order.get(item.name, len(order)))
    return not_carried


Members = list  # [(name, value)], in the order of the namespace


def _group_by_sharing(candidates, namespace: dict, not_carried: list[NotCarried]) -> list[Members]:
    """Pickles each value on its own into nothing (large buffers out of band, so not copied):
    reports the values that cannot be pickled, and joins the others into groups that share objects."""
    picklable: list[tuple[str, object]] = []
    reached: list[dict[int, object]] = []  # kept until the grouping is done, so no id is reused meanwhile
    for name, value in candidates:
        try:
            objects = SharingProbe(namespace).probe(value)
        except Exception as exc:
            not_carried.append(NotCarried(name, type_name(value), f"cannot be pickled: {describe(exc)}"))
            continue
        picklable.append((name, value))
        reached.append(objects)

    parent = list(range(len(picklable)))

    def root(position: int) -> int:
        while parent[position] != position:
            parent[position] = parent[parent[position]]
            position = parent[position]
        return position

    owner: dict[int, int] = {}  # object id -> position of the first value that reached it
    for position, ids in enumerate(reached):
        for object_id in ids:
            first = owner.setdefault(object_id, position)
            if first != position:
                parent[root(position)] = root(first)
    del reached

    groups: dict[int, Members] = {}
    for position, member in enumerate(picklable):
        groups.setdefault(root(position), []).append(member)
    return list(groups.values())


class _GroupWriter:
    """Writes groups to the snapshot file and test-restores them; keeps the index of the good ones.

    A group is written by one Pickler, one `dump` per value, so that its values share objects
    again at restore and each still has its own byte range: one that fails to restore costs
    only itself and the values of its group that refer to its objects (SharedMemoLoader).
    """

    def __init__(self, file, namespace: dict, not_carried: list[NotCarried]) -> None:
        self._file = file
        self._namespace = namespace
        self._not_carried = not_carried
        self._groups: list[list[tuple[str, str, int, int]]] = []  # [(name, type, start, end)], in file order
        self._values: dict[str, object] = {}
        self._tested_bytes = 0

    def index(self) -> list[list[tuple[str, str, int, int]]]:
        return self._groups

    def write(self, members: Members) -> None:
        """Appends one group; if it fails to pickle only in company, each member as a group of one."""
        written = self._append(members)
        if written is not None:
            self._groups.append(written)
            return
        for member in members:
            alone = self._append([member])
            if alone is not None:
                self._groups.append(alone)

    def _append(self, members: Members) -> list[tuple[str, str, int, int]] | None:
        file = self._file
        file.seek(0, os.SEEK_END)
        first = file.tell()
        pickler = SnapshotPickler(file, self._namespace)
        entries = []
        for name, value in members:
            start = file.tell()
            try:
                pickler.dump(value)
            except Exception as exc:
                if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
                    raise SnapshotError(f"cannot write the snapshot: {exc}") from exc
                file.seek(first)
                file.truncate()
                if len(members) == 1:
                    self._not_carried.append(NotCarried(name, type_name(value), f"cannot be pickled: {describe(exc)}"))
                return None
            entries.append((name, type_name(value), start, file.tell()))
            self._values[name] = value
        return entries

    def test_restore(self) -> None:
        """Restores the groups within the budget, in file order, into a scratch `__main__`, as the
        next run will. The values that fail are reported and the rest of their group written again
        without them (so the next run neither fails on them nor reports them a second time)."""
        with _scratch_main() as scratch:
            for position in range(len(self._groups)):
                while self._groups[position]:
                    failed = self._test(self._groups[position], scratch)
                    if not failed:
                        break
                    self._not_carried.extend(failed)
                    lost = {item.name for item in failed}
                    group = self._groups[position]
                    survivors = [(name, self._values[name]) for name, _, _, _ in group if name not in lost]
                    self._groups[position] = (self._append(survivors) or []) if survivors else []
            self._groups = [group for group in self._groups if group]

    def _test(self, entries, scratch: dict) -> list[NotCarried]:
        size = sum(end - start for _, _, start, end in entries)
        if size > TEST_RESTORE_GROUP_BYTES or self._tested_bytes + size > TEST_RESTORE_TOTAL_BYTES:
            return []  # not tested: carried as it is
        self._tested_bytes += size
        failed: list[NotCarried] = []
        loader = SharedMemoLoader(self._file, entries, failure_prefix="cannot be restored in the next run: ")
        loader.load_into(scratch, failed)
        return failed


@contextlib.contextmanager
def _scratch_main():
    """An empty `__main__` for test restores, and an empty registry of cloudpickle's classes, so
    that restoring a class makes a new one instead of updating the user's (the user's objects are
    left as they are)."""
    real_main = sys.modules["__main__"]
    real_tracker = _cloudpickle_internals._DYNAMIC_CLASS_TRACKER_BY_ID
    scratch = types.ModuleType("__main__")
    sys.modules["__main__"] = scratch
    _cloudpickle_internals._DYNAMIC_CLASS_TRACKER_BY_ID = weakref.WeakValueDictionary()
    try:
        yield scratch.__dict__
    finally:
        sys.modules["__main__"] = real_main
        _cloudpickle_internals._DYNAMIC_CLASS_TRACKER_BY_ID = real_tracker


def _uncarriable_reason(value: object) -> str | None:
    """Why a value of a kind that never survives a pickle cannot be carried (None: try it)."""
    if isinstance(value, io.IOBase) and not isinstance(value, (io.BytesIO, io.StringIO)):
        return "open file objects cannot be carried between runs; reopen it"
    if isinstance(value, (types.GeneratorType, types.AsyncGeneratorType, types.CoroutineType)):
        return "generators and coroutines cannot be carried between runs; create it again"
    if isinstance(value, threading.Thread):
        return "threads cannot be carried between runs; start it again"
    if isinstance(value, _LOCK_TYPES):
        return "locks cannot be carried between runs; create it again"
    socket = sys.modules.get("socket")  # no socket can exist unless the module was imported
    if socket is not None and isinstance(value, socket.socket):
        return "sockets cannot be carried between runs"
    return None


# --- restoring --------------------------------------------------------------------------------


def restore(path: str, namespace: dict) -> list[NotCarried]:
    """Puts the globals saved in `path` into `namespace`, which must be `__main__`'s.

    Values that fail are reported, never raised; SnapshotError means the file is not a snapshot.
    """
    with open(path, "rb") as file:
        magic = file.read(len(MAGIC))
    if magic == snapshot_v1.MAGIC:
        return snapshot_v1.restore(path, namespace)
    not_carried: list[NotCarried] = []
    with open(path, "rb") as file:
        index = _read_index(file)
        for name, module_name in index["modules"]:
            try:
                namespace[name] = importlib.import_module(module_name)
            except BaseException as exc:
                not_carried.append(NotCarried(name, "module", f"restore failed: {describe(exc)}"))
        if index["python"] != PYTHON:
            reason = f"restore failed: saved by Python {index['python']}, this is Python {PYTHON}"
            for entries in index["groups"]:
                not_carried.extend(NotCarried(name, type_, reason) for name, type_, _, _ in entries)
            return not_carried
        for entries in index["groups"]:
            SharedMemoLoader(file, entries).load_into(namespace, not_carried)
    return not_carried


def _read_index(file) -> dict:
    try:
        if file.read(len(MAGIC)) != MAGIC:
            raise SnapshotError("not a Python snapshot")
        file.seek(-_FOOTER.size, os.SEEK_END)
        index_offset, magic = _FOOTER.unpack(file.read(_FOOTER.size))
        if magic != MAGIC:
            raise SnapshotError("the snapshot is truncated")
        file.seek(index_offset)
        index = pickle.load(file)
    except SnapshotError:
        raise
    except Exception as exc:
        raise SnapshotError(f"the snapshot is unreadable: {describe(exc)}") from exc
    if not isinstance(index, dict) or not {"python", "modules", "groups"} <= index.keys():
        raise SnapshotError("the snapshot has no valid index")
    return index


# --- helpers ----------------------------------------------------------------------------------


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
