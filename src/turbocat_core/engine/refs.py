"""`{{path}}` references: finding them, looking paths up, and resolving values recursively."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from json.encoder import encode_basestring_ascii
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

DEFAULT_MAX_RESOLVED_BYTES: Final = 4 * 1024 * 1024
"""The engine's default bound on what a step's references resolve to (4 step outputs)."""

# Sizes are those of compact JSON with non-ASCII escaped: how step outputs are measured.
_COMPACT: Final = json.JSONEncoder(separators=(",", ":"), default=str)


class ResolvedTooLarge(Exception):
    """Resolving passed a :class:`Budget`'s limit (raised as soon as it did)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"resolved values are over the limit of {limit} bytes")
        self.limit = limit


class Budget:
    """How many bytes resolved values may take, counted as :func:`resolve` builds them.

    ``used`` grows by the size each resolved value has as compact JSON (non-ASCII escaped,
    as step outputs are measured): literal parts and substituted values alike, so after a
    ``resolve`` it has grown by exactly ``len(json.dumps(result, separators=(",", ":")))``.
    ``spend`` raises :class:`ResolvedTooLarge` the moment ``used`` passes ``limit``, before
    anything bigger is built: memory stays near the limit however often a big value is
    referenced. One budget may serve several ``resolve`` calls (their sizes add up);
    ``release`` gives back the size of values no longer held.
    """

    __slots__ = ("_sizes", "limit", "used")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._sizes: dict[int, tuple[Any, int]] = {}

    def size_of(self, value: Any) -> int:
        """:func:`json_size`, measured once per object this budget sees: a LOOP passing one
        big output to every iteration does not encode it again each time. (The object is
        kept, so its id cannot be reused; resolved values are never modified.)"""
        if not isinstance(value, str | dict | list):
            return json_size(value)
        known = self._sizes.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        size = json_size(value)
        self._sizes[id(value)] = (value, size)
        return size

    def spend(self, size: int) -> None:
        self.used += size
        if self.used > self.limit:
            raise ResolvedTooLarge(self.limit)

    def release(self, size: int) -> None:
        self.used -= size


def json_size(value: Any) -> int:
    """The length of ``value`` as compact JSON with non-ASCII escaped."""
    if isinstance(value, str):
        return len(encode_basestring_ascii(value))
    try:
        return len(_COMPACT.encode(value))
    except ValueError:  # a circular structure; cannot come from JSON data
        return len(str(value))


def _text_size(text: str) -> int:
    """What ``text`` adds inside a JSON string (its escaped length, without the quotes)."""
    return len(encode_basestring_ascii(text)) - 2


def _key_size(key: Any) -> int:
    """A member's key with its colon (JSON keys are strings; others are written as such)."""
    text = key if isinstance(key, str) else _COMPACT.encode(key).strip('"')
    return len(encode_basestring_ascii(text)) + 1


def _brackets(count: int) -> int:
    """A list's or object's brackets and commas."""
    return 2 + max(count - 1, 0)


def references_in(value: Any) -> Iterator[str]:
    """Every reference path in a JSON value, depth first, in document order."""
    found: list[str] = []
    _collect_references(value, found)
    return iter(found)


def _collect_references(value: Any, found: list[str]) -> None:
    # Collected into one list by plain calls: nested generators cost a frame per level
    # and per path, and validation runs this over every step of every run.
    if isinstance(value, str):
        if "{{" in value:
            found.extend(REFERENCE.findall(value))
    elif isinstance(value, dict):
        for item in value.values():
            if type(item) is not str or "{{" in item:
                _collect_references(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            if type(item) is not str or "{{" in item:
                _collect_references(item, found)


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
    budget: Budget | None = None,
) -> Any:
    """Resolve every reference inside ``value`` (objects and lists recursively).

    A string that is exactly one reference becomes the referenced value, keeping its type;
    references inside longer text are interpolated with :func:`as_text`. A reference that
    cannot be resolved stays as written and ``on_missing`` is told its path. When
    ``handles`` is given, references it rejects are left alone silently (they belong to
    someone else, e.g. a DATA ``transform`` template's ``{{item.x}}``). With a ``budget``,
    the result's size is counted as it is built, and :class:`ResolvedTooLarge` raised as
    soon as it passes the budget's limit.
    """
    if isinstance(value, str):
        if "{{" in value:
            return _resolve_text(value, lookup, on_missing, handles, budget)
        if budget is not None:
            budget.spend(json_size(value))
        return value
    if isinstance(value, dict):
        if budget is not None:
            budget.spend(_brackets(len(value)) + sum(_key_size(key) for key in value))
        return {
            key: resolve(item, lookup, on_missing, handles=handles, budget=budget)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        if budget is not None:
            budget.spend(_brackets(len(value)))
        return [resolve(item, lookup, on_missing, handles=handles, budget=budget) for item in value]
    if budget is not None:
        budget.spend(json_size(value))
    return value


def _resolve_text(
    text: str,
    lookup: Lookup,
    on_missing: Callable[[str], None] | None,
    handles: Callable[[str], bool] | None,
    budget: Budget | None,
) -> Any:
    def found_at(match: re.Match[str]) -> Any:
        """The value of ``match``'s reference, or ``MISSING`` to leave it as written."""
        path = match.group(1)
        if handles is not None and not handles(path):
            return MISSING
        found = lookup(path)
        if found is MISSING and on_missing is not None:
            on_missing(path)
        return found

    whole = REFERENCE.fullmatch(text)
    if whole is not None:
        found = found_at(whole)
        if found is MISSING:
            found = text
        if budget is not None:
            budget.spend(budget.size_of(found))
        return found

    # Piece by piece, each counted before the next is made: the joined text is built only
    # once its size is known to fit.
    if budget is not None:
        budget.spend(2)  # the quotes
    pieces: list[str] = []
    done = 0
    for match in REFERENCE.finditer(text):
        found = found_at(match)
        for piece in (
            text[done : match.start()],
            match.group(0) if found is MISSING else as_text(found),
        ):
            if budget is not None:
                budget.spend(_text_size(piece))
            pieces.append(piece)
        done = match.end()
    tail = text[done:]
    if budget is not None:
        budget.spend(_text_size(tail))
    pieces.append(tail)
    return "".join(pieces)
