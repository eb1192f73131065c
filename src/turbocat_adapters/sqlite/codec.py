"""Values between Python and SQLite columns: times and JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any, Final

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


def parse_ts(text: str) -> datetime:
    """An aware UTC datetime from what :func:`ts` wrote."""
    return datetime.fromisoformat(text)


def js(value: Any, field: str) -> str:
    """Compact JSON; ``ValidationFailed`` naming ``field`` for what JSON cannot hold."""
    try:
        return _ENCODE(value)
    except (TypeError, ValueError) as error:
        raise ValidationFailed.field(field, f"must be JSON ({error})") from None


def parse_js(text: str) -> Any:
    """A fresh value every time: nothing read out aliases anything else."""
    return _DECODE(text)
