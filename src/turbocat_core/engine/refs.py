"""`{{path}}` references: finding them, looking paths up, and resolving values recursively."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

# A path is dot-separated segments; the first names a root (inputs, a step key, ...).
# Anything else between braces is plain text, not a reference.
REFERENCE: Final = re.compile(r"\{\{\s*([A-Za-z_$][\w$-]*(?:\.[\w$-]+)*)\s*\}\}", re.ASCII)


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
"""Returned by lookups when a path leads nowhere (distinct from a stored ``None``)."""

Lookup = Callable[[str], Any]
"""Maps a whole path (``"inputs.a.0"``) to its value, or to ``MISSING``."""


def references_in(value: Any) -> Iterator[str]:
    """Yield every reference path in a JSON value, depth first, in document order."""
    if isinstance(value, str):
        if "{{" in value:
            for match in REFERENCE.finditer(value):
                yield match.group(1)
    elif isinstance(value, dict):
        for item in value.values():
            yield from references_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from references_in(item)


def walk(root: Any, segments: Sequence[str]) -> Any:
    """Follow ``segments`` from ``root`` through objects (by key) and lists (by index)."""
    current = root
    for segment in segments:
        if isinstance(current, Mapping):
            if segment not in current:
                return MISSING
            current = current[segment]
        elif isinstance(current, list | tuple):
            if not segment.isdigit():
                return MISSING
            index = int(segment)
            if index >= len(current):
                return MISSING
            current = current[index]
        else:
            return MISSING
    return current


def mapping_lookup(roots: Mapping[str, Any]) -> Lookup:
    """A lookup over named roots, e.g. ``{"item": {...}, "index": 3}``."""

    def lookup(path: str) -> Any:
        head, _, rest = path.partition(".")
        if head not in roots:
            return MISSING
        return walk(roots[head], rest.split(".")) if rest else roots[head]

    return lookup


def as_text(value: Any) -> str:
    """How a value reads inside longer text: strings as-is, everything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except ValueError:  # e.g. a circular structure; cannot come from JSON data
        return str(value)


def resolve(
    value: Any,
    lookup: Lookup,
    on_missing: Callable[[str], None] | None = None,
    *,
    handles: Callable[[str], bool] | None = None,
) -> Any:
    """Resolve every reference inside ``value`` (objects and lists recursively).

    A string that is exactly one reference becomes the referenced value, keeping its type;
    references inside longer text are interpolated with :func:`as_text`. A reference that
    cannot be resolved stays as written and ``on_missing`` is told its path. When
    ``handles`` is given, references it rejects are left alone silently (they belong to
    someone else, e.g. a DATA ``transform`` template's ``{{item.x}}``).
    """
    if isinstance(value, str):
        if "{{" not in value:
            return value
        return _resolve_text(value, lookup, on_missing, handles)
    if isinstance(value, dict):
        return {
            key: resolve(item, lookup, on_missing, handles=handles) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [resolve(item, lookup, on_missing, handles=handles) for item in value]
    return value


def _resolve_text(
    text: str,
    lookup: Lookup,
    on_missing: Callable[[str], None] | None,
    handles: Callable[[str], bool] | None,
) -> Any:
    whole = REFERENCE.fullmatch(text)
    if whole is not None:
        path = whole.group(1)
        if handles is not None and not handles(path):
            return text
        found = lookup(path)
        if found is MISSING:
            if on_missing is not None:
                on_missing(path)
            return text
        return found

    def substitute(match: re.Match[str]) -> str:
        path = match.group(1)
        if handles is not None and not handles(path):
            return match.group(0)
        found = lookup(path)
        if found is MISSING:
            if on_missing is not None:
                on_missing(path)
            return match.group(0)
        return as_text(found)

    return REFERENCE.sub(substitute, text)
