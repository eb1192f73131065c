"""``outputSchema``: a small JSON Schema subset, checked statically and against a result."""

from __future__ import annotations

import json
import operator
from typing import Any, Final

from turbocat_core.agents.data.operators import compile_pattern, pattern_problem
from turbocat_core.agents.data.values import (
    canonical,
    is_number,
    json_equal,
    json_path,
    type_name,
)
from turbocat_core.errors import FieldError

TYPES: Final = ("string", "number", "integer", "boolean", "object", "array", "null")

# Annotations change nothing but are common in hand-written schemas, so they are allowed.
_ANNOTATIONS: Final = ("title", "description", "default", "examples", "$schema", "$id", "$comment")
_NUMBER_BOUNDS: Final = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")
_COUNT_BOUNDS: Final = ("minLength", "maxLength", "minItems", "maxItems")
KEYWORDS: Final = (
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    *_NUMBER_BOUNDS,
    *_COUNT_BOUNDS,
    "pattern",
)

MAX_VIOLATIONS: Final = 20
"""How many violations a message lists before it summarises the rest."""


def schema_problems(schema: Any, at: str) -> list[FieldError]:
    """Every problem with ``schema`` itself, each named by a dotted path under ``at``.

    Keywords outside :data:`KEYWORDS` (and the annotations) are refused so that a typo such
    as ``minimun`` cannot silently disable a check.
    """
    if not isinstance(schema, dict):
        return [FieldError(at, f"expected a schema object, got {type_name(schema)}")]
    problems: list[FieldError] = []

    def add(keyword: str, message: str) -> None:
        problems.append(FieldError(f"{at}.{keyword}", message))

    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword not in KEYWORDS:
            add(keyword, f"unknown schema keyword; expected one of {', '.join(KEYWORDS)}")
        elif keyword == "type":
            names = value if isinstance(value, list) else [value]
            bad = [name for name in names if not isinstance(name, str) or name not in TYPES]
            if not names or bad:
                unknown = f"unknown type {bad[0]!r}; " if bad else ""
                add(keyword, f"{unknown}expected one of {', '.join(TYPES)}, or an array of them")
        elif keyword == "properties":
            if not isinstance(value, dict):
                add(keyword, f"expected an object of schemas, got {type_name(value)}")
            else:
                for name, sub in value.items():
                    problems.extend(schema_problems(sub, f"{at}.properties.{name}"))
        elif keyword == "required":
            if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
                add(keyword, "expected an array of property names")
        elif keyword == "additionalProperties":
            if not isinstance(value, bool):
                add(keyword, f"expected a boolean, got {type_name(value)}")
        elif keyword == "items":
            problems.extend(schema_problems(value, f"{at}.items"))
        elif keyword == "enum":
            if not isinstance(value, list) or not value:
                add(keyword, "expected a non-empty array of allowed values")
        elif keyword in _NUMBER_BOUNDS:
            if not is_number(value):
                add(keyword, f"expected a number, got {type_name(value)}")
        elif keyword in _COUNT_BOUNDS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                add(keyword, "expected a non-negative integer")
        elif keyword == "pattern":
            problem = pattern_problem(value)
            if problem is not None:
                add(keyword, problem)
    return problems


def _type_matches(name: str, value: Any) -> bool:
    if name == "integer":
        # 2.0 is not an integer here: the contract is "an int, never a bool".
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return is_number(value)
    return type_name(value) == name


def violations(schema: dict[str, Any], value: Any, path: list[str | int]) -> list[str]:
    """Every way ``value`` breaks ``schema`` (already checked), as ``$.a[0].b: why`` lines.

    ``integer`` accepts ints only (not ``2.0``); booleans are never numbers. Keywords apply
    only to values of their type, as in JSON Schema (``minimum`` ignores strings).
    """
    found: list[str] = []
    where = json_path(path)
    if "type" in schema:
        names = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_type_matches(name, value) for name in names):
            return [f"{where}: expected {' or '.join(names)}, got {type_name(value)}"]
    if "const" in schema and not json_equal(value, schema["const"]):
        found.append(f"{where}: expected {canonical(schema['const'])}")
    if "enum" in schema and not any(json_equal(value, item) for item in schema["enum"]):
        found.append(f"{where}: expected one of {canonical(schema['enum'])}")
    if is_number(value):
        found.extend(_number_violations(schema, value, where))
    elif isinstance(value, str):
        found.extend(_string_violations(schema, value, where))
    elif isinstance(value, list):
        found.extend(_count_violations(schema, "Items", len(value), "items", where))
        if "items" in schema:
            for index, item in enumerate(value):
                found.extend(violations(schema["items"], item, [*path, index]))
    elif isinstance(value, dict):
        found.extend(_object_violations(schema, value, path))
    return found


def _number_violations(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    checks = (
        ("minimum", ">=", operator.ge),
        ("maximum", "<=", operator.le),
        ("exclusiveMinimum", ">", operator.gt),
        ("exclusiveMaximum", "<", operator.lt),
    )
    return [
        f"{where}: must be {sign} {schema[keyword]}"
        for keyword, sign, holds in checks
        if keyword in schema and not holds(value, schema[keyword])
    ]


def _string_violations(schema: dict[str, Any], value: str, where: str) -> list[str]:
    found = _count_violations(schema, "Length", len(value), "characters", where)
    pattern = schema.get("pattern")
    if pattern is not None and compile_pattern(pattern).search(value) is None:
        found.append(f"{where}: must match pattern {pattern!r}")
    return found


def _count_violations(
    schema: dict[str, Any], suffix: str, count: int, unit: str, where: str
) -> list[str]:
    found = []
    low, high = schema.get(f"min{suffix}"), schema.get(f"max{suffix}")
    if low is not None and count < low:
        found.append(f"{where}: must have at least {low} {unit}, has {count}")
    if high is not None and count > high:
        found.append(f"{where}: must have at most {high} {unit}, has {count}")
    return found


def _object_violations(
    schema: dict[str, Any], value: dict[str, Any], path: list[str | int]
) -> list[str]:
    found = [
        f"{json_path(path)}: missing required property {json.dumps(name)}"
        for name in schema.get("required", ())
        if name not in value
    ]
    properties: dict[str, Any] = schema.get("properties", {})
    for name, item in value.items():
        if name in properties:
            found.extend(violations(properties[name], item, [*path, name]))
        elif schema.get("additionalProperties") is False:
            found.append(f"{json_path([*path, name])}: property not allowed")
    return found


def describe(found: list[str]) -> str:
    """One message for a list of violations, capped at :data:`MAX_VIOLATIONS`."""
    shown = "; ".join(found[:MAX_VIOLATIONS])
    more = len(found) - MAX_VIOLATIONS
    return f"{shown}; and {more} more" if more > 0 else shown
