"""Domain objects to wire JSON: camelCase field names, JSON payloads left exactly as they are,
times in UTC ending in ``Z`` and durations (``*_ms``) to the microsecond."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime
from functools import cache
from typing import Any

import msgspec

from turbocat_core.domain.common import utc_text

_CAMEL = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """``started_at`` -> ``startedAt``."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


@cache
def _public_fields(cls: type) -> tuple[tuple[str, str, bool], ...]:
    # Fields declared with repr=False hold secrets (password and key hashes): never on the wire.
    return tuple(
        (f.name, camel(f.name), f.name.endswith("_ms")) for f in dataclasses.fields(cls) if f.repr
    )


def _field(value: Any, duration: bool) -> Any:
    # Averages and percentiles of durations carry float noise (1.0070000000000001): rounded
    # to the microsecond, the precision the clock keeps.
    if duration and isinstance(value, float):
        return round(value, 3)
    return to_wire(value)


def to_wire(value: Any) -> Any:
    """Dataclasses become dicts with camelCase keys (recursively); everything else is left for
    msgspec (UUIDs, enums) — including the keys of user data such as configs. Datetimes become
    UTC text with ``Z``, whatever zone a store handed them back in."""
    if isinstance(value, datetime):
        return utc_text(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            wire: _field(getattr(value, name), duration)
            for name, wire, duration in _public_fields(type(value))
        }
    if isinstance(value, list | tuple) and value and dataclasses.is_dataclass(value[0]):
        return [to_wire(item) for item in value]
    return value


_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    """Compact JSON of a domain object (or of plain data)."""
    return _encoder.encode(to_wire(value))
