"""The comparison operators shared by DATA ``filter`` and the engine's CONDITION steps."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import Any, Final

from turbocat_core.agents.data.errors import DataError
from turbocat_core.agents.data.values import is_number, json_equal, type_name
from turbocat_core.engine.refs import MISSING

OPERATORS: Final = (
    "eq",
    "neq",
    "gt",
    "gte",
    "lt",
    "lte",
    "in",
    "nin",
    "contains",
    "startsWith",
    "endsWith",
    "exists",
    "regex",
)

MAX_PATTERN_LENGTH: Final = 1000
"""Longer patterns are refused: a cheap guard against pathological (backtracking) patterns."""


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> re.Pattern[str]:
    """Compile once per distinct pattern: a filter applies the same pattern to every item."""
    return re.compile(pattern)


def pattern_problem(pattern: Any) -> str | None:
    """Why ``pattern`` cannot be used as a regular expression, or ``None``."""
    if not isinstance(pattern, str):
        return f"expected a regular expression (text), got {type_name(pattern)}"
    if len(pattern) > MAX_PATTERN_LENGTH:
        return (
            f"pattern is {len(pattern)} characters long; at most {MAX_PATTERN_LENGTH} are allowed"
        )
    try:
        compile_pattern(pattern)
    except re.error as exc:
        return f"invalid regular expression {pattern!r}: {exc}"
    return None


def unknown_operator(operator: Any) -> str:
    """The message for an operator that is not one of :data:`OPERATORS`."""
    return f"unknown operator {operator!r}; expected one of {', '.join(OPERATORS)}"


def operand_problem(operator: str, value: Any) -> str | None:
    """Why ``value`` cannot be the right-hand side of ``operator``, or ``None``."""
    if operator in ("in", "nin") and not isinstance(value, list):
        return f"operator {operator!r} needs an array value, got {type_name(value)}"
    if operator == "exists" and not (value is None or isinstance(value, bool)):
        return f"operator 'exists' needs a boolean value, got {type_name(value)}"
    if operator == "regex":
        return pattern_problem(value)
    return None


def _ordered(left: Any, right: Any, test: Callable[[Any, Any], bool]) -> bool:
    # Only like with like: numbers with numbers, text with text; anything else is simply false.
    if (is_number(left) and is_number(right)) or (isinstance(left, str) and isinstance(right, str)):
        return test(left, right)
    return False


def _contains(left: Any, right: Any) -> bool:
    if isinstance(left, str):
        return isinstance(right, str) and right in left
    if isinstance(left, list):
        return any(json_equal(item, right) for item in left)
    return False


def _exists(left: Any, right: Any) -> bool:
    present = left is not MISSING and left is not None
    return present == (right is None or bool(right))


def _regex(left: Any, right: Any) -> bool:
    return isinstance(left, str) and compile_pattern(right).search(left) is not None


_TESTS: Final[dict[str, Callable[[Any, Any], bool]]] = {
    "eq": json_equal,
    "neq": lambda left, right: not json_equal(left, right),
    "gt": lambda left, right: _ordered(left, right, lambda a, b: a > b),
    "gte": lambda left, right: _ordered(left, right, lambda a, b: a >= b),
    "lt": lambda left, right: _ordered(left, right, lambda a, b: a < b),
    "lte": lambda left, right: _ordered(left, right, lambda a, b: a <= b),
    "in": lambda left, right: any(json_equal(left, item) for item in right),
    "nin": lambda left, right: not any(json_equal(left, item) for item in right),
    "contains": _contains,
    "startsWith": lambda left, right: (
        isinstance(left, str) and isinstance(right, str) and left.startswith(right)
    ),
    "endsWith": lambda left, right: (
        isinstance(left, str) and isinstance(right, str) and left.endswith(right)
    ),
    "exists": _exists,
    "regex": _regex,
}


def compare(left: Any, operator: str, right: Any) -> bool:
    """Apply ``operator`` to ``left`` (a field's value, possibly ``MISSING``) and ``right``.

    - ``eq``/``neq``: JSON equality; ``1 == 1.0`` but a boolean never equals a number.
    - ``gt``/``gte``/``lt``/``lte``: numbers with numbers, strings with strings (code point
      order); any other pairing, including null or a missing field, is false, not an error.
    - ``in``/``nin``: ``right`` must be an array; membership uses the ``eq`` rule.
    - ``contains``: substring for strings, an ``eq`` element for arrays; otherwise false.
    - ``startsWith``/``endsWith``: strings only; otherwise false.
    - ``exists``: ``right`` true (or null) -> present and not null; false -> missing or null.
    - ``regex``: ``re.search`` of the pattern ``right`` (at most 1000 characters) in a string
      ``left``; non-strings are false.

    A missing ``left`` reads as null. Raises :class:`DataError` for an unknown operator or an
    unusable ``right`` (``in`` without an array, a bad pattern), whatever ``left`` is.
    """
    test = _TESTS.get(operator) if isinstance(operator, str) else None
    if test is None:
        raise DataError(unknown_operator(operator))
    problem = operand_problem(operator, right)
    if problem is not None:
        raise DataError(problem)
    if left is MISSING and operator != "exists":
        left = None
    return test(left, right)
