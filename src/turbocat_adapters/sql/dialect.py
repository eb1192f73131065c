"""What differs between SQL dialects: value codecs, placeholders and a few fragments."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Literal

from turbocat_core.domain.analytics import Interval

Kind = Literal["uuid", "time", "json", "texts", "enum", "bool", "text", "plain"]
"""How a field is stored, derived from its type: ``texts`` is a tuple of strings."""
Codec = Callable[[Any], Any]


class Dialect:
    """One SQL dialect: subclasses give the codecs and the fragments that differ.

    Named queries are written once with ``:name`` placeholders; ``sql`` turns them into the
    driver's. ``queries`` holds a dialect's own text for the named queries where the two
    dialects disagree (locking, percentiles, JSON access, ...).
    """

    name: str
    queries: Mapping[str, str] = {}
    encoders: ClassVar[Mapping[str, Codec]] = {}
    decoders: ClassVar[Mapping[str, Codec]] = {}
    window_count: bool = False
    """Whether a page counts its rows in a window (``count(*) OVER ()``)."""
    text_order: str = ""
    """Appended to a text column in ORDER BY so text sorts by code point, as in Python."""

    def sql(self, text: str) -> str:
        return text

    def query(self, name: str) -> str:
        return self.queries[name]

    def encoder(self, kind: Kind, field: str) -> Codec | None:
        """Python value of ``field`` -> parameter (``None``: as it is)."""
        return _enum_value if kind == "enum" else self.encoders.get(kind)

    def bind(self, kind: Kind, value: Any) -> Any:
        """``value`` (an id, a time, ...) as a parameter of this dialect."""
        encode = self.encoder(kind, kind)
        return value if encode is None or value is None else encode(value)

    def decoder(self, kind: Kind) -> Codec | None:
        """Column value -> Python value (``None``: as it is; enums are built by the table)."""
        return self.decoders.get(kind)

    def array(self, values: list[Any]) -> Any:
        """A list of values as one parameter (what ``queries["doomed"]`` reads)."""
        raise NotImplementedError

    def bucket(self, interval: Interval) -> str:
        """SQL: the start of the ``interval`` that ``e.created_at`` falls in (UTC)."""
        raise NotImplementedError

    def bucket_start(self, value: Any) -> datetime:
        """What ``bucket`` selected, as an aware UTC datetime."""
        raise NotImplementedError

    def contains(self, column: str) -> str:
        """SQL: ``column`` holds the ``:search`` parameter, case-insensitively."""
        raise NotImplementedError

    def search_param(self, text: str) -> str:
        raise NotImplementedError

    def has_tag(self, table: str, param: str) -> str:
        """SQL: the ``tags`` of a row of ``table`` hold the text ``:param``."""
        raise NotImplementedError


def _enum_value(member: Any) -> Any:
    return getattr(member, "value", member)  # a plain string passes (the schema refuses it)


def id_hex(expression: str) -> str:
    """SQL reducing a UUID written as text in JSON (any case, with or without hyphens,
    braces or a ``urn:uuid:`` prefix) to its 32 lower-case hex digits, as ``UUID()`` reads
    it; compare with ``UUID.hex``. Both dialects read it alike."""
    return (
        f"replace(replace(replace(replace(replace(lower({expression}), 'urn:', ''), 'uuid:', ''),"
        " '{', ''), '}', ''), '-', '')"
    )
