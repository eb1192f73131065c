"""Tables derived from the domain's dataclasses: columns, kinds, and the row mapping."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Callable, Mapping
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar
from uuid import UUID

from turbocat_adapters.sql.connection import Row
from turbocat_adapters.sql.dialect import Codec, Dialect, Kind

E = TypeVar("E")


def kind_of(hint: Any) -> tuple[Kind, bool, type[Enum] | None]:
    """How a field of type ``hint`` is stored; whether it may be ``None``; its enum."""
    optional = False
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        optional = True
        (hint,) = (arg for arg in args if arg is not type(None))
    origin = typing.get_origin(hint)
    if hint is Any or hint is dict or origin in (dict, list):
        return "json", optional, None
    if origin is tuple:
        return ("texts" if typing.get_args(hint)[0] is str else "json"), optional, None
    if isinstance(hint, type) and issubclass(hint, Enum):
        return "enum", optional, hint
    if hint is bool:
        return "bool", optional, None
    if hint is datetime:
        return "time", optional, None
    if hint is str:
        return "text", optional, None
    if hint is UUID or getattr(hint, "__supertype__", None) is UUID:
        return "uuid", optional, None
    return "plain", optional, None


class RowCodec(Generic[E]):
    """A table's mapping in one dialect: entity -> named parameters, row -> entity."""

    __slots__ = ("_decoders", "_encoders", "_entity")

    def __init__(self, table: Table[E], dialect: Dialect) -> None:
        self._entity = table.entity
        self._encoders: list[tuple[str, Codec | None]] = []
        self._decoders: list[tuple[str, Codec | None]] = []
        for name in table.columns:
            kind, optional, enum = table.fields[name]
            before, after = table.convert.get(name, (None, None))
            self._encoders.append(
                (name, _chain(before, _nullable(dialect.encoder(kind, name), optional)))
            )
            decode = dialect.decoder(kind)
            self._decoders.append((name, _nullable(_chain(decode, after or enum), optional)))

    def params(self, entity: E) -> dict[str, Any]:
        return {
            name: getattr(entity, name) if encode is None else encode(getattr(entity, name))
            for name, encode in self._encoders
        }

    def entity(self, row: Row) -> E:
        return self._entity(
            **{
                name: value if decode is None else decode(value)
                for (name, decode), value in zip(self._decoders, row, strict=True)
            }
        )


class Table(Generic[E]):
    """One aggregate's table: the columns are the dataclass's fields, in their order.

    ``convert``: per field, what turns the entity's value into what is stored and back
    (before encoding, after decoding); ``soft``: rows have ``deleted_at`` and deleted ones
    read as absent.
    """

    __slots__ = ("_codecs", "columns", "convert", "entity", "fields", "label", "name", "soft")

    def __init__(
        self,
        name: str,
        entity: type[E],
        label: str,
        *,
        convert: Mapping[str, tuple[Codec | None, Codec | None]] | None = None,
    ) -> None:
        hints = typing.get_type_hints(entity)
        self.name = name
        self.entity = entity
        self.label = label
        self.columns = tuple(field.name for field in dataclasses.fields(entity))  # type: ignore[arg-type]
        self.fields = {name: kind_of(hints[name]) for name in self.columns}
        self.convert = dict(convert or {})
        self.soft = "deleted_at" in self.columns
        self._codecs: dict[str, RowCodec[E]] = {}

    def codec(self, dialect: Dialect) -> RowCodec[E]:
        codec = self._codecs.get(dialect.name)
        if codec is None:
            codec = self._codecs[dialect.name] = RowCodec(self, dialect)
        return codec

    @property
    def live(self) -> str:
        return " AND deleted_at IS NULL" if self.soft else ""

    def select(self, where: str) -> str:
        return f"SELECT {', '.join(self.columns)} FROM {self.name} WHERE {where}"

    def insert(self) -> str:
        names = ", ".join(self.columns)
        values = ", ".join(f":{name}" for name in self.columns)
        return f"INSERT INTO {self.name} ({names}) VALUES ({values})"

    def update(self, where: str, *, keep: frozenset[str] = frozenset()) -> str:
        """``UPDATE`` of every column but ``id`` and ``keep``, the row found by ``where``."""
        sets = ", ".join(
            f"{name} = :{name}" for name in self.columns if name != "id" and name not in keep
        )
        return f"UPDATE {self.name} SET {sets} WHERE {where}"


def _nullable(codec: Codec | None, optional: bool) -> Codec | None:
    if codec is None or not optional:
        return codec
    return lambda value: None if value is None else codec(value)


def _chain(first: Callable[[Any], Any] | None, then: Callable[[Any], Any] | None) -> Codec | None:
    if first is None or then is None:
        return first or then
    return lambda value: then(first(value))
