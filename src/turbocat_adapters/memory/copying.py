"""Fast copies of entities: JSON-like fields are copied, immutable fields are shared."""

from __future__ import annotations

import dataclasses
import enum
import types
import typing
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

E = TypeVar("E")

_IMMUTABLE_TYPES: frozenset[Any] = frozenset(
    {str, int, float, bool, bytes, type(None), datetime, date, time, timedelta, Decimal, UUID}
)


def copy_json(value: Any) -> Any:
    """A copy of a JSON-like value: dicts, lists and tuples are rebuilt, anything else shared."""
    kind = type(value)
    if kind is dict:
        return {k: v if type(v) in _SCALARS else copy_json(v) for k, v in value.items()}
    if kind is list:
        return [v if type(v) in _SCALARS else copy_json(v) for v in value]
    if kind is tuple:
        return tuple(v if type(v) in _SCALARS else copy_json(v) for v in value)
    if kind in _SCALARS:
        return value
    copier = _COPIERS.get(kind)
    if copier is not None:
        return copier(value)
    if isinstance(value, dict):  # a dict subclass: store a plain dict, as a database would
        return {k: copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [copy_json(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return copier_for(type(value))(value)
    return value


_SCALARS: frozenset[Any] = frozenset({str, int, float, bool, type(None)})


def _immutable(annotation: Any) -> bool:
    """Whether values of a (resolved) type annotation can never hold a dict or a list."""
    if annotation in _IMMUTABLE_TYPES:
        return True
    if isinstance(annotation, typing.NewType):
        return _immutable(annotation.__supertype__)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return True
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType, tuple, frozenset):
        return all(arg is Ellipsis or _immutable(arg) for arg in args)
    return origin is typing.Literal


def _mutable_fields(cls: type) -> frozenset[str]:
    """The fields of a dataclass that may hold dicts or lists (all of them when unsure)."""
    names = [f.name for f in dataclasses.fields(cls)]
    try:
        hints = typing.get_type_hints(cls)
    except Exception:  # an annotation that does not resolve: check every value at copy time
        return frozenset(names)
    return frozenset(name for name in names if not _immutable(hints.get(name, Any)))


def _build_copier(
    cls: type[E], deep: bool, shared: frozenset[str] = frozenset()
) -> Callable[[E], E]:
    """A function cloning one instance of ``cls`` without calling ``__init__``.

    Slots are written through their member descriptors, which is about four times faster
    than ``dataclasses.replace`` (this sits on the engine's per-step hot path). The source
    is generated from the class's own field names, never from data.
    """
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    mutable = _mutable_fields(cls) - shared if deep else frozenset()
    namespace: dict[str, Any] = {"_new": object.__new__, "_cls": cls, "_copy": copy_json}
    lines = ["def clone(entity):", "    new = _new(_cls)"]
    for index, name in enumerate(names):
        namespace[f"_set{index}"] = getattr(cls, name).__set__
        value = f"_copy(entity.{name})" if name in mutable else f"entity.{name}"
        lines.append(f"    _set{index}(new, {value})")
    lines.append("    return new")
    exec("\n".join(lines), namespace)
    clone: Callable[[E], E] = namespace["clone"]
    return clone


_COPIERS: dict[type, Callable[[Any], Any]] = {}
_SHALLOW: dict[type, Callable[[Any], Any]] = {}


def copier_for(cls: type[E]) -> Callable[[E], E]:
    """The deep copier of a dataclass: a new instance whose JSON-like fields are copies."""
    copier = _COPIERS.get(cls)
    if copier is None:
        copier = _COPIERS[cls] = _build_copier(cls, deep=True)
    return copier


def copier_sharing(cls: type[E], *shared: str) -> Callable[[E], E]:
    """A deep copier of ``cls`` that shares (does not copy) the ``shared`` fields."""
    return _build_copier(cls, deep=True, shared=frozenset(shared))


def shallow_copier_for(cls: type[E]) -> Callable[[E], E]:
    """A copier of ``cls`` instances sharing every field value (for rows the store owns)."""
    copier = _SHALLOW.get(cls)
    if copier is None:
        copier = _SHALLOW[cls] = _build_copier(cls, deep=False)
    return copier


def slot_setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The raw setter of a slot of a frozen dataclass, for copies not yet shared."""
    setter: Callable[[Any, Any], None] = getattr(cls, name).__set__
    return setter


def clone(entity: E) -> E:
    """A copy of ``entity`` that shares nothing mutable with it."""
    copier = _COPIERS.get(type(entity))
    if copier is None:
        copier = copier_for(type(entity))
    return copier(entity)  # type: ignore[no-any-return]


def shallow_with(entity: E, **changes: Any) -> E:
    """A new instance of a frozen dataclass with some fields changed (nothing else copied).

    For rows the store owns: cheaper than ``dataclasses.replace`` since ``__init__`` and
    ``__post_init__`` are skipped, so only use it for changes that keep the entity valid.
    """
    new = shallow_copier_for(type(entity))(entity)
    for name, value in changes.items():
        object.__setattr__(new, name, value)
    return new


def set_fields(entity: E, **changes: Any) -> E:
    """Overwrite fields of an instance this module just created (never a shared one)."""
    for name, value in changes.items():
        object.__setattr__(entity, name, value)
    return entity
