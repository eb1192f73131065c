"""``run_data`` and ``validate_data_config``: the DATA agent's two entry points."""

from __future__ import annotations

from typing import Any

from turbocat_core.agents.data.errors import DataError
from turbocat_core.agents.data.operations import OPERATIONS, step_problems
from turbocat_core.agents.data.schema import describe, schema_problems, violations
from turbocat_core.agents.data.shaping import run_transform
from turbocat_core.agents.data.values import dotted, find_non_json, json_path, type_name
from turbocat_core.engine.refs import Budget
from turbocat_core.errors import FieldError, ValidationFailed


def _shape_problems(config: Any) -> list[FieldError]:
    # Problems with the config as a whole; when there are any, its steps are not looked at.
    if not isinstance(config, dict):
        return [FieldError("config", f"expected an object, got {type_name(config)}")]
    found = find_non_json(config)
    if found is not None:
        path, what = found
        return [FieldError(dotted(["config", *path]), f"not JSON-like: found {what}")]
    has_operation, has_pipeline = "operation" in config, "pipeline" in config
    if has_operation and has_pipeline:
        return [FieldError("config", 'use either "operation" or "pipeline", not both')]
    if not has_operation and not has_pipeline:
        return [FieldError("config", 'needs "operation" or "pipeline"')]
    pipeline = config.get("pipeline")
    if has_pipeline and (not isinstance(pipeline, list) or not pipeline):
        return [FieldError("config.pipeline", "expected a non-empty array of operations")]
    if has_pipeline:
        unknown = sorted(set(config) - {"pipeline", "outputSchema"})
        if unknown:
            return [FieldError(f"config.{key}", "unknown option") for key in unknown]
    return []


def _schema_problems(config: dict[str, Any]) -> list[FieldError]:
    if "outputSchema" not in config:
        return []
    return schema_problems(config["outputSchema"], "config.outputSchema")


def validate_data_config(config: Any) -> None:
    """Check a DATA config before any run; raise ``ValidationFailed`` naming every bad field.

    Field paths start at ``config`` (``config.pipeline.1.operator``). Values the engine fills
    in later may still be ``{{references}}`` here: a string that is exactly one reference is
    accepted where ``value``, ``right`` or ``with`` expects another type.
    """
    problems = _shape_problems(config)
    if not problems:
        if "pipeline" in config:
            for index, step in enumerate(config["pipeline"]):
                at = f"config.pipeline.{index}"
                step_problems(step, at, problems, allow_refs=True, top_level=False)
        else:
            step_problems(config, "config", problems, allow_refs=True, top_level=True)
        problems.extend(_schema_problems(config))
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ValidationFailed(
            f"invalid DATA config: {first.field}: {first.message}{more}", problems
        )


def _render(problems: list[FieldError]) -> str:
    return "; ".join(f"{p.field}: {p.message}" if p.field else p.message for p in problems)


def _label(step: Any, position: int | None) -> str:
    name = step.get("operation") if isinstance(step, dict) else None
    name = name if isinstance(name, str) and name in OPERATIONS else None
    if position is None:
        return name or "config"
    return f"pipeline[{position}] {name}" if name else f"pipeline[{position}]"


def run_data(config: dict[str, Any], data: Any, *, max_resolved_bytes: int | None = None) -> Any:
    """Apply ``config`` (one ``operation`` or a ``pipeline``) to ``data``; see docs/data-agent.md.

    ``data`` is never modified: results are new containers that may share unchanged parts of
    it. Every failure, including a config that :func:`validate_data_config` would refuse, is
    a :class:`DataError` whose message names the operation (and its pipeline position).
    ``transform`` templates are filled in (references resolved) within ``max_resolved_bytes``
    (compact JSON) for each transform: a template repeating a big item fails as it passes
    that, before it is all built.
    """
    problems = _shape_problems(config)
    if problems:
        raise DataError(_render(problems))
    problems = _schema_problems(config)
    if problems:
        raise DataError(_render(problems))
    if "pipeline" in config:
        steps = [
            (_label(step, index), step, False) for index, step in enumerate(config["pipeline"])
        ]
    else:
        steps = [(_label(config, None), config, True)]
    for label, step, top_level in steps:
        problems = []
        step_problems(step, "", problems, allow_refs=False, top_level=top_level)
        if problems:
            raise DataError(f"{label}: {_render(problems)}")
    found = find_non_json(data)
    if found is not None:
        path, what = found
        raise DataError(f"data is not JSON-like: found {what} at {json_path(path)}")

    result = data
    for label, step, _ in steps:
        try:
            if step["operation"] == "transform":  # the one operation resolving references
                budget = Budget(max_resolved_bytes) if max_resolved_bytes is not None else None
                result = run_transform(step, result, budget)
            else:
                result = OPERATIONS[step["operation"]].run(step, result)
        except DataError as exc:
            raise DataError(f"{label}: {exc.message}") from exc
    if "outputSchema" in config:
        broken = violations(config["outputSchema"], result, [])
        if broken:
            raise DataError(f"outputSchema: result does not match: {describe(broken)}")
    return result
