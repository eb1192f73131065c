"""CONDITION predicates: ``{left, operator, right}``, ``all``, ``any`` and ``not``."""

from __future__ import annotations

from typing import Any

from turbocat_core.agents.data import OPERATORS, DataError, compare
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.engine.refs import REFERENCE
from turbocat_core.errors import FieldError

MAX_DEPTH = 32


def predicate_problems(predicate: Any, path: str, depth: int = 0) -> list[FieldError]:
    """Shape errors of an unresolved predicate (a whole-string reference is allowed anywhere)."""
    if isinstance(predicate, bool) or (
        isinstance(predicate, str) and REFERENCE.fullmatch(predicate)
    ):
        return []
    if depth > MAX_DEPTH:
        return [FieldError(path, f"nested more than {MAX_DEPTH} levels deep")]
    if not isinstance(predicate, dict):
        return [FieldError(path, "must be an object: {left, operator, right}, all, any or not")]
    if "all" in predicate or "any" in predicate:
        name = "all" if "all" in predicate else "any"
        parts = predicate[name]
        if len(predicate) != 1 or not isinstance(parts, list) or not parts:
            return [FieldError(path, f"{name} takes a non-empty list of predicates, alone")]
        return [
            problem
            for i, part in enumerate(parts)
            for problem in predicate_problems(part, f"{path}.{name}.{i}", depth + 1)
        ]
    if "not" in predicate:
        if len(predicate) != 1:
            return [FieldError(path, "not takes one predicate, alone")]
        return predicate_problems(predicate["not"], f"{path}.not", depth + 1)
    problems = []
    if "left" not in predicate:
        problems.append(FieldError(f"{path}.left", "is required"))
    operator = predicate.get("operator")
    if operator not in OPERATORS:
        problems.append(
            FieldError(
                f"{path}.operator",
                f"unknown operator {operator!r}; one of {', '.join(OPERATORS)}",
            )
        )
    extra = set(predicate) - {"left", "operator", "right"}
    if extra:
        problems.append(FieldError(path, f"unknown keys: {', '.join(sorted(extra))}"))
    return problems


def evaluate(predicate: Any) -> bool:
    """The truth of a resolved predicate; ``AgentFailure`` (not retryable) for a bad one."""
    if isinstance(predicate, bool):
        return predicate
    if not isinstance(predicate, dict):
        raise AgentFailure(
            f"condition must be an object or a boolean, got {type(predicate).__name__}",
            retryable=False,
        )
    if "all" in predicate:
        return all(evaluate(part) for part in predicate["all"])
    if "any" in predicate:
        return any(evaluate(part) for part in predicate["any"])
    if "not" in predicate:
        return not evaluate(predicate["not"])
    try:
        return compare(
            predicate.get("left"), str(predicate.get("operator")), predicate.get("right")
        )
    except DataError as error:
        raise AgentFailure(f"condition: {error.message}", retryable=False) from None
