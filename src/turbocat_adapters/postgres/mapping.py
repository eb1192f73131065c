"""Small conversions between Python values and the columns they are stored in."""

from __future__ import annotations

from collections.abc import Iterable
from enum import Enum
from typing import Any

from psycopg.types.json import Jsonb


def jsonb(value: Any) -> Jsonb | None:
    """A ``jsonb`` parameter (``None`` stays SQL NULL)."""
    return None if value is None else Jsonb(value)


def strings(values: Iterable[str] | None) -> tuple[str, ...]:
    """A ``text[]`` column as the tuple entities hold."""
    return tuple(values) if values else ()


def enum_value(value: Enum | None) -> str | None:
    return None if value is None else str(value.value)
