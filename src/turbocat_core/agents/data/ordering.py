"""The ``sort`` operation and the total order it sorts JSON values by."""

from __future__ import annotations

import math
from typing import Any, Final

from turbocat_core.agents.data.checks import Checks
from turbocat_core.agents.data.values import (
    Path,
    canonical,
    expect_array,
    get,
    is_number,
    split_path,
)
from turbocat_core.engine.refs import MISSING

DIRECTIONS: Final = ("asc", "desc")


def sort_key(value: Any) -> tuple[Any, ...]:
    """A key that orders any two non-null JSON values without ever raising.

    Numbers < strings < booleans < arrays < objects. Numbers compare numerically (NaN after
    every other number), strings by code point, false < true, arrays and objects by their
    canonical JSON text.
    """
    if is_number(value):
        nan = math.isnan(value)
        return (0, nan, 0 if nan else value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, bool):
        return (2, value)
    return (3 if isinstance(value, list) else 4, canonical(value))


def check_sort(checks: Checks) -> None:
    """``by``: a path, or a non-empty array of paths / ``{field, direction}``; absent: items."""
    if "by" not in checks.config:
        return
    by = checks.config["by"]
    if isinstance(by, str):
        checks.check_path("by", by)
        return
    if not isinstance(by, list) or not by:
        checks.add(
            "by",
            "expected a field path, or a non-empty array of field paths "
            "or {field, direction} objects",
        )
        return
    for index, spec in enumerate(by):
        if isinstance(spec, str):
            checks.check_path(f"by.{index}", spec)
            continue
        nested = checks.nested(f"by.{index}", spec)
        if nested is not None:
            nested.only(("field", "direction"))
            nested.field_path("field", required=True)
            nested.choice("direction", DIRECTIONS, "direction", required=False)


def _specs(config: dict[str, Any]) -> list[tuple[Path, bool]]:
    by = config.get("by")
    if by is None:
        return [((), False)]  # an empty path reads the item itself
    if isinstance(by, str):
        by = [by]
    return [
        (split_path(spec), False)
        if isinstance(spec, str)
        else (split_path(spec["field"]), spec.get("direction") == "desc")
        for spec in by
    ]


def run_sort(config: dict[str, Any], data: Any) -> list[Any]:
    """A stably sorted copy; null and missing values go last in either direction."""
    items = list(expect_array(data))
    # One stable pass per key, least significant first, gives the combined order.
    for path, descending in reversed(_specs(config)):
        present: list[tuple[tuple[Any, ...], Any]] = []
        absent: list[Any] = []
        for item in items:
            value = get(item, path)
            if value is MISSING or value is None:
                absent.append(item)
            else:
                present.append((sort_key(value), item))
        present.sort(key=lambda pair: pair[0], reverse=descending)
        items = [item for _, item in present]
        items.extend(absent)
    return items
