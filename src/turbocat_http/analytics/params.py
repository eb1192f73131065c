"""The ``from``/``to`` query parameters of analytics and the audit log, parsed strictly."""

# No ``from __future__ import annotations``: Litestar reads the aliases below at run time.

from datetime import UTC, datetime
from typing import Annotated, Final

from litestar.params import QueryParameter

from turbocat_core.errors import FieldError, ValidationFailed

FORMAT: Final = "an ISO 8601 time with an offset (2026-01-01T00:00:00Z) or a date (2026-01-01)"

From = Annotated[
    str | None,
    QueryParameter(
        name="from",
        max_length=64,
        description=f"Only what was created at or after this: {FORMAT}; dates are UTC.",
    ),
]
To = Annotated[
    str | None,
    QueryParameter(
        name="to",
        max_length=64,
        description=f"Only what was created before this (excluded): {FORMAT}.",
    ),
]


def _instant(text: str, name: str) -> datetime | FieldError:
    raw = text.strip()
    if len(raw) > 6 and raw[-6] == " " and raw[-5:-3].isdigit():
        raw = f"{raw[:-6]}+{raw[-5:]}"  # an unencoded "+01:00" arrives as " 01:00"
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        return FieldError(name, f"must be {FORMAT}")
    if not any(mark in raw for mark in "T :"):  # a date alone: that day's start, in UTC
        return value.replace(tzinfo=UTC)
    if value.utcoffset() is None:
        return FieldError(name, "needs a UTC offset, e.g. 2026-01-01T00:00:00Z")
    return value


def time_range(start: str | None, end: str | None) -> tuple[datetime | None, datetime | None]:
    """The two instants (``None`` when not given); ``ValidationFailed`` naming each bad one.
    Whether they make a range is the core's call (``Period.of``)."""
    found: list[datetime | None] = []
    problems: list[FieldError] = []
    for text, name in ((start, "from"), (end, "to")):
        value = None if text is None else _instant(text, name)
        if isinstance(value, FieldError):
            problems.append(value)
            value = None
        found.append(value)
    if problems:
        raise ValidationFailed("the range is invalid", problems)
    return found[0], found[1]
