"""Operations that reshape data: ``map``, ``flatten``, ``group``, ``merge`` and ``transform``."""

from __future__ import annotations

from typing import Any

from turbocat_core.agents.data.checks import Checks
from turbocat_core.agents.data.errors import DataError
from turbocat_core.agents.data.values import (
    expect_array,
    expect_object,
    get,
    key_text,
    split_path,
    type_name,
)
from turbocat_core.engine.refs import (
    MISSING,
    Budget,
    ResolvedTooLarge,
    mapping_lookup,
    resolve,
)


def check_map(checks: Checks) -> None:
    """``fields``: a non-empty object of output name -> field path; ``merge``: boolean."""
    checks.boolean("merge")
    if not checks.required("fields"):
        return
    fields = checks.config["fields"]
    if not isinstance(fields, dict) or not fields:
        checks.add("fields", "expected a non-empty object of output name -> field path")
        return
    for name, path in fields.items():
        checks.check_path(f"fields.{name}", path)


def run_map(config: dict[str, Any], data: Any) -> Any:
    """Each item (or the one object) becomes an object of the mapped fields (missing -> null)."""
    fields = [(name, split_path(path)) for name, path in config["fields"].items()]
    merge = config.get("merge", False)

    def one(item: Any, where: str) -> dict[str, Any]:
        mapped = {name: get(item, path) for name, path in fields}
        mapped = {name: None if value is MISSING else value for name, value in mapped.items()}
        return {**expect_object(item, where), **mapped} if merge else mapped

    if isinstance(data, dict):
        return one(data, "data")
    if not isinstance(data, list):
        raise DataError(f"expected an array or an object, got {type_name(data)}")
    return [one(item, f"item {index}") for index, item in enumerate(data)]


def check_flatten(checks: Checks) -> None:
    """``depth``: a positive integer (default 1); ``field``: optional field path."""
    checks.field_path("field", required=False)
    depth = checks.config.get("depth", 1)
    if not isinstance(depth, int) or isinstance(depth, bool) or depth < 1:
        checks.add("depth", f"expected a positive integer, got {depth!r}")


def _flat(items: list[Any], depth: int) -> list[Any]:
    result: list[Any] = []
    for item in items:
        if isinstance(item, list):
            result.extend(_flat(item, depth - 1) if depth > 1 else item)
        else:
            result.append(item)
    return result


def run_flatten(config: dict[str, Any], data: Any) -> list[Any]:
    """Splice nested arrays in, ``depth`` levels deep; other items stay as they are.

    With ``field``, each item is first replaced by its value at ``field``; items where that is
    missing or null contribute nothing.
    """
    items = expect_array(data)
    if "field" in config:
        path = split_path(config["field"])
        values = [get(item, path) for item in items]
        items = [value for value in values if value is not MISSING and value is not None]
    return _flat(items, config.get("depth", 1))


def check_group(checks: Checks) -> None:
    """``by``: the field path to group on."""
    checks.field_path("by", required=True)


def run_group(config: dict[str, Any], data: Any) -> dict[str, list[Any]]:
    """``{key: [items]}`` in first-seen order; keys are the value as text (missing -> "null")."""
    path = split_path(config["by"])
    groups: dict[str, list[Any]] = {}
    for item in expect_array(data):
        groups.setdefault(key_text(get(item, path)), []).append(item)
    return groups


def check_merge(checks: Checks) -> None:
    """``with``: an object merged on top; ``deep``: merge nested objects too."""
    checks.typed("with", dict, "an object")
    checks.boolean("deep")


def merged(base: dict[str, Any], top: dict[str, Any], *, deep: bool) -> dict[str, Any]:
    """A new object: ``top``'s keys win; with ``deep``, objects on both sides merge too."""
    result = dict(base)
    for key, value in top.items():
        below = result.get(key)
        if deep and isinstance(below, dict) and isinstance(value, dict):
            result[key] = merged(below, value, deep=True)
        else:
            result[key] = value
    return result


def run_merge(config: dict[str, Any], data: Any) -> dict[str, Any]:
    """An array of objects -> one object (later wins), then ``with`` on top when given."""
    deep = config.get("deep", False)
    if isinstance(data, list):
        result: dict[str, Any] = {}
        for index, item in enumerate(data):
            top = expect_object(item, f"item {index}")
            if deep:
                result = merged(result, top, deep=True)
            else:
                result.update(top)  # ``result`` is our own fresh object, never an input
    elif isinstance(data, dict):
        if "with" not in config:
            raise DataError('merging a single object needs "with" (an object to merge on top)')
        result = data
    else:
        raise DataError(f"expected an array of objects or an object, got {type_name(data)}")
    if "with" in config:
        result = merged(result, expect_object(config["with"], "with"), deep=deep)
    return result


def check_transform(checks: Checks) -> None:
    """``template``: any JSON value; ``{{item...}}`` and ``{{index}}`` are filled per item."""
    checks.required("template")


def run_transform(config: dict[str, Any], data: Any, budget: Budget | None = None) -> Any:
    """Each item (or the one object) becomes the template resolved against it; with a
    ``budget``, the whole result is counted against it as it is built."""
    template = config["template"]
    try:
        if isinstance(data, dict):
            return resolve(template, mapping_lookup({"item": data, "index": 0}), budget=budget)
        if not isinstance(data, list):
            raise DataError(f"expected an array or an object, got {type_name(data)}")
        return [
            resolve(template, mapping_lookup({"item": item, "index": index}), budget=budget)
            for index, item in enumerate(data)
        ]
    except ResolvedTooLarge as error:
        raise DataError(
            f"the result is over {error.limit} bytes as the template is filled in "
            "(TURBOCAT_MAX_RESOLVED_INPUT_BYTES)"
        ) from None
