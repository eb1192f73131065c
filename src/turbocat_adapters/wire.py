"""Domain objects to wire JSON: camelCase field names, JSON payloads left exactly as they are."""

from __future__ import annotations

import dataclasses
import re
from functools import cache
from typing import Any

import msgspec

_CAMEL = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """``started_at`` -> ``startedAt``."""
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


@cache
def _public_fields(cls: type) -> tuple[tuple[str, str], ...]:
    # Fields declared with repr=False hold secrets (password and key hashes): never on the wire.
    return tuple((f.name, camel(f.name)) for f in dataclasses.fields(cls) if f.repr)


def to_wire(value: Any) -> Any:
    """Dataclasses become dicts with camelCase keys (recursively); everything else is left for
    msgspec (datetimes, UUIDs, enums) — including the keys of user data such as configs."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {wire: to_wire(getattr(value, name)) for name, wire in _public_fields(type(value))}
    if isinstance(value, list | tuple) and value and dataclasses.is_dataclass(value[0]):
        return [to_wire(item) for item in value]
    return value


_encoder = msgspec.json.Encoder()


def encode(value: Any) -> bytes:
    """Compact JSON of a domain object (or of plain data)."""
    return _encoder.encode(to_wire(value))
