"""Domain objects to wire JSON: camelCase field names, JSON payloads left exactly as they are,
times in UTC ending in ``Z`` and durations (``*_ms``) to the microsecond."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from functools import cache
from typing import Any, Final

import msgspec

from turbocat_core.domain.common import camel, utc_text

_KEYED: Final = frozenset({"steps", "agents"})
"""Fields whose next segment is a key the user chose (a step key, a file's agent name)."""
_DOCUMENTS: Final = frozenset(
    {
        "config",
        "customizations",
        "definition",
        "environment_variables",
        "input_data",
        "inputs",
        "metadata",
        "output_data",
        "parameters",
        "preferences",
        "template_data",
        "trigger_config",
        "trigger_data",
    }
)
"""Fields holding JSON documents: the keys below them are the user's, never renamed."""


def wire_path(path: str) -> str:
    """A core field path as the wire names it: ``steps.2.depends_on`` -> ``steps.2.dependsOn``,
    ``environment_variables.API_KEY`` -> ``environmentVariables.API_KEY``."""
    renamed: list[str] = []
    documents = keyed = False
    for segment in path.split("."):
        renamed.append(segment if documents or keyed else camel(segment))
        documents = documents or segment in _DOCUMENTS
        keyed = not keyed and segment in _KEYED
    return ".".join(renamed)


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
