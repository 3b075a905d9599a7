"""The pickler of snapshots: cloudpickle, with the fixes that what models write needs.

cloudpickle (2.2, Debian bookworm's) pickles the functions and classes of the user's `__main__`
by value. On its own it gets a few common constructs wrong; the reductions below fix them:

- A function of `__main__` is restored with the globals of the new `__main__` (not a private
  copy), and without the globals it refers to: those are carried as values of their own, so one
  that fails cannot take the function down with it, and later assignments stay visible.
- Closures keep their cells (cloudpickle gives each function new ones), so two closures over one
  `nonlocal` variable still share it.
- `functools.cache` / `lru_cache` functions of `__main__` (pickle would look them up by name in a
  `__main__` that does not have them yet) are rebuilt around their wrapped function. The cache
  contents are dropped: they fill again at the next calls.
- Classes keep their `__qualname__` (`Outer.Inner`).
- `typing.NamedTuple` and `collections.namedtuple` classes of `__main__` are rebuilt with
  `collections.namedtuple` (cloudpickle's rebuild fails with `KeyError: '__module__'`).
- The sentinels of `dataclasses` (MISSING, the default-factory marker, the field kinds) are
  pickled by name, so that a restored dataclass still knows its fields and default factories.
"""
from __future__ import annotations

import collections
import dataclasses
import enum
import functools
import sys
import types

import cloudpickle
from cloudpickle import cloudpickle as _cloudpickle_internals

PICKLE_PROTOCOL = 5


class _MainGlobals:
    """Stands in a pickle for the globals of `__main__`; restored as those of the new `__main__`."""

    def __reduce__(self):
        return (main_globals, ())


def main_globals() -> dict:
    return sys.modules["__main__"].__dict__


MAIN_GLOBALS = _MainGlobals()

# Objects of `dataclasses` whose identity its code tests (`x is MISSING`): pickled by name.
_DATACLASS_SENTINELS = {
    id(value): name
    for name in ("MISSING", "_HAS_DEFAULT_FACTORY", "_FIELD", "_FIELD_CLASSVAR", "_FIELD_INITVAR", "KW_ONLY")
    if (value := getattr(dataclasses, name, None)) is not None
}


class SnapshotPickler(cloudpickle.Pickler):
    """cloudpickle with the reductions described in this module's docstring."""

    def __init__(self, file, namespace: dict, buffer_callback=None) -> None:
        super().__init__(file, protocol=PICKLE_PROTOCOL, buffer_callback=buffer_callback)
        self._namespace = namespace

    def reducer_override(self, obj):
        name = _DATACLASS_SENTINELS.get(id(obj))
        if name is not None:
            return getattr, (dataclasses, name)
        if type(obj) is types.CellType:
            return _reduce_cell(obj)
        if isinstance(obj, functools._lru_cache_wrapper) and _defined_in_main(obj):
            return _reduce_cached_function(obj)
        if isinstance(obj, type) and _is_namedtuple_class(obj) and _defined_in_main(obj):
            return _reduce_namedtuple_class(obj)
        reduced = super().reducer_override(obj)
        if type(obj) is types.FunctionType and obj.__globals__ is self._namespace:
            reduced = _with_main_globals(reduced)
        elif isinstance(obj, type) and _defined_in_main(obj):
            reduced = _with_qualname(obj, reduced)
        return reduced


def _defined_in_main(obj) -> bool:
    return getattr(obj, "__module__", None) == "__main__"


def _with_main_globals(reduced):
    """cloudpickle's reduction of a function, made to use the new `__main__`'s globals."""
    if not (
        isinstance(reduced, tuple)
        and len(reduced) == 6
        and isinstance(reduced[1], tuple)
        and len(reduced[1]) == 5  # (code, globals, name, argdefs, closure), as FunctionType takes them
        and isinstance(reduced[2], tuple)
        and len(reduced[2]) == 2  # (func.__dict__, slotstate)
        and isinstance(reduced[2][1], dict)
    ):
        return reduced  # another cloudpickle than the one this was written for: keep its own way
    code, _, name, argdefs, _ = reduced[1]
    state, slotstate = reduced[2]
    closure = slotstate.get("__closure__")  # the function's own cells, pickled by _reduce_cell
    slotstate = {**slotstate, "__globals__": {}}
    return (reduced[0], (code, MAIN_GLOBALS, name, argdefs, closure), (state, slotstate), *reduced[3:])


def _reduce_cell(cell):
    """A cell is made empty and memoized before its contents are pickled: a closure that refers
    to itself through the cell pickles without an endless recursion, and shared cells stay shared."""
    try:
        contents = (cell.cell_contents,)
    except ValueError:  # an empty cell: a variable not assigned yet
        contents = ()
    return (types.CellType, (), contents, None, None, set_cell_contents)


def set_cell_contents(cell, contents: tuple):
    if contents:
        cell.cell_contents = contents[0]
    return cell


def _with_qualname(cls: type, reduced):
    """cloudpickle's reduction of a class, keeping `__qualname__` (a nested class would come back
    as `Inner`, not `Outer.Inner`): its state is a (class dict, slots) pair set by setattr."""
    if not (
        isinstance(reduced, tuple)
        and len(reduced) == 6
        and isinstance(reduced[2], tuple)
        and len(reduced[2]) == 2
        and isinstance(reduced[2][0], dict)
    ):
        return reduced
    state, slotstate = reduced[2]
    return (*reduced[:2], ({**state, "__qualname__": cls.__qualname__}, slotstate), *reduced[3:])


# --- functools caches -------------------------------------------------------------------------


def _reduce_cached_function(wrapper):
    parameters = wrapper.cache_parameters()
    attributes = {key: value for key, value in vars(wrapper).items() if key != "__wrapped__"}
    return (
        rebuild_cached_function,
        (wrapper.__wrapped__, parameters["maxsize"], parameters["typed"]),
        attributes,
        None,
        None,
        set_attributes,
    )


def rebuild_cached_function(wrapped, maxsize, typed):
    return functools.lru_cache(maxsize=maxsize, typed=typed)(wrapped)


def set_attributes(obj, attributes: dict):
    for key, value in attributes.items():
        setattr(obj, key, value)
    return obj


# --- namedtuple classes -----------------------------------------------------------------------


def _is_namedtuple_class(cls: type) -> bool:
    return tuple in cls.__bases__ and isinstance(cls.__dict__.get("_fields"), tuple)


# What collections.namedtuple itself puts in a class, besides one property per field.
_NAMEDTUPLE_OWN = frozenset(vars(collections.namedtuple("_Template", "")).keys()) | {"__dict__", "__weakref__"}


def _reduce_namedtuple_class(cls: type):
    fields = cls._fields
    defaults = tuple(cls._field_defaults[field] for field in fields if field in cls._field_defaults)
    own = _NAMEDTUPLE_OWN | set(fields)
    attributes = {key: value for key, value in vars(cls).items() if key not in own}
    attributes["__doc__"] = cls.__doc__
    tracker_id = _cloudpickle_internals._get_or_create_tracker_id(cls)
    return (
        rebuild_namedtuple_class,
        (cls.__name__, fields, defaults, tracker_id),
        attributes,
        None,
        None,
        set_attributes,
    )


def rebuild_namedtuple_class(name: str, fields: tuple, defaults: tuple, tracker_id: str) -> type:
    cls = collections.namedtuple(name, fields, defaults=defaults or None, module="__main__")
    # One class per process however many values bring it along, as cloudpickle does for classes.
    return _cloudpickle_internals._lookup_class_or_track(tracker_id, cls)


# --- which objects two values can share -------------------------------------------------------

# Objects that are rebuilt equal wherever they are referenced, or looked up by name: two values
# that both refer to one of them do not need to be saved together.
_NOT_SHARED_TYPES = (
    str, bytes, int, float, complex, bool, type(None), tuple, frozenset, range, slice,
    type, types.ModuleType, types.BuiltinFunctionType, types.CodeType, types.MethodWrapperType,
    types.WrapperDescriptorType, types.MethodDescriptorType, types.GetSetDescriptorType,
    types.MemberDescriptorType, _MainGlobals, enum.Enum,
)


# The containers the pickler saves without asking reducer_override: found in its memo instead.
_PLAIN_CONTAINERS = (list, dict, set, bytearray)

# Reading the memo copies it (an entry per object, strings included): only for pickles up to this
# size. In larger ones (big nested data), lists and dicts shared with another global are not
# seen, and come back as copies; the value itself, instances, functions and arrays still are.
MEMO_SCAN_BYTES = 4 * 1024 * 1024


class SharingProbe(SnapshotPickler):
    """Pickles a value into nothing (large buffers out of band, so not copied), noting the
    objects it reaches whose identity another value could share: lists, dicts, instances,
    functions of `__main__`, cells. Raises what pickling the value raises."""

    def __init__(self, namespace: dict) -> None:
        self._sink = _CountingSink()
        super().__init__(self._sink, namespace, buffer_callback=lambda buffer: False)
        numpy = sys.modules.get("numpy")
        self._interned = (numpy.dtype, numpy.ufunc) if numpy is not None else ()
        self._reached: dict[int, object] = {}  # holds the objects, so their ids stay theirs

    def reducer_override(self, obj):
        if self._may_be_shared(obj):
            self._reached[id(obj)] = obj
        return super().reducer_override(obj)

    def probe(self, value) -> dict[int, object]:
        self.dump(value)
        if self._may_be_shared(value):
            self._reached[id(value)] = value
        if self._sink.size <= MEMO_SCAN_BYTES:
            for object_id, (_, obj) in self.memo.copy().items():
                if type(obj) in _PLAIN_CONTAINERS:
                    self._reached[object_id] = obj
        return self._reached

    def _may_be_shared(self, obj) -> bool:
        if isinstance(obj, _NOT_SHARED_TYPES) or (self._interned and isinstance(obj, self._interned)):
            return False
        if isinstance(obj, types.FunctionType) and obj.__module__ != "__main__":
            return False  # a library's function, pickled by name
        return id(obj) not in _DATACLASS_SENTINELS


class _CountingSink:
    size = 0

    def write(self, data) -> int:
        self.size += len(data)
        return len(data)
