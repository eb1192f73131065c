"""Operations that keep some items or fields: ``filter``, ``unique``, ``pick`` and ``omit``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from turbocat_core.agents.data.checks import Checks
from turbocat_core.agents.data.errors import DataError
from turbocat_core.agents.data.operators import (
    OPERATORS,
    compare,
    operand_problem,
    unknown_operator,
)
from turbocat_core.agents.data.values import (
    Path,
    canonical,
    expect_array,
    get,
    is_reference,
    split_path,
    type_name,
)

MATCHES: Final = ("all", "any")
_CONDITION: Final = ("field", "operator", "value")


def _check_condition(checks: Checks) -> None:
    checks.field_path("field", required=True)
    operator = checks.config.get("operator")
    if "operator" not in checks.config:
        checks.add("operator", "required option is missing")
        return
    if not isinstance(operator, str) or operator not in OPERATORS:
        checks.add("operator", unknown_operator(operator))
        return
    if "value" not in checks.config:
        if operator != "exists":
            checks.add("value", f"required option is missing (operator {operator!r} needs it)")
        return
    value = checks.config["value"]
    if checks.allow_refs and is_reference(value):
        return
    problem = operand_problem(operator, value)
    if problem is not None:
        checks.add("value", problem)


def check_filter(checks: Checks) -> None:
    """``field``/``operator``/``value``, or ``conditions`` (a non-empty array) and ``match``."""
    checks.choice("match", MATCHES, "match", required=False)
    if "conditions" not in checks.config:
        _check_condition(checks)
        return
    mixed = [key for key in _CONDITION if key in checks.config]
    if mixed:
        checks.add(mixed[0], "use either conditions or field/operator/value, not both")
    conditions = checks.config["conditions"]
    if not isinstance(conditions, list) or not conditions:
        checks.add("conditions", "expected a non-empty array of conditions")
        return
    for index, condition in enumerate(conditions):
        nested = checks.nested(f"conditions.{index}", condition)
        if nested is not None:
            nested.only(_CONDITION)
            _check_condition(nested)


def run_filter(config: dict[str, Any], data: Any) -> list[Any]:
    """Keep the items that satisfy all (or, with ``match: any``, any) of the conditions."""
    items = expect_array(data)
    conditions = config.get("conditions") or [config]
    tests = [
        (split_path(cond["field"]), cond["operator"], cond.get("value")) for cond in conditions
    ]
    combine = any if config.get("match", "all") == "any" else all
    return [
        item
        for item in items
        if combine(compare(get(item, path), operator, value) for path, operator, value in tests)
    ]


def check_unique(checks: Checks) -> None:
    """``by``: optional field path or array of them."""
    checks.field_paths("by", required=False, single=True)


def _paths(value: str | list[str]) -> list[Path]:
    return [split_path(value)] if isinstance(value, str) else [split_path(p) for p in value]


def run_unique(config: dict[str, Any], data: Any) -> list[Any]:
    """Drop items whose key (the item, or its ``by`` fields) repeats an earlier item's key."""
    items = expect_array(data)
    paths = _paths(config["by"]) if "by" in config else None
    seen: set[str] = set()
    kept = []
    for item in items:
        key = canonical([get(item, path) for path in paths] if paths else item)
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept


def check_fields(checks: Checks) -> None:
    """``fields``: a non-empty array of field paths (``pick`` and ``omit``)."""
    checks.field_paths("fields", required=True, single=False)


# A trie of requested paths; ``None`` marks "this whole value".
_Trie = dict[str, "_Trie | None"]


def _trie(fields: list[str]) -> _Trie:
    root: _Trie = {}
    for field in fields:
        node = root
        *parents, last = split_path(field)
        for segment in parents:
            child = node.get(segment, {})
            if child is None:  # an ancestor is already taken whole
                break
            node[segment] = child
            node = child
        else:
            node[last] = None
    return root


def _pick(source: dict[str, Any], trie: _Trie) -> dict[str, Any]:
    picked: dict[str, Any] = {}
    for key, sub in trie.items():
        if key not in source:
            continue
        if sub is None:
            picked[key] = source[key]
        elif isinstance(source[key], dict):
            inner = _pick(source[key], sub)
            if inner:
                picked[key] = inner
    return picked


def _omit(source: dict[str, Any], trie: _Trie) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in source.items():
        if key not in trie:
            kept[key] = value
        elif (sub := trie[key]) is not None:
            kept[key] = _omit(value, sub) if isinstance(value, dict) else value
    return kept


def _each_object(
    data: Any, config: dict[str, Any], apply: Callable[[dict[str, Any], _Trie], dict[str, Any]]
) -> Any:
    trie = _trie(config["fields"])
    if isinstance(data, dict):
        return apply(data, trie)
    if not isinstance(data, list):
        raise DataError(f"expected an object or an array of objects, got {type_name(data)}")
    result = []
    for index, item in enumerate(data):
        if not isinstance(item, dict):
            raise DataError(f"item {index}: expected an object, got {type_name(item)}")
        result.append(apply(item, trie))
    return result


def run_pick(config: dict[str, Any], data: Any) -> Any:
    """Keep only ``fields`` (nested paths keep their parents); missing fields are left out."""
    return _each_object(data, config, _pick)


def run_omit(config: dict[str, Any], data: Any) -> Any:
    """Drop ``fields``; ``"b.c"`` removes only ``c`` inside a copy of ``b``."""
    return _each_object(data, config, _omit)
