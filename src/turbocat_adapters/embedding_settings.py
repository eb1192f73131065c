"""The settings of an embedded runtime: defaults and explicit keyword arguments, no environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from os import PathLike
from pathlib import Path
from typing import Any, Final

from turbocat_adapters.settings import Settings

NOT_SETTINGS: Final = {
    "database_url": "pass the store as the url argument: Turbocat('sqlite:///path/runs.db')",
    "redis_url": "the embedded runtime runs its workflows in this process; a fleet is "
    "`turbocat serve` and `turbocat worker` (docs/operations.md)",
}


def embedded_settings(url: str | None, overrides: Mapping[str, Any]) -> Settings:
    """The settings of an embedded runtime: the defaults, ``url`` as the store, and the
    given fields of ``Settings``. Nothing is read from the environment or a ``.env`` file.

    ``TypeError`` for a name that is not a setting or a value of the wrong type.
    """
    known = {field.name: field for field in fields(Settings)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        names = ", ".join(sorted(set(known) - set(NOT_SETTINGS)))
        raise TypeError(f"Turbocat() got unknown setting(s) {', '.join(unknown)}; known: {names}")
    values: dict[str, Any] = {}
    for name, value in overrides.items():
        if name in NOT_SETTINGS:
            raise TypeError(f"Turbocat(): {name} is not an embedded setting: {NOT_SETTINGS[name]}")
        values[name] = _coerced(name, value, known[name].default)
    if url is not None and not isinstance(url, str):
        raise TypeError(f"Turbocat(url): a URL string, got {type(url).__name__}")
    return Settings(database_url=(url or "memory://").strip(), **values)


def _coerced(name: str, value: Any, default: Any) -> Any:
    if isinstance(default, Path) and isinstance(value, str | PathLike):
        return Path(value)
    if isinstance(default, tuple) and isinstance(value, list | tuple):
        return tuple(value)
    wrong = default is not None and (
        not isinstance(value, type(default))
        or (isinstance(value, bool) and not isinstance(default, bool))
    )
    if wrong:
        raise TypeError(
            f"Turbocat(): setting {name} takes {type(default).__name__}, got {type(value).__name__}"
        )
    return value
