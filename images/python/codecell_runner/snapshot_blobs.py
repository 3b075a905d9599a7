"""Large buffers of a snapshot as files of their own ("blobs"), kept from run to run when unchanged.

Pickle protocol 5 hands the pickler the raw buffers of arrays (numpy, the blocks of a pandas
frame, Arrow) apart from the pickle ("out-of-band"). Those of at least BLOB_MIN_BYTES go to a blob
file each, named by a random id, under the snapshot's blob folder; the pickle refers to them by
(name, offset, length).

Restoring maps each blob copy-on-write (mmap ACCESS_COPY): nothing is read until used, and a
write changes the process's private copy, never the file. Saving asks, for each large buffer,
whether it lies in such a mapping and none of its pages was written since (the kernel's
/proc/self/pagemap: a page of a private file mapping that was written is an anonymous page, or
swapped). Such a buffer is still the blob's bytes, so the new snapshot refers to the old blob
instead of writing it again; the host keeps the file (a hard link, no copy). Where pagemap cannot
be read (gVisor), every large buffer is written again: slower, never wrong.

The runner lists the blobs its snapshot refers to in `<state>.blobs`, one name a line, for the
host (images/PROTOCOL.md, "Snapshots").
"""
from __future__ import annotations

import functools
import mmap
import os
import sys

BLOB_MIN_BYTES = 1024 * 1024
BLOB_NAME_BYTES = 16  # 32 hex digits
_PAGEMAP = "/proc/self/pagemap"
_PAGE = mmap.PAGESIZE
_PRESENT, _SWAPPED, _FILE_PAGE = 1 << 63, 1 << 62, 1 << 61

# A reference from a pickle to a blob: (name, offset, length).
BlobRef = tuple


class RestoredBlobs:
    """The blobs of the snapshot being restored, mapped copy-on-write on first use."""

    def __init__(self, folder: str) -> None:
        self._folder = folder
        self._mappings: dict[str, mmap.mmap] = {}
        self.regions: list[tuple[int, int, str]] = []  # (address, size, name) of each mapping

    def view(self, ref: BlobRef) -> memoryview:
        name, offset, length = ref
        mapping = self._mappings.get(name)
        if mapping is None:
            if not _valid_name(name):
                raise ValueError(f"invalid blob name {name!r}")
            with open(os.path.join(self._folder, name), "rb") as file:
                mapping = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_COPY)
            self._mappings[name] = mapping
            self.regions.append((address_of(mapping), len(mapping), name))
        if offset < 0 or length < 0 or offset + length > len(mapping):
            raise ValueError(f"blob {name} is shorter than the snapshot says")
        return memoryview(mapping)[offset : offset + length]

    def unchanged_ref(self, address: int, length: int) -> BlobRef | None:
        """The blob range holding exactly these bytes, if they lie in a mapping none of whose
        pages in the range was written since it was mapped."""
        for base, size, name in self.regions:
            if base <= address and address + length <= base + size:
                return (name, address - base, length) if _pages_unwritten(address, length) else None
        return None


class BufferFeed:
    """The `buffers` of an Unpickler: before each value is loaded, set() gives its blob refs."""

    def __init__(self, blobs: RestoredBlobs | None) -> None:
        self._blobs = blobs
        self._pending: list[BlobRef] = []

    def set(self, refs) -> None:
        self._pending = list(refs)

    def __iter__(self):
        return self

    def __next__(self) -> memoryview:
        if not self._pending:
            raise ValueError("the snapshot names fewer buffers than its pickle uses")
        if self._blobs is None:
            raise ValueError("the snapshot refers to blob files, but none were given")
        return self._blobs.view(self._pending.pop(0))


class BlobWriter:
    """The pickler's buffer_callback: small buffers stay in the pickle; large ones become refs to
    an unchanged restored blob or to a new blob file written now (once per buffer per save)."""

    def __init__(self, folder: str, restored: RestoredBlobs | None) -> None:
        self._folder = folder
        self._restored = restored
        self._refs: list[BlobRef] = []
        self._written: dict[tuple[int, int], BlobRef] = {}  # (address, length) -> its ref, this save
        self._alive: list = []  # the buffers written, so that no address is reused meanwhile
        self.new_names: set[str] = set()

    def __call__(self, buffer) -> bool:
        try:
            raw = buffer.raw()
        except (BufferError, ValueError):
            return True  # not contiguous: in the pickle
        if raw.nbytes < BLOB_MIN_BYTES:
            return True
        address = address_of(raw)
        key = (address, raw.nbytes)
        ref = self._written.get(key)
        if ref is None:
            ref = self._restored.unchanged_ref(address, raw.nbytes) if self._restored is not None else None
            if ref is None:
                ref = self._write(raw)
            self._written[key] = ref
            self._alive.append(buffer)
        self._refs.append(ref)
        return False

    def take_refs(self) -> tuple:
        """The refs of the buffers of the value just pickled (or of one that failed), in order."""
        refs, self._refs = tuple(self._refs), []
        return refs

    def _write(self, raw: memoryview) -> BlobRef:
        os.makedirs(self._folder, exist_ok=True)
        name = os.urandom(BLOB_NAME_BYTES).hex()
        with open(os.path.join(self._folder, name), "xb") as file:
            file.write(raw)
        self.new_names.add(name)
        return (name, 0, raw.nbytes)

    def remove_unreferenced(self, referenced: set[str]) -> None:
        for name in self.new_names - referenced:
            try:
                os.unlink(os.path.join(self._folder, name))
            except OSError:
                pass


def referenced_names(groups) -> set[str]:
    return {ref[0] for group in groups for entry in group for ref in entry_refs(entry)}


def entry_refs(entry) -> tuple:
    """An index entry is (name, type, start, end) or, with blobs, (name, type, start, end, refs)."""
    return entry[4] if len(entry) > 4 else ()


def write_list(path: str, names: set[str]) -> None:
    with open(path, "w", encoding="ascii") as file:
        file.writelines(f"{name}\n" for name in sorted(names))


def _valid_name(name) -> bool:
    return isinstance(name, str) and len(name) == 2 * BLOB_NAME_BYTES and all(c in "0123456789abcdef" for c in name)


def _pages_unwritten(address: int, length: int) -> bool:
    if not pagemap_tells_writes():
        return False
    first = address // _PAGE
    count = (address + length - 1) // _PAGE - first + 1
    try:
        with open(_PAGEMAP, "rb", buffering=0) as pagemap:
            pagemap.seek(first * 8)
            data = pagemap.read(count * 8)
    except OSError:
        return False
    if len(data) != count * 8:
        return False
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        entries = numpy.frombuffer(data, dtype="<u8")
        swapped = (entries & numpy.uint64(_SWAPPED)) != 0
        anonymous = ((entries & numpy.uint64(_PRESENT)) != 0) & ((entries & numpy.uint64(_FILE_PAGE)) == 0)
        return not bool((swapped | anonymous).any())
    for entry in memoryview(data).cast("Q"):
        if entry & _SWAPPED or (entry & _PRESENT and not entry & _FILE_PAGE):
            return False
    return True


@functools.lru_cache(maxsize=None)
def pagemap_tells_writes() -> bool:
    """Whether this kernel's pagemap shows a written private page as such (a sandbox kernel may
    give no pagemap, or one of zeros, which would make every page look unwritten)."""
    probe = mmap.mmap(-1, _PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        probe[0] = 1
        page = address_of(probe) // _PAGE
        with open(_PAGEMAP, "rb", buffering=0) as pagemap:
            pagemap.seek(page * 8)
            data = pagemap.read(8)
        if len(data) != 8:
            return False
        entry = int.from_bytes(data, "little")
        return bool(entry & _PRESENT) and not entry & _FILE_PAGE
    except (OSError, ValueError, BufferError):
        return False
    finally:
        try:
            probe.close()
        except BufferError:
            pass


def address_of(buffer) -> int:
    """Where a buffer's bytes are in memory (read-only buffers too, which ctypes.from_buffer refuses)."""
    import ctypes

    get, release, PyBuffer = _buffer_api()
    view = PyBuffer()
    if get(buffer, ctypes.byref(view), 0) != 0:
        raise BufferError("cannot read the buffer's address")
    try:
        return view.buf or 0
    finally:
        release(ctypes.byref(view))


@functools.lru_cache(maxsize=None)
def _buffer_api():
    import ctypes  # only once a snapshot holds large buffers

    class PyBuffer(ctypes.Structure):
        _fields_ = [
            ("buf", ctypes.c_void_p), ("obj", ctypes.c_void_p), ("len", ctypes.c_ssize_t),
            ("itemsize", ctypes.c_ssize_t), ("readonly", ctypes.c_int), ("ndim", ctypes.c_int),
            ("format", ctypes.c_char_p), ("shape", ctypes.c_void_p), ("strides", ctypes.c_void_p),
            ("suboffsets", ctypes.c_void_p), ("internal", ctypes.c_void_p),
        ]

    get = ctypes.pythonapi.PyObject_GetBuffer
    get.argtypes, get.restype = [ctypes.py_object, ctypes.POINTER(PyBuffer), ctypes.c_int], ctypes.c_int
    release = ctypes.pythonapi.PyBuffer_Release
    release.argtypes, release.restype = [ctypes.POINTER(PyBuffer)], None
    return get, release, PyBuffer
