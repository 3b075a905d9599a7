"""Carrying the user's globals from one container to the next (images/PROTOCOL.md, "Snapshots").

Every global whose name does not start with `__` is carried. Modules are saved by name and
imported again. Everything else goes through cloudpickle, which pickles the functions and
classes of the user's `__main__` by value.

All values are pickled by one Pickler, one `dump` per value, so the pickle memo is shared: an
object reachable from two globals is written once and comes back as one object. Each value still
has its own byte range, which lets a restore report a value that fails and go on with the others.

File layout:

    MAGIC
    values   one pickle per value, back to back
    index    pickle of {"python": "3.11", "modules": [(name, module)], "values": [(name, type, start, end)]}
    footer   offset of the index (8 bytes, little-endian), MAGIC
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
from collections import namedtuple

import cloudpickle

MAGIC = b"CCPYSNP1"
PICKLE_PROTOCOL = 5
_FOOTER = struct.Struct("<Q8s")
_PYTHON = "%d.%d" % sys.version_info[:2]
_MAX_REASON_CHARS = 500

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


# A global that is not carried: its name, the name of its type, and why.
NotCarried = namedtuple("NotCarried", "name type reason")


class SnapshotError(Exception):
    """The snapshot as a whole cannot be written or read."""


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
            not_carried.append(NotCarried(name, _type_name(value), reason))
            continue
        candidates.append((name, value))

    temporary = path + ".tmp"
    try:
        with open(temporary, "wb") as file:
            file.write(MAGIC)
            entries = _write_values(file, candidates, namespace, not_carried)
            index_offset = file.tell()
            index = {"python": _PYTHON, "modules": modules, "values": entries}
            pickle.dump(index, file, protocol=PICKLE_PROTOCOL)
            file.write(_FOOTER.pack(index_offset, MAGIC))
        os.replace(temporary, path)
    except BaseException:
        _remove_quietly(temporary)
        raise
    return not_carried


def _write_values(file, candidates, main_globals: dict, not_carried: list[NotCarried]) -> list[tuple]:
    """Pickles the candidates together; a value that cannot be pickled is left out and reported.

    The values that pickled before a failure are fine together; the ones after it are tried one
    by one, so that every culprit is found in one pass and the rest is written again at most once
    more (unless some value fails only in company, which costs another pass).
    """
    first = file.tell()
    while True:
        file.seek(first)
        file.truncate()
        pickler = _SnapshotPickler(file, main_globals)
        entries: list[tuple] = []
        failure: tuple[int, BaseException] | None = None
        for position, (name, value) in enumerate(candidates):
            start = file.tell()
            try:
                pickler.dump(value)
            except Exception as exc:
                if isinstance(exc, OSError) and exc.errno in _WRITE_ERRNOS:
                    raise SnapshotError(f"cannot write the snapshot: {exc}") from exc
                failure = (position, exc)
                break
            entries.append((name, _type_name(value), start, file.tell()))
        if failure is None:
            return entries

        failed_at, error = failure
        culprits = {failed_at: error}
        for position in range(failed_at + 1, len(candidates)):
            problem = _pickling_problem(candidates[position][1], main_globals)
            if problem is not None:
                culprits[position] = problem
        for position, exc in sorted(culprits.items()):
            name, value = candidates[position]
            not_carried.append(NotCarried(name, _type_name(value), f"cannot be pickled: {_describe(exc)}"))
        candidates = [c for position, c in enumerate(candidates) if position not in culprits]


def _pickling_problem(value: object, main_globals: dict) -> BaseException | None:
    """Pickles one value into nothing; large buffers are handed out of band so they are not copied."""
    pickler = _SnapshotPickler(_Discard(), main_globals, buffer_callback=lambda buffer: False)
    try:
        pickler.dump(value)
    except Exception as exc:
        return exc
    return None


class _Discard:
    def write(self, data) -> int:
        return len(data)


class _MainGlobals:
    """Stands in a pickle for the globals of `__main__`; restored as those of the new `__main__`."""

    def __reduce__(self):
        return (_main_globals, ())


def _main_globals() -> dict:
    return sys.modules["__main__"].__dict__


_MAIN_GLOBALS = _MainGlobals()


class _SnapshotPickler(cloudpickle.Pickler):
    """cloudpickle, except that user functions keep the *module's* globals across runs.

    cloudpickle gives a function pickled by value a fresh globals dict at restore, so a function
    carried over would no longer see globals the user assigns in later runs. Functions whose
    globals are those of the user's `__main__` are restored with the globals of the `__main__`
    in place at restore time instead, as if they had been defined there.
    """

    def __init__(self, file, main_globals: dict, buffer_callback=None) -> None:
        super().__init__(file, protocol=PICKLE_PROTOCOL, buffer_callback=buffer_callback)
        self._main_globals = main_globals

    def reducer_override(self, obj):
        reduced = super().reducer_override(obj)
        if (
            type(obj) is types.FunctionType
            and obj.__globals__ is self._main_globals
            and isinstance(reduced, tuple)
            and isinstance(reduced[1], tuple)
            and len(reduced[1]) == 5  # (code, globals, name, argdefs, closure), as FunctionType takes them
            and isinstance(reduced[1][1], dict)
        ):
            code, _, name, argdefs, closure = reduced[1]
            reduced = (reduced[0], (code, _MAIN_GLOBALS, name, argdefs, closure), *reduced[2:])
        return reduced


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
    not_carried: list[NotCarried] = []
    with open(path, "rb") as file:
        index = _read_index(file)
        for name, module_name in index["modules"]:
            try:
                namespace[name] = importlib.import_module(module_name)
            except BaseException as exc:
                not_carried.append(NotCarried(name, "module", f"restore failed: {_describe(exc)}"))
        if index["python"] != _PYTHON:
            reason = f"restore failed: saved by Python {index['python']}, this is Python {_PYTHON}"
            not_carried.extend(NotCarried(name, type_name, reason) for name, type_name, _, _ in index["values"])
            return not_carried
        _load_values(file, index["values"], namespace, not_carried)
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
        raise SnapshotError(f"the snapshot is unreadable: {_describe(exc)}") from exc
    if not isinstance(index, dict) or not {"python", "modules", "values"} <= index.keys():
        raise SnapshotError("the snapshot has no valid index")
    return index


def _load_values(file, entries, namespace: dict, not_carried: list[NotCarried]) -> None:
    _ValueLoader(file, entries).load_into(namespace, not_carried)


class _ValueLoader:
    """Loads the values in order with one memo, so that shared objects are shared again.

    Unpickling refers to earlier objects by their position in the memo, and each memoized object
    takes the next position. So when a value fails halfway, the memo must still end up as long
    as that value would have made it, or every later reference would point at the wrong object;
    and a later value that refers to objects of the failed one cannot be restored either. From
    the first failure on, the loader therefore reads how each value uses the memo before loading
    it, and after a failure continues with a fresh Unpickler (a failed one still holds the unread
    rest of its input) whose memo is seeded with the objects so far and placeholders for the lost.
    """

    def __init__(self, file, entries) -> None:
        self._file = file
        self._entries = entries
        self._input = _SwitchableInput(file)
        self._unpickler = pickle.Unpickler(self._input)
        self._lost: dict[int, str] | None = None  # memo position -> name of the value that lost it
        self._next = 0  # memo position of the next value's first object, tracked once _lost is set

    def load_into(self, namespace: dict, not_carried: list[NotCarried]) -> None:
        for position, (name, type_name, start, end) in enumerate(self._entries):
            usage = self._usage(start, end) if self._lost is not None else None
            if usage is not None:
                owners = sorted({self._lost[p] for p in usage.references if p in self._lost})
                if owners:
                    reason = f"restore failed: it shares objects with {', '.join(owners)}, which could not be restored"
                    not_carried.append(NotCarried(name, type_name, reason))
                    self._lose(name, usage.created)
                    continue
            self._file.seek(start)
            try:
                value = self._unpickler.load()
            except BaseException as exc:
                not_carried.append(NotCarried(name, type_name, f"restore failed: {_describe(exc)}"))
                if self._lost is None:
                    self._lost = {}
                    self._next = sum(self._usage(s, e).created for _, _, s, e in self._entries[:position])
                self._lose(name, (usage or self._usage(start, end)).created)
                continue
            namespace[name] = value
            if usage is not None:
                self._next += usage.created

    def _usage(self, start: int, end: int) -> _MemoUsage:
        self._file.seek(start)
        return _memo_usage(self._file.read(end - start))

    def _lose(self, name: str, created: int) -> None:
        end = self._next + created
        self._lost.update(dict.fromkeys(range(self._next, end), name))
        memo = self._unpickler.memo.copy()
        seed = [memo[position] for position in range(self._next)] + [None] * created
        self._unpickler = _seeded_unpickler(self._input, seed)
        self._next = end


# created: objects the pickle memoizes; references: frozenset of the memo positions it refers to.
_MemoUsage = namedtuple("_MemoUsage", "created references")


def _memo_usage(data: bytes) -> _MemoUsage:
    """How one pickle uses the memo, read without unpickling it. Pickles of protocol 4 and later
    memoize with MEMOIZE, which takes the next position; they never use PUT."""
    import pickletools  # only after a value failed to restore: not worth its import at every start
    created = 0
    references = set()
    for opcode, argument, _ in pickletools.genops(data):
        if opcode.name == "MEMOIZE":
            created += 1
        elif opcode.name in ("GET", "BINGET", "LONG_BINGET"):
            references.add(int(argument))
    return _MemoUsage(created=created, references=frozenset(references))


class _SeedingUnpickler(pickle.Unpickler):
    def __init__(self, file, seed: list) -> None:
        super().__init__(file)
        self._seed = seed

    def persistent_load(self, pid):
        return self._seed[pid]


def _seeded_unpickler(source: _SwitchableInput, seed: list) -> pickle.Unpickler:
    """A fresh Unpickler whose memo holds `seed` (Unpickler.memo cannot be assigned reliably: it
    does not carry the count that decides where the next object goes). It loads a small pickle
    that fetches each seed object by persistent id and memoizes it. Snapshots themselves contain
    no persistent ids."""
    program = bytearray(pickle.PROTO + bytes([PICKLE_PROTOCOL]))
    for position in range(len(seed)):
        program += pickle.BININT + struct.pack("<i", position) + pickle.BINPERSID + pickle.MEMOIZE + pickle.POP
    program += pickle.NONE + pickle.STOP
    unpickler = _SeedingUnpickler(source, seed)
    with source.reading(io.BytesIO(program)):
        unpickler.load()
    return unpickler


class _SwitchableInput:
    """The file an Unpickler reads, which can be pointed at another stream for one load."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        return self._stream.read(size)

    def readinto(self, buffer) -> int:
        return self._stream.readinto(buffer)

    def readline(self) -> bytes:
        return self._stream.readline()

    @contextlib.contextmanager
    def reading(self, stream):
        previous, self._stream = self._stream, stream
        try:
            yield
        finally:
            self._stream = previous


# --- helpers ----------------------------------------------------------------------------------


def _type_name(value: object) -> str:
    return type(value).__name__


def _describe(exc: BaseException) -> str:
    try:
        text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception:
        text = type(exc).__name__
    return text[:_MAX_REASON_CHARS]


def _remove_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
