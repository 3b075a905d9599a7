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
- A `typing.TypeVar` of `__main__` (and so a `Generic[T]` class) is rebuilt, not looked up by name.
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
import itertools
import sys
import types
import typing

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
        if isinstance(obj, functools.cached_property) and _defined_in_main(obj.func):
            return rebuild_cached_property, (obj.func, obj.attrname, obj.__doc__)
        if _is_singledispatch_function(obj) and _defined_in_main(obj):
            return _reduce_singledispatch_function(obj)
        if isinstance(obj, type) and _is_namedtuple_class(obj) and _defined_in_main(obj):
            return _reduce_namedtuple_class(obj)
        if isinstance(obj, typing.TypeVar) and _defined_in_main(obj):
            return _reduce_type_var(obj)
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
    # Copies of the function's own dicts: their identity is the function's alone, and a shared
    # one would make every value that reaches the function look as if it shared objects.
    slotstate = {**slotstate, "__globals__": {}}
    for key in ("__annotations__", "__kwdefaults__"):
        if isinstance(slotstate.get(key), dict):
            slotstate[key] = dict(slotstate[key])
    state = dict(state) if isinstance(state, dict) else state
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


def _reduce_type_var(type_var):
    """A TypeVar pickles itself by name, which a new `__main__` does not have yet."""
    arguments = (type_var.__name__, type_var.__constraints__, type_var.__bound__)
    return rebuild_type_var, (*arguments, type_var.__covariant__, type_var.__contravariant__)


def rebuild_type_var(name, constraints, bound, covariant, contravariant):
    type_var = typing.TypeVar(name, *constraints, bound=bound, covariant=covariant, contravariant=contravariant)
    type_var.__module__ = "__main__"
    return type_var


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


def rebuild_cached_property(func, attrname, doc):
    """A cached_property without its lock (Python 3.11 keeps one in it, and no lock pickles)."""
    prop = functools.cached_property(func)
    prop.attrname, prop.__doc__ = attrname, doc
    return prop


# --- functools.singledispatch ------------------------------------------------------------------

# What singledispatch() sets on its wrapper: made again by rebuilding it (its dispatch cache is a
# WeakKeyDictionary, which no pickle carries).
_SINGLEDISPATCH_MADE = frozenset({"register", "dispatch", "registry", "_clear_cache", "__wrapped__"})


def _is_singledispatch_function(obj) -> bool:
    return (
        type(obj) is types.FunctionType
        and isinstance(getattr(obj, "registry", None), types.MappingProxyType)
        and callable(getattr(obj, "dispatch", None))
        and "__wrapped__" in vars(obj)
    )


def _reduce_singledispatch_function(wrapper):
    registered = [(cls, impl) for cls, impl in wrapper.registry.items() if cls is not object]
    attributes = {key: value for key, value in vars(wrapper).items() if key not in _SINGLEDISPATCH_MADE}
    return (rebuild_singledispatch_function, (wrapper.__wrapped__, registered), attributes, None, None, set_attributes)


def rebuild_singledispatch_function(wrapped, registered: list):
    wrapper = functools.singledispatch(wrapped)
    for cls, impl in registered:
        wrapper.register(cls, impl)
    return wrapper


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


# The containers the pickler saves without asking reducer_override: seen by persistent_id.
_PLAIN_CONTAINER_SET = frozenset((list, dict, set, bytearray))


def _is_array_data(value) -> bool:
    module = type(value).__module__ or ""
    return module.startswith(("numpy", "pandas."))


class SharedObjects:
    """Which values reach which objects (noted while each value is pickled, SharingProbe): the
    values that reach a common object are to be saved together."""

    def __init__(self) -> None:
        self._owner: dict[int, int] = {}  # object id -> the first value (its number) that reached it
        self._alive: list = []  # holds every noted object, so that no id is reused meanwhile
        self._links: set[tuple[int, int]] = set()

    def add(self, value_number: int, objects: dict[int, object]) -> None:
        owner = self._owner
        for object_id, obj in objects.items():
            first = owner.get(object_id)
            if first is None:
                owner[object_id] = value_number
                self._alive.append(obj)
            elif first != value_number:
                self._links.add((first, value_number))

    def groups(self, value_numbers: list[int]) -> list[list[int]]:
        """The given values, in groups linked by shared objects (each group in the given order)."""
        parent = {number: number for number in value_numbers}

        def root(number: int) -> int:
            parent.setdefault(number, number)  # a value that failed may still link two others
            while parent[number] != number:
                parent[number] = parent[parent[number]]
                number = parent[number]
            return number

        for first, second in self._links:
            parent[root(second)] = root(first)
        grouped: dict[int, list[int]] = {}
        for number in value_numbers:
            grouped.setdefault(root(number), []).append(number)
        return list(grouped.values())


class SharingProbe(SnapshotPickler):
    """SnapshotPickler that notes the objects a value reaches whose identity another value could
    share: lists, dicts, instances, functions of `__main__`, cells (reached_objects())."""

    def __init__(self, file, namespace: dict, value, buffer_callback=None) -> None:
        # persistent_id sees every object, the plain containers included (reducer_override does
        # not): a C method that returns None (a list's append) keeps that cheap. Still, it costs
        # about as much as the pickling itself; arrays and frames, whose objects are mostly the
        # cells of a column, go without (a list shared between a column and a global is missed).
        self._every_object: list = []
        if not _is_array_data(value):
            self.persistent_id = self._every_object.append
        super().__init__(file, namespace, buffer_callback=buffer_callback)
        self._reached: dict[int, object] = {}
        self._class_members: set[int] = set()
        numpy = sys.modules.get("numpy")
        self._interned = (numpy.dtype, numpy.ufunc) if numpy is not None else ()

    def reducer_override(self, obj):
        if isinstance(obj, type) and _defined_in_main(obj):
            self._note_class_members(obj)
        elif self._may_be_shared(obj):
            self._reached[id(obj)] = obj
        return super().reducer_override(obj)

    def _note_class_members(self, cls: type) -> None:
        """The methods and attributes of a class of `__main__` come back with the class, which
        cloudpickle keeps one per process: reaching them does not make two values share objects
        (or every instance would be saved together with its class)."""
        for member in vars(cls).values():
            self._class_members.add(id(member))
            for inner in ("__func__", "fget", "fset", "fdel", "__wrapped__"):
                function = getattr(member, inner, None) if not isinstance(member, type) else None
                if function is not None:
                    self._class_members.add(id(function))

    def reached_objects(self, value) -> dict[int, object]:
        """After dump(value): the objects noted, by id."""
        reached = self._reached
        # In C, not a Python loop: there is an entry per object the value holds, strings included.
        every = self._every_object
        containers = list(itertools.compress(every, map(_PLAIN_CONTAINER_SET.__contains__, map(type, every))))
        reached.update(zip(map(id, containers), containers))
        every.clear()
        for object_id in self._class_members:
            reached.pop(object_id, None)
        if self._may_be_shared(value):
            reached[id(value)] = value
        return reached

    def _may_be_shared(self, obj) -> bool:
        if isinstance(obj, _NOT_SHARED_TYPES) or (self._interned and isinstance(obj, self._interned)):
            return False
        if isinstance(obj, types.FunctionType) and obj.__module__ != "__main__":
            return False  # a library's function, pickled by name
        return id(obj) not in _DATACLASS_SENTINELS
