"""Loading values that one Pickler wrote one `dump` after another (so with one shared memo),
each on its own: one that fails costs only itself and the values that share objects with it."""
from __future__ import annotations

import contextlib
import io
import pickle
import struct
from collections import namedtuple

from .snapshot_blobs import BufferFeed, entry_refs
from .snapshot_format import NotCarried, describe as _describe

PICKLE_PROTOCOL = 5


class SharedMemoLoader:
    """Loads the values in order with one memo, so that shared objects are shared again.

    Unpickling refers to earlier objects by their position in the memo, and each memoized object
    takes the next position. So when a value fails halfway, the memo must still end up as long
    as that value would have made it, or every later reference would point at the wrong object;
    and a later value that refers to objects of the failed one cannot be restored either. From
    the first failure on, the loader therefore reads how each value uses the memo before loading
    it, and after a failure continues with a fresh Unpickler (a failed one still holds the unread
    rest of its input) whose memo is seeded with the objects so far and placeholders for the lost.
    """

    def __init__(self, file, entries, failure_prefix: str = "restore failed: ", blobs=None) -> None:
        self._file = file
        self._prefix = failure_prefix
        self._entries = entries
        self._input = _SwitchableInput(file)
        # Out-of-band buffers (snapshot_blobs.py): each value's own, given before it is loaded.
        self._buffers = BufferFeed(blobs)
        self._unpickler = pickle.Unpickler(self._input, buffers=self._buffers)
        self._lost: dict[int, str] | None = None  # memo position -> name of the value that lost it
        self._next = 0  # memo position of the next value's first object, tracked once _lost is set

    def load_into(self, namespace: dict, not_carried: list[NotCarried]) -> None:
        for position, entry in enumerate(self._entries):
            name, type_name_, start, end = entry[:4]
            usage = self._usage(start, end) if self._lost is not None else None
            if usage is not None:
                owners = sorted({self._lost[p] for p in usage.references if p in self._lost})
                if owners:
                    reason = f"{self._prefix}it shares objects with {', '.join(owners)}, which could not be restored"
                    not_carried.append(NotCarried(name, type_name_, reason))
                    self._lose(name, usage.created)
                    continue
            self._file.seek(start)
            self._buffers.set(entry_refs(entry))
            try:
                value = self._unpickler.load()
            except BaseException as exc:
                not_carried.append(NotCarried(name, type_name_, f"{self._prefix}{_describe(exc)}"))
                if self._lost is None:
                    self._lost = {}
                    self._next = sum(self._usage(e[2], e[3]).created for e in self._entries[:position])
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
        self._unpickler = _seeded_unpickler(self._input, seed, self._buffers)
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
    def __init__(self, file, seed: list, buffers) -> None:
        super().__init__(file, buffers=buffers)
        self._seed = seed

    def persistent_load(self, pid):
        return self._seed[pid]


def _seeded_unpickler(source: _SwitchableInput, seed: list, buffers) -> pickle.Unpickler:
    """A fresh Unpickler whose memo holds `seed` (Unpickler.memo cannot be assigned reliably: it
    does not carry the count that decides where the next object goes). It loads a small pickle
    that fetches each seed object by persistent id and memoizes it. Snapshots themselves contain
    no persistent ids."""
    program = bytearray(pickle.PROTO + bytes([PICKLE_PROTOCOL]))
    for position in range(len(seed)):
        program += pickle.BININT + struct.pack("<i", position) + pickle.BINPERSID + pickle.MEMOIZE + pickle.POP
    program += pickle.NONE + pickle.STOP
    unpickler = _SeedingUnpickler(source, seed, buffers)
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
