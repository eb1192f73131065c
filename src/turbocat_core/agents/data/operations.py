"""The table of operations: each one's options, static check and run function."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, NamedTuple

from turbocat_core.agents.data.checks import Checks
from turbocat_core.agents.data.folding import (
    check_aggregate,
    check_reduce,
    run_aggregate,
    run_reduce,
)
from turbocat_core.agents.data.joining import check_join, run_join
from turbocat_core.agents.data.ordering import check_sort, run_sort
from turbocat_core.agents.data.selecting import (
    check_fields,
    check_filter,
    check_unique,
    run_filter,
    run_omit,
    run_pick,
    run_unique,
)
from turbocat_core.agents.data.shaping import (
    check_flatten,
    check_group,
    check_map,
    check_merge,
    check_transform,
    run_flatten,
    run_group,
    run_map,
    run_merge,
    run_transform,
)
from turbocat_core.agents.data.values import type_name
from turbocat_core.errors import FieldError


class Operation(NamedTuple):
    """``run`` may assume ``check`` found no problem with its config."""

    options: tuple[str, ...]
    check: Callable[[Checks], None]
    run: Callable[[dict[str, Any], Any], Any]


OPERATIONS: Final[dict[str, Operation]] = {
    "filter": Operation(
        ("field", "operator", "value", "conditions", "match"), check_filter, run_filter
    ),
    "map": Operation(("fields", "merge"), check_map, run_map),
    "reduce": Operation(("reducer", "field", "initial"), check_reduce, run_reduce),
    "sort": Operation(("by",), check_sort, run_sort),
    "group": Operation(("by",), check_group, run_group),
    "flatten": Operation(("depth", "field"), check_flatten, run_flatten),
    "unique": Operation(("by",), check_unique, run_unique),
    "pick": Operation(("fields",), check_fields, run_pick),
    "omit": Operation(("fields",), check_fields, run_omit),
    "merge": Operation(("with", "deep"), check_merge, run_merge),
    "join": Operation(("right", "on", "type"), check_join, run_join),
    "aggregate": Operation(("field", "function", "groupBy"), check_aggregate, run_aggregate),
    "transform": Operation(("template",), check_transform, run_transform),
}


def step_problems(
    step: Any, at: str, problems: list[FieldError], *, allow_refs: bool, top_level: bool
) -> None:
    """Record every problem with one operation's config, found at dotted path ``at``.

    Unknown options are refused (typos are caught); a top-level operation may also carry
    the config's ``outputSchema``.
    """
    if not isinstance(step, dict):
        problems.append(FieldError(at, f"expected an operation object, got {type_name(step)}"))
        return
    checks = Checks(step, at, problems, allow_refs=allow_refs)
    if not checks.required("operation"):
        return
    name = step["operation"]
    operation = OPERATIONS.get(name) if isinstance(name, str) else None
    if operation is None:
        checks.add(
            "operation", f"unknown operation {name!r}; expected one of {', '.join(OPERATIONS)}"
        )
        return
    extra = ("outputSchema",) if top_level else ()
    checks.only(("operation", *operation.options, *extra))
    operation.check(checks)
