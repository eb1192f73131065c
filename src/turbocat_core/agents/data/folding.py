"""Operations that fold a list into one value: ``reduce`` and ``aggregate``."""

from __future__ import annotations

import math
from typing import Any, Final

from turbocat_core.agents.data.checks import Checks
from turbocat_core.agents.data.errors import DataError
from turbocat_core.agents.data.values import (
    expect_array,
    get,
    is_number,
    key_text,
    split_path,
    type_name,
)
from turbocat_core.engine.refs import MISSING

REDUCERS: Final = ("sum", "product", "min", "max", "concat", "merge", "count")
FUNCTIONS: Final = ("sum", "avg", "min", "max", "count", "first", "last")

Indexed = list[tuple[int | str, Any]]
"""Values with where they came from: an item index, or ``"initial"``."""


def _subject(index: int | str, what: str) -> str:
    # "item 3: field 'age'", or just "initial" for the reducer's initial value.
    return f"item {index}: {what}" if isinstance(index, int) else str(index)


def _present(items: list[tuple[int, Any]], field: str | None) -> Indexed:
    # Missing fields and nulls are skipped, as SQL aggregates skip NULL.
    path = split_path(field) if field is not None else None
    values = ((index, get(item, path) if path else item) for index, item in items)
    return [(index, value) for index, value in values if value is not MISSING and value is not None]


def _numbers(values: Indexed, what: str) -> list[Any]:
    for index, value in values:
        if not is_number(value):
            raise DataError(f"{_subject(index, what)} is not a number (got {type_name(value)})")
    return [value for _, value in values]


def total(numbers: list[Any]) -> Any:
    """The sum: exact for integers, correctly rounded (``math.fsum``) once a float is involved."""
    if all(isinstance(number, int) for number in numbers):
        return sum(numbers)
    try:
        return math.fsum(numbers)
    except (OverflowError, ValueError):  # infinities: plain addition says what IEEE says
        return sum(numbers)


def _average(numbers: list[Any]) -> Any:
    try:
        return total(numbers) / len(numbers)
    except OverflowError as exc:
        raise DataError("the average is too large to represent") from exc


def _extreme(values: Indexed, what: str, *, largest: bool) -> Any:
    first = values[0][1]
    kind = "number" if is_number(first) else "string" if isinstance(first, str) else None
    for index, value in values:
        if kind is None:
            raise DataError(
                f"{_subject(index, what)} is {type_name(value)}; "
                "min and max need numbers or strings"
            )
        if type_name(value) != kind:
            raise DataError(
                f"{_subject(index, what)}: cannot compare {type_name(value)} with {kind}"
            )
    pick = max if largest else min
    return pick(values, key=lambda pair: pair[1])[1]


def _concat(values: Indexed, what: str) -> Any:
    if not values:
        return []
    kind = list if isinstance(values[0][1], list) else str
    for index, value in values:
        if not isinstance(value, kind):
            raise DataError(
                f"{_subject(index, what)} is {type_name(value)}; concat needs all arrays "
                "or all strings"
            )
    if kind is str:
        return "".join(value for _, value in values)
    return [element for _, value in values for element in value]


def _merge(values: Indexed, what: str) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for index, value in values:
        if not isinstance(value, dict):
            raise DataError(f"{_subject(index, what)} is {type_name(value)}; merge needs objects")
        result.update(value)
    return result


def check_reduce(checks: Checks) -> None:
    """``reducer`` (required), ``field`` (optional path), ``initial`` (any value)."""
    checks.choice("reducer", REDUCERS, "reducer", required=True)
    checks.field_path("field", required=False)


def run_reduce(config: dict[str, Any], data: Any) -> Any:
    """Fold the items (or their ``field``), skipping missing and null values.

    ``initial`` is folded in first; with nothing to fold the result is ``initial`` or the
    reducer's identity (sum 0, product 1, min/max null, concat [], merge {}, count 0).
    """
    field = config.get("field")
    what = f'field "{field}"' if field is not None else "value"
    values = _present(list(enumerate(expect_array(data))), field)
    reducer = config["reducer"]
    has_initial = "initial" in config
    initial = config.get("initial")
    if reducer in ("sum", "product", "count"):
        start: Any = initial if has_initial else (1 if reducer == "product" else 0)
        if not is_number(start):
            raise DataError(f"initial: expected a number for {reducer}, got {type_name(start)}")
        if reducer == "count":
            return start + len(values)
        numbers = _numbers(values, what)
        return total([start, *numbers]) if reducer == "sum" else math.prod(numbers, start=start)
    candidates: Indexed = [("initial", initial)] if has_initial else []
    candidates.extend(values)
    if reducer == "concat":
        return _concat(candidates, what)
    if reducer == "merge":
        return _merge(candidates, what)
    if not candidates:
        return None
    return _extreme(candidates, what, largest=reducer == "max")


def check_aggregate(checks: Checks) -> None:
    """``function`` (required), ``field`` (required except for count), ``groupBy`` (path)."""
    checks.choice("function", FUNCTIONS, "function", required=True)
    counting = checks.config.get("function") == "count"
    checks.field_path("field", required=not counting)
    checks.field_path("groupBy", required=False)


def _aggregate(function: str, items: list[tuple[int, Any]], field: str | None) -> Any:
    if function == "count" and field is None:
        return len(items)
    what = f'field "{field}"'
    values = _present(items, field)
    if function == "count":
        return len(values)
    if function == "sum":
        return total(_numbers(values, what))
    if not values:
        return None
    if function == "avg":
        return _average(_numbers(values, what))
    if function == "first":
        return values[0][1]
    if function == "last":
        return values[-1][1]
    return _extreme(values, what, largest=function == "max")


def run_aggregate(config: dict[str, Any], data: Any) -> Any:
    """One value over the items' ``field`` (missing and null skipped), or ``{group: value}``."""
    items = expect_array(data)
    function, field = config["function"], config.get("field")
    if "groupBy" not in config:
        return _aggregate(function, list(enumerate(items)), field)
    path = split_path(config["groupBy"])
    groups: dict[str, list[tuple[int, Any]]] = {}
    for index, item in enumerate(items):
        groups.setdefault(key_text(get(item, path)), []).append((index, item))
    return {key: _aggregate(function, members, field) for key, members in groups.items()}
