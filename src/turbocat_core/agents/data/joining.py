"""The ``join`` operation: match the data's items with another array's by key."""

from __future__ import annotations

from typing import Any, Final

from turbocat_core.agents.data.checks import Checks
from turbocat_core.agents.data.values import (
    canonical,
    expect_array,
    expect_object,
    get,
    split_path,
)
from turbocat_core.engine.refs import MISSING

JOIN_TYPES: Final = ("inner", "left", "right", "full")


def check_join(checks: Checks) -> None:
    """``right`` (array), ``on`` (a path for both sides, or ``{left, right}``), ``type``."""
    if checks.required("right"):
        checks.typed("right", list, "an array")
    checks.choice("type", JOIN_TYPES, "join type", required=False)
    if not checks.required("on"):
        return
    on = checks.config["on"]
    if isinstance(on, str):
        checks.check_path("on", on)
        return
    nested = checks.nested("on", on)
    if nested is not None:
        nested.only(("left", "right"))
        nested.field_path("left", required=True)
        nested.field_path("right", required=True)


def _key(item: Any, path: tuple[str, ...]) -> str | None:
    # A missing or null key never matches anything, as NULL does not in SQL.
    value = get(item, path)
    return None if value is MISSING or value is None else canonical(value)


def run_join(config: dict[str, Any], data: Any) -> list[Any]:
    """Pairs merged as ``{**left, **right}`` in left order, then unmatched right items."""
    left_items = expect_array(data)
    right_items: list[Any] = config["right"]
    on = config["on"]
    left_on, right_on = (on, on) if isinstance(on, str) else (on["left"], on["right"])
    left_path, right_path = split_path(left_on), split_path(right_on)
    kind = config.get("type", "inner")

    by_key: dict[str, list[int]] = {}
    for position, item in enumerate(right_items):
        key = _key(item, right_path)
        if key is not None:
            by_key.setdefault(key, []).append(position)

    joined: list[Any] = []
    matched: set[int] = set()
    for index, item in enumerate(left_items):
        key = _key(item, left_path)
        positions = by_key.get(key, []) if key is not None else []
        for position in positions:
            left = expect_object(item, f"item {index}")
            right = expect_object(right_items[position], f"right item {position}")
            joined.append({**left, **right})
            matched.add(position)
        if not positions and kind in ("left", "full"):
            joined.append(item)
    if kind in ("right", "full"):
        joined.extend(item for position, item in enumerate(right_items) if position not in matched)
    return joined
