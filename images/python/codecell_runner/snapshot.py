"""Carrying the user's globals from one container to the next (images/PROTOCOL.md, "Snapshots").

Every global whose name does not start with `__` is carried. Modules are saved by name and
imported again. Everything else is pickled with snapshot_pickling.SnapshotPickler (cloudpickle,
which pickles the functions and classes of the user's `__main__` by value, plus fixes).

Values are saved in groups, one pickle (with its own memo) per group: a value is grouped with
the others it shares objects with (`alias = shared`, two closures over one cell, a list of the
instances another global holds), so that the sharing comes back; most values are a group of one.
A group that fails to restore takes no other group with it.

Saving, in three steps:
1. each value is pickled on its own into nothing, which finds the values that cannot be pickled
   and the objects each value reaches;
2. the values that reach a common object are joined into groups, and each group is written;
3. each group up to a size budget is restored at once in a scratch `__main__`, so that a value
   that would fail to restore is reported by the run that made it, and left out of the snapshot.

File layout:

    MAGIC
    groups   one pickle per group: the tuple of its values
    index    pickle of {"python": "3.11", "modules": [(name, module)], "groups": [(start, end, [(name, type)])]}
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
from .snapshot_pickling import PICKLE_PROTOCOL, SnapshotPickler, shared_object_ids
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
    reached: list[set[int]] = []
    memos = []  # kept until the grouping is done, so no id of a pickler's object is reused meanwhile
    for name, value in candidates:
        pickler = SnapshotPickler(_Discard(), namespace, buffer_callback=lambda buffer: False)
        try:
            pickler.dump(value)
        except Exception as exc:
            not_carried.append(NotCarried(name, type_name(value), f"cannot be pickled: {describe(exc)}"))
            continue
        memo = pickler.memo.copy()
        memos.append(memo)
        picklable.append((name, value))
        reached.append(shared_object_ids(memo))

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
    del memos

    groups: dict[int, Members] = {}
    for position, member in enumerate(picklable):
        groups.setdefault(root(position), []).append(member)
    return list(groups.values())


class _Discard:
    def write(self, data) -> int:
        return len(data)


class _GroupWriter:
    """Writes groups to the snapshot file and test-restores them; keeps the index of the good ones."""

    def __init__(self, file, namespace: dict, not_carried: list[NotCarried]) -> None:
        self._file = file
        self._namespace = namespace
        self._not_carried = not_carried
        self._groups: list[tuple[int, int, Members]] = []  # (start, end, members), in file order
        self._tested_bytes = 0

    def index(self) -> list[tuple[int, int, list[tuple[str, str]]]]:
        return [(start, end, [(name, type_name(value)) for name, value in members]) for start, end, members in self._groups]

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

    def _append(self, members: Members) -> tuple[int, int, Members] | None:
        file = self._file
        file.seek(0, os.SEEK_END)
        start = file.tell()
        try:
            SnapshotPickler(file, self._namespace).dump(tuple(value for _, value in members))
        except Exception as exc:
            if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
                raise SnapshotError(f"cannot write the snapshot: {exc}") from exc
            file.seek(start)
            file.truncate()
            if len(members) == 1:
                name, value = members[0]
                self._not_carried.append(NotCarried(name, type_name(value), f"cannot be pickled: {describe(exc)}"))
            return None
        return (start, file.tell(), members)

    def test_restore(self) -> None:
        """Restores the groups within the budget, in file order, into a scratch `__main__`, as the
        next run will; a group that fails is retried after the others (it may look up a global
        by name), then left out, and only its culprits are reported."""
        with _scratch_main() as scratch:
            failed = []
            for group in list(self._groups):
                error = self._try_restore(group, scratch)
                if error is not None:
                    failed.append(group)
            for group in failed:
                error = self._try_restore(group, scratch)
                if error is not None:
                    self._groups.remove(group)
                    self._carry_without_culprits(group[2], error, scratch)

    def _try_restore(self, group, scratch: dict) -> BaseException | None:
        start, end, members = group
        size = end - start
        if size > TEST_RESTORE_GROUP_BYTES or self._tested_bytes + size > TEST_RESTORE_TOTAL_BYTES:
            return None  # not tested: carried as it is
        self._tested_bytes += size
        self._file.seek(start)
        data = self._file.read(size)
        return _load_into(data, members, scratch)

    def _carry_without_culprits(self, members: Members, error: BaseException, scratch: dict) -> None:
        if len(members) == 1:
            self._report_unrestorable(members[0], error)
            return
        survivors = []
        for member in members:
            alone_error = _pickle_and_load([member], self._namespace, scratch)
            if alone_error is None:
                survivors.append(member)
            else:
                self._report_unrestorable(member, alone_error)
        if 0 < len(survivors) < len(members):
            written = self._append(survivors)
            if written is not None and self._try_restore(written, scratch) is None:
                self._groups.append(written)
                return
        for member in survivors:  # they fail only in company: one by one
            written = self._append([member])
            if written is None:
                continue  # reported by _append
            alone_error = self._try_restore(written, scratch)
            if alone_error is None:
                self._groups.append(written)
            else:
                self._report_unrestorable(member, alone_error)

    def _report_unrestorable(self, member, error: BaseException) -> None:
        name, value = member
        reason = f"cannot be restored in the next run: {describe(error)}"
        self._not_carried.append(NotCarried(name, type_name(value), reason))


def _pickle_and_load(members: Members, namespace: dict, scratch: dict) -> BaseException | None:
    buffer = io.BytesIO()
    try:
        SnapshotPickler(buffer, namespace).dump(tuple(value for _, value in members))
    except Exception as exc:
        return exc
    return _load_into(buffer.getvalue(), members, scratch)


def _load_into(data: bytes, members: Members, scratch: dict) -> BaseException | None:
    try:
        values = pickle.loads(data)
    except Exception as exc:
        return exc
    for (name, _), value in zip(members, values):
        scratch[name] = value
    return None


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
            for _, _, members in index["groups"]:
                not_carried.extend(NotCarried(name, type_, reason) for name, type_ in members)
            return not_carried
        _load_groups(file, index["groups"], namespace, not_carried)
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


def _load_groups(file, groups, namespace: dict, not_carried: list[NotCarried]) -> None:
    """Loads each group on its own; one that fails is tried again after the others (it may look
    up a global restored later), then reported."""
    failed = []
    for group in groups:
        if _load_group(file, group, namespace) is not None:
            failed.append(group)
    for group in failed:
        error = _load_group(file, group, namespace)
        if error is None:
            continue
        _, _, members = group
        names = [name for name, _ in members]
        for name, type_ in members:
            reason = f"restore failed: {describe(error)}"
            others = [other for other in names if other != name]
            if others:
                reason += f" (saved together with {', '.join(others)}, which share objects with it)"
            not_carried.append(NotCarried(name, type_, reason))


def _load_group(file, group, namespace: dict) -> BaseException | None:
    start, _, members = group
    file.seek(start)
    try:
        values = pickle.Unpickler(file).load()
    except Exception as exc:
        return exc
    for (name, _), value in zip(members, values):
        namespace[name] = value
    return None


# --- helpers ----------------------------------------------------------------------------------


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
