"""Values between Python and SQLite columns: ids, times, JSON and lists of text."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from turbocat_core.errors import ValidationFailed

_ENCODE: Final = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=True
).encode
_DECODE: Final = json.JSONDecoder().decode


def ts(value: datetime) -> str:
    """ISO 8601 in UTC with microseconds, always the same width: text order is time order.

    A naive datetime is taken to be UTC already (the core only makes aware ones).
    """
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "+00:00"


def ts_or_none(value: datetime | None) -> str | None:
    return None if value is None else ts(value)


def parse_ts(text: str) -> datetime:
    """An aware UTC datetime from what :func:`ts` wrote."""
    return datetime.fromisoformat(text)


def parse_ts_or_none(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


def uid(value: UUID) -> str:
    """The canonical lower-case form: text order is id order."""
    return str(value)


def uid_or_none(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def parse_uid(text: str) -> UUID:
    return UUID(text)


def parse_uid_or_none(text: str | None) -> UUID | None:
    return None if text is None else UUID(text)


def js(value: Any, field: str) -> str:
    """Compact JSON; ``ValidationFailed`` naming ``field`` for what JSON cannot hold."""
    try:
        return _ENCODE(value)
    except (TypeError, ValueError) as error:
        raise ValidationFailed.field(field, f"must be JSON ({error})") from None


def js_or_none(value: Any, field: str) -> str | None:
    return None if value is None else js(value, field)


def parse_js(text: str) -> Any:
    """A fresh value every time: nothing read out aliases anything else."""
    return _DECODE(text)


def parse_js_or_none(text: str | None) -> Any:
    return None if text is None else _DECODE(text)


def texts(values: Sequence[str], field: str) -> str:
    """A tuple of strings (tags, scopes...) as a JSON array."""
    return js(list(values), field)


def parse_texts(text: str) -> tuple[str, ...]:
    return tuple(_DECODE(text))
