"""JSON value helpers: type names, the equality rule, canonical text and field paths."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final

from turbocat_core.agents.data.errors import DataError
from turbocat_core.engine.refs import MISSING, REFERENCE, walk

Path = tuple[str, ...]
"""A field path split on dots: ``"b.c"`` -> ``("b", "c")``."""

_IDENTIFIER: Final = re.compile(r"[A-Za-z_$][\w$]*", re.ASCII)


def is_number(value: Any) -> bool:
    """A JSON number: int or float, but never a bool (``True`` is not ``1`` here)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def type_name(value: Any) -> str:
    """The JSON name of a value's type, for messages."""
    if value is MISSING:
        return "missing"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if is_number(value):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def json_equal(left: Any, right: Any) -> bool:
    """JSON equality: ``1 == 1.0`` but ``1 != True``; arrays and objects compare deeply."""
    if isinstance(left, bool) or isinstance(right, bool):
        return isinstance(left, bool) and isinstance(right, bool) and left == right
    if is_number(left) and is_number(right):
        return bool(left == right)
    if isinstance(left, list | tuple) and isinstance(right, list | tuple):
        return len(left) == len(right) and all(map(json_equal, left, right))
    if isinstance(left, dict) and isinstance(right, dict):
        return left.keys() == right.keys() and all(json_equal(v, right[k]) for k, v in left.items())
    if type(left) is not type(right):
        return False
    return bool(left == right)


def _normalized(value: Any) -> Any:
    # Integral floats become ints so that canonical text agrees with json_equal (1.0 == 1).
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_normalized(item) for item in value]
    if value is MISSING:
        return None
    return value


def canonical(value: Any) -> str:
    """Compact JSON with sorted keys; two values have the same text iff they are JSON-equal."""
    return json.dumps(_normalized(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def key_text(value: Any) -> str:
    """A value as a group key: strings as they are, anything else (missing too) as JSON."""
    return value if isinstance(value, str) else canonical(value)


def split_path(path: str) -> Path:
    """``"items.0.x"`` -> ``("items", "0", "x")``."""
    return tuple(path.split("."))


def get(item: Any, path: Path) -> Any:
    """The value at ``path`` inside ``item``, or ``MISSING``."""
    return walk(item, path)


def path_problem(path: Any) -> str | None:
    """Why ``path`` is not a usable field path, or ``None`` when it is."""
    if not isinstance(path, str):
        return f"expected a field path (text), got {type_name(path)}"
    if not path:
        return "field path must not be empty"
    if "" in path.split("."):
        return f"field path {path!r} has an empty segment"
    return None


def is_reference(value: Any) -> bool:
    """Whether ``value`` is text that is exactly one ``{{path}}`` (filled in before a run)."""
    return isinstance(value, str) and REFERENCE.fullmatch(value) is not None


def json_path(parts: Sequence[str | int]) -> str:
    """Render a location inside data: ``$.users[2].age``."""
    rendered = ["$"]
    for part in parts:
        if isinstance(part, int):
            rendered.append(f"[{part}]")
        elif _IDENTIFIER.fullmatch(part):
            rendered.append(f".{part}")
        else:
            rendered.append(f"[{json.dumps(part, ensure_ascii=False)}]")
    return "".join(rendered)


def dotted(parts: Sequence[str | int]) -> str:
    """Render a location inside config: ``pipeline.1.operator``."""
    return ".".join(str(part) for part in parts)


def find_non_json(value: Any) -> tuple[list[str | int], str] | None:
    """Where ``value`` stops being JSON-like, and what was found there; ``None`` if it is JSON."""
    if value is None or isinstance(value, str | int | float):
        return None
    if isinstance(value, list):
        for index, item in enumerate(value):
            found = find_non_json(item)
            if found is not None:
                return [index, *found[0]], found[1]
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return [str(key)], f"an object key of type {type(key).__name__}"
            found = find_non_json(item)
            if found is not None:
                return [key, *found[0]], found[1]
        return None
    return [], f"a value of type {type(value).__name__}"


def expect_array(data: Any) -> list[Any]:
    """``data`` when it is an array, else a DataError naming what came instead."""
    if not isinstance(data, list):
        raise DataError(f"expected an array, got {type_name(data)}")
    return data


def expect_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` when it is an object, else a DataError naming ``where`` it was found."""
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected an object, got {type_name(value)}")
    return value
