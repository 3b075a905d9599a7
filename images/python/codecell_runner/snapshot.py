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
1. each value is written on its own (snapshot_pickling.SharingProbe notes the objects it reaches);
   the ones that cannot be pickled are reported;
2. the values that reach a common object are written again, together as one group (their
   single copies are left out of the index, and their bytes removed once they add up);
3. each group up to a size budget is restored at once in a scratch `__main__`, so that a value
   that would fail to restore is reported by the run that made it, and left out of the snapshot.

File layout:

    MAGIC
    groups   per group, one pickle per value, all by one Pickler (one memo per group)
    index    pickle of {"python": "3.11", "modules": [(name, module)], "groups": [[(name, type, start, end)]],
                        "aliases": [(name, earlier name bound to the same object)]}
    footer   offset of the index (8 bytes, little-endian), MAGIC

Files of the first format (one memo for all values, snapshot_v1.py) are still restored.
"""
from __future__ import annotations

import contextlib
import errno
import io
import os
import pickle
import sys
import threading
import types
import weakref

from cloudpickle import cloudpickle as _cloudpickle_internals

from . import snapshot_v1
from .snapshot_format import FOOTER, PYTHON, NotCarried, SnapshotError, describe, read_index, restore_modules, type_name
from .snapshot_loader import SharedMemoLoader
from .snapshot_blobs import BlobWriter, RestoredBlobs, entry_refs, referenced_names, write_list
from .snapshot_pickling import PICKLE_PROTOCOL, SharedObjects, SharingProbe, SnapshotPickler
# Snapshots of the first format name `codecell_runner.snapshot._main_globals` in their pickles.
from .snapshot_pickling import main_globals as _main_globals  # noqa: F401

__all__ = ["NotCarried", "SnapshotError", "save", "restore"]

MAGIC = b"CCPYSNP3"
# The format before blobs: the same layout, every buffer inside the pickles. Still restored.
MAGIC_V2 = b"CCPYSNP2"
BLOB_FOLDER = "blobs"  # beside the snapshot file, in /run/codecell/in and /run/codecell/out

# The blobs mapped by this process's restore: a buffer still unchanged in one is not written again.
_restored_blobs: RestoredBlobs | None = None

# Test-restore at save time: groups whose pickle is at most this large, up to this much in all
# (a restored copy can take ten times its pickle in memory). Larger ones, mostly data (arrays,
# frames, long lists), are carried untested: a failure shows at the next run's restore.
TEST_RESTORE_GROUP_BYTES = 4 * 1024 * 1024
TEST_RESTORE_TOTAL_BYTES = 16 * 1024 * 1024
# Values of a tested group whose pickle is at most this large stay in the scratch `__main__` (a
# later group may look them up by name); larger ones are let go at once, to bound the memory.
_KEEP_IN_SCRATCH_BYTES = 64 * 1024
# Dead bytes (values written alone, then again with the values they share objects with) are
# removed from the file once there are this many.
_COMPACT_DEAD_BYTES = 1024 * 1024
_COPY_CHUNK_BYTES = 1024 * 1024

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
    aliases: list[tuple[str, str]] = []  # (name, the earlier name bound to the same object)
    first_names: dict[int, str] = {}
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
        first_name = first_names.setdefault(id(value), name)
        if first_name != name:
            aliases.append((name, first_name))  # saved once, whatever its size
            continue
        candidates.append((name, value))

    temporary = path + ".tmp"
    blobs = BlobWriter(os.path.join(os.path.dirname(path), BLOB_FOLDER), _restored_blobs)
    try:
        with open(temporary, "w+b") as file:
            file.write(MAGIC)
            writer = _GroupWriter(file, namespace, not_carried, blobs)
            writer.write_values(candidates)
            writer.test_restore()
            writer.compact()
            file.seek(0, os.SEEK_END)
            index_offset = file.tell()
            carried = {entry[0] for group in writer.index() for entry in group}
            kept_aliases = []
            for name, target in aliases:
                if target in carried:
                    kept_aliases.append((name, target))
                else:
                    reason = f"it is the same object as {target}, which is not carried"
                    not_carried.append(NotCarried(name, type_name(namespace[name]), reason))
            index = {"python": PYTHON, "modules": modules, "groups": writer.index(), "aliases": kept_aliases}
            pickle.dump(index, file, protocol=PICKLE_PROTOCOL)
            file.write(FOOTER.pack(index_offset, MAGIC))
        referenced = referenced_names(writer.index())
        blobs.remove_unreferenced(referenced)
        # The host's manifest: which blobs the snapshot needs (the new ones are in blobs/, the
        # others it keeps from the last snapshot). Written before the snapshot is complete.
        write_list(path + ".blobs", referenced)
        os.replace(temporary, path)
    except BaseException:
        _remove_quietly(temporary)
        blobs.remove_unreferenced(set())
        raise
    order = {name: position for position, name in enumerate(namespace)}
    not_carried.sort(key=lambda item: order.get(item.name, len(order)))
    return not_carried


Members = list  # [(name, value)], in the order of the namespace


class _GroupWriter:
    """Writes groups to the snapshot file and test-restores them; keeps the index of the good ones.

    A group is written by one Pickler, one `dump` per value, so that its values share objects
    again at restore and each still has its own byte range: one that fails to restore costs
    only itself and the values of its group that refer to its objects (SharedMemoLoader).
    """

    def __init__(self, file, namespace: dict, not_carried: list[NotCarried], blobs: BlobWriter) -> None:
        self._file = file
        self._blobs = blobs
        self._namespace = namespace
        self._not_carried = not_carried
        self._groups: list[list[tuple[str, str, int, int]]] = []  # [(name, type, start, end)], in file order
        self._values: dict[str, object] = {}
        self._tested_bytes = 0

    def index(self) -> list[list[tuple[str, str, int, int]]]:
        return self._groups

    def write_values(self, candidates: Members) -> None:
        """Writes each value on its own, noting the objects it reaches; then writes again, as one
        group each, the values that turn out to share objects (their single copies become dead
        bytes, which compact() removes)."""
        shared = SharedObjects()
        alone: dict[int, list] = {}  # number of the value -> its entries
        for number, member in enumerate(candidates):
            probe = SharingProbe(self._file, self._namespace, member[1], buffer_callback=self._blobs)
            entries = self._append([member], probe)
            if entries is not None:
                alone[number] = entries
            shared.add(number, probe.reached_objects(member[1]))  # a failed value may still link others
        for numbers in shared.groups(list(alone)):
            if len(numbers) == 1:
                self._groups.append(alone[numbers[0]])
            else:
                self.write([candidates[number] for number in numbers])

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

    def _append(self, members: Members, pickler: SnapshotPickler | None = None) -> list[tuple[str, str, int, int]] | None:
        file = self._file
        file.seek(0, os.SEEK_END)
        first = file.tell()
        if pickler is None:
            pickler = SnapshotPickler(file, self._namespace, buffer_callback=self._blobs)
        entries = []
        for name, value in members:
            start = file.tell()
            try:
                pickler.dump(value)
            except Exception as exc:
                self._blobs.take_refs()
                if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
                    raise SnapshotError(f"cannot write the snapshot: {exc}") from exc
                file.seek(first)
                file.truncate()
                if len(members) == 1:
                    self._not_carried.append(NotCarried(name, type_name(value), f"cannot be pickled: {describe(exc)}"))
                return None
            refs = self._blobs.take_refs()
            entry = (name, type_name(value), start, file.tell())
            entries.append((*entry, refs) if refs else entry)
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
                    survivors = [(entry[0], self._values[entry[0]]) for entry in group if entry[0] not in lost]
                    self._groups[position] = (self._append(survivors) or []) if survivors else []
            self._groups = [group for group in self._groups if group]

    def compact(self) -> None:
        """Moves the pickles still in the index over the dead bytes between them, when worth it."""
        entries = sorted((entry for group in self._groups for entry in group), key=lambda entry: entry[2])
        file = self._file
        file.seek(0, os.SEEK_END)
        live = sum(entry[3] - entry[2] for entry in entries)
        if file.tell() - len(MAGIC) - live < _COMPACT_DEAD_BYTES:
            return
        moved = {}
        cursor = len(MAGIC)
        for entry in entries:
            name, type_, start, end = entry[:4]
            if start != cursor:
                _move_bytes(file, start, end, cursor)
            moved[name] = (name, type_, cursor, cursor + end - start, *entry[4:])
            cursor += end - start
        file.truncate(cursor)
        self._groups = [[moved[entry[0]] for entry in group] for group in self._groups]

    def _test(self, entries, scratch: dict) -> list[NotCarried]:
        if any(entry_refs(entry) for entry in entries):
            return []  # holds large buffers: data, carried untested (as any large group)
        size = sum(entry[3] - entry[2] for entry in entries)
        if size > TEST_RESTORE_GROUP_BYTES or self._tested_bytes + size > TEST_RESTORE_TOTAL_BYTES:
            return []  # not tested: carried as it is
        self._tested_bytes += size
        failed: list[NotCarried] = []
        loader = SharedMemoLoader(self._file, entries, failure_prefix="cannot be restored in the next run: ")
        loader.load_into(scratch, failed)
        for entry in entries:
            if entry[3] - entry[2] > _KEEP_IN_SCRATCH_BYTES:
                scratch.pop(entry[0], None)
        return failed


def _move_bytes(file, start: int, end: int, target: int) -> None:
    """Copies file[start:end] to file[target:], target < start, chunk by chunk from the front."""
    while start < end:
        file.seek(start)
        chunk = file.read(min(_COPY_CHUNK_BYTES, end - start))
        file.seek(target)
        file.write(chunk)
        start += len(chunk)
        target += len(chunk)


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
    global _restored_blobs
    with open(path, "rb") as file:
        magic = file.read(len(MAGIC))
    if magic == snapshot_v1.MAGIC:
        return snapshot_v1.restore(path, namespace)
    not_carried: list[NotCarried] = []
    _restored_blobs = blobs = RestoredBlobs(os.path.join(os.path.dirname(path), BLOB_FOLDER))
    with open(path, "rb") as file:
        index = read_index(file, magic if magic == MAGIC_V2 else MAGIC, {"python", "modules", "groups"})
        reason = restore_modules(index, namespace, not_carried)
        if reason is not None:
            for entries in index["groups"]:
                not_carried.extend(NotCarried(entry[0], entry[1], reason) for entry in entries)
            return not_carried
        for entries in index["groups"]:
            SharedMemoLoader(file, entries, blobs=blobs).load_into(namespace, not_carried)
        _bind_aliases(index.get("aliases", ()), namespace, not_carried)
    return not_carried



def _bind_aliases(aliases, namespace: dict, not_carried: list[NotCarried]) -> None:
    failed = {item.name: item.type for item in not_carried}
    for name, target in aliases:
        if target in namespace and target not in failed:
            namespace[name] = namespace[target]
        else:
            reason = f"restore failed: it is the same object as {target}, which could not be restored"
            not_carried.append(NotCarried(name, failed.get(target, "object"), reason))


# --- helpers ----------------------------------------------------------------------------------


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
