"""Whole-workflow validation: keys, dependencies, cycles, step shapes and references."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from turbocat_core.agents.failures import FailureKind
from turbocat_core.domain.common import AgentId
from turbocat_core.domain.workflow import MAX_RETRY_COUNT, STEP_KEY, StepType, WorkflowStep
from turbocat_core.engine.dag import Graph, branch_keys, build_graph
from turbocat_core.engine.predicates import predicate_problems
from turbocat_core.engine.refs import references_in
from turbocat_core.errors import FieldError, ValidationFailed, did_you_mean

RESERVED_ROOTS: Final = frozenset({"inputs", "metadata", "env", "loop", "item", "index"})
"""Reference roots that are not steps (``item``/``index`` belong to DATA transform templates)."""
STEP_FIELDS: Final = frozenset({"output", "error", "status"})
RETRY_ON: Final = frozenset(kind.value for kind in FailureKind if kind is not FailureKind.ERROR)

AgentCheck = Callable[[AgentId], str | None]
"""Returns why the workflow's owner cannot use an agent, or ``None`` when it can."""


def validate_steps(steps: Sequence[WorkflowStep], agent_check: AgentCheck | None = None) -> Graph:
    """The ordered graph of ``steps``, or ``ValidationFailed`` naming every problem.

    A cycle alone raises ``CycleDetected`` (its path in the message). Field paths are
    ``steps.<index>.<field>`` in camelCase, as clients send them.
    """
    problems = _key_problems(steps)
    keys = {step.step_key for step in steps}
    for index, step in enumerate(steps):
        problems.extend(_step_problems(index, step, keys, agent_check))
    if problems:
        raise ValidationFailed(_summary(problems), problems)
    graph = build_graph(steps)  # raises CycleDetected
    for index, step in enumerate(steps):
        problems.extend(_reference_problems(index, step, keys, graph))
    if problems:
        raise ValidationFailed(_summary(problems), problems)
    return graph


def _summary(problems: Sequence[FieldError]) -> str:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"invalid workflow: {first.field}: {first.message}{more}"


def _key_problems(steps: Sequence[WorkflowStep]) -> list[FieldError]:
    problems = []
    first_at: dict[str, int] = {}
    for index, step in enumerate(steps):
        if not STEP_KEY.match(step.step_key):
            problems.append(
                FieldError(
                    f"steps.{index}.stepKey",
                    f"{step.step_key!r} is not a valid key (a letter or _, then up to 63 "
                    "letters, digits, _ or -)",
                )
            )
        elif step.step_key in RESERVED_ROOTS:
            problems.append(
                FieldError(f"steps.{index}.stepKey", f"{step.step_key!r} is a reserved name")
            )
        if step.step_key in first_at:
            problems.append(
                FieldError(
                    f"steps.{index}.stepKey",
                    f"duplicate step key {step.step_key!r} (also steps.{first_at[step.step_key]})",
                )
            )
        first_at.setdefault(step.step_key, index)
    return problems


def _step_problems(
    index: int, step: WorkflowStep, keys: set[str], agent_check: AgentCheck | None
) -> list[FieldError]:
    at = f"steps.{index}"
    problems = []
    for dep in step.depends_on:
        if dep == step.step_key:
            problems.append(FieldError(f"{at}.dependsOn", f"step {dep!r} depends on itself"))
        elif dep not in keys:
            problems.append(
                FieldError(
                    f"{at}.dependsOn",
                    f"step {step.step_key!r} depends on unknown step {dep!r}"
                    f"{did_you_mean(dep, keys)}",
                )
            )
    if not 0 <= step.retry_count <= MAX_RETRY_COUNT:
        problems.append(FieldError(f"{at}.retryCount", f"must be between 0 and {MAX_RETRY_COUNT}"))
    if step.retry_delay_ms < 0:
        problems.append(FieldError(f"{at}.retryDelayMs", "must not be negative"))
    if step.timeout_seconds is not None and step.timeout_seconds <= 0:
        problems.append(FieldError(f"{at}.timeoutSeconds", "must be positive"))
    retry_on = step.config.get("retryOn", ["any"])
    if not isinstance(retry_on, list) or any(kind not in RETRY_ON for kind in retry_on):
        problems.append(
            FieldError(f"{at}.config.retryOn", f"a list of: {', '.join(sorted(RETRY_ON))}")
        )
    checker = _TYPE_CHECKS[step.step_type]
    problems.extend(checker(at, step, keys, agent_check))
    return problems


def agent_ref(value: Any) -> AgentId | None:
    """An agent id from a step (a UUID) or from JSON config (its text), else ``None``."""
    if isinstance(value, UUID):
        return AgentId(value)
    if isinstance(value, str):
        try:
            return AgentId(UUID(value))
        except ValueError:
            return None
    return None


def _agent_problem(where: str, reference: Any, agent_check: AgentCheck | None) -> list[FieldError]:
    if reference is None:
        return [FieldError(where, "an agent is required")]
    agent_id = agent_ref(reference)
    if agent_id is None:
        return [FieldError(where, f"{reference!r} is not an agent id (a UUID)")]
    if agent_check is None:
        return []
    why = agent_check(agent_id)
    return [FieldError(where, why)] if why else []


def _check_agent(
    at: str, step: WorkflowStep, keys: set[str], check: AgentCheck | None
) -> list[FieldError]:
    return _agent_problem(f"{at}.agentId", step.agent_id, check)


def _check_condition(
    at: str, step: WorkflowStep, keys: set[str], check: AgentCheck | None
) -> list[FieldError]:
    config = step.config
    problems = (
        [FieldError(f"{at}.config.condition", "is required")]
        if "condition" not in config
        else predicate_problems(config["condition"], f"{at}.config.condition")
    )
    on_true, on_false = branch_keys(step)
    for name, listed in (("onTrue", on_true), ("onFalse", on_false)):
        raw = config.get(name, [])
        if not isinstance(raw, list) or len(listed) != len(raw):
            problems.append(FieldError(f"{at}.config.{name}", "must be a list of step keys"))
        for key in listed:
            if key == step.step_key:
                problems.append(
                    FieldError(f"{at}.config.{name}", "a condition cannot branch to itself")
                )
            elif key not in keys:
                problems.append(
                    FieldError(
                        f"{at}.config.{name}",
                        f"names unknown step {key!r}{did_you_mean(key, keys)}",
                    )
                )
    both = set(on_true) & set(on_false)
    if both:
        problems.append(
            FieldError(f"{at}.config", f"steps in both branches: {', '.join(sorted(both))}")
        )
    return problems


def _positive_int(config: dict[str, Any], name: str, at: str) -> list[FieldError]:
    value = config.get(name)
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and value >= 1):
        return []
    return [FieldError(f"{at}.config.{name}", "must be a whole number of 1 or more")]


def _check_loop(
    at: str, step: WorkflowStep, keys: set[str], check: AgentCheck | None
) -> list[FieldError]:
    config = step.config
    problems = _agent_problem(f"{at}.config.agentId", config.get("agentId"), check)
    items = config.get("items")
    if not isinstance(items, list | str):
        problems.append(FieldError(f"{at}.config.items", "must be a list or a {{reference}}"))
    if not isinstance(config.get("inputs", {}), dict):
        problems.append(FieldError(f"{at}.config.inputs", "must be an object"))
    problems += _positive_int(config, "concurrency", at)
    problems += _positive_int(config, "maxIterations", at)
    return problems


def _check_parallel(
    at: str, step: WorkflowStep, keys: set[str], check: AgentCheck | None
) -> list[FieldError]:
    branches = step.config.get("branches")
    if not isinstance(branches, dict) or not branches:
        return [FieldError(f"{at}.config.branches", "must be a non-empty object of branches")]
    problems = []
    for name, branch in branches.items():
        where = f"{at}.config.branches.{name}"
        if not isinstance(branch, dict):
            problems.append(FieldError(where, "must be an object {agentId, inputs}"))
            continue
        problems += _agent_problem(f"{where}.agentId", branch.get("agentId"), check)
        if not isinstance(branch.get("inputs", {}), dict):
            problems.append(FieldError(f"{where}.inputs", "must be an object"))
    return problems


def _check_wait(
    at: str, step: WorkflowStep, keys: set[str], check: AgentCheck | None
) -> list[FieldError]:
    config = step.config
    has_duration, has_until = "durationMs" in config, "until" in config
    if has_duration == has_until:
        return [FieldError(f"{at}.config", "a WAIT takes exactly one of durationMs or until")]
    if has_duration:
        value = config["durationMs"]
        if isinstance(value, str) and "{{" in value:
            return []
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return [FieldError(f"{at}.config.durationMs", "must be a number of 0 or more")]
        return []
    until = config["until"]
    if isinstance(until, str) and "{{" in until:
        return []
    if not isinstance(until, str) or parse_instant(until) is None:
        return [FieldError(f"{at}.config.until", "must be an ISO 8601 time with an offset")]
    return []


_TYPE_CHECKS: Final = {
    StepType.AGENT: _check_agent,
    StepType.CONDITION: _check_condition,
    StepType.LOOP: _check_loop,
    StepType.PARALLEL: _check_parallel,
    StepType.WAIT: _check_wait,
}


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 time with an offset (``Z`` allowed), or ``None``."""
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None else None


def _reference_problems(
    index: int, step: WorkflowStep, keys: set[str], graph: Graph
) -> list[FieldError]:
    problems = []
    for where, value in (("inputs", step.inputs), ("config", step.config)):
        for path in references_in(value):
            root, _, rest = path.partition(".")
            if root in RESERVED_ROOTS:
                if root in ("item", "index"):
                    problems.append(
                        FieldError(
                            f"steps.{index}.{where}", f"{{{{{path}}}}}: unknown root {root!r}"
                        )
                    )
                continue
            if root not in keys:
                problems.append(
                    FieldError(
                        f"steps.{index}.{where}",
                        f"{{{{{path}}}}} names no step and none of inputs, metadata, env, loop",
                    )
                )
                continue
            field_name = rest.partition(".")[0]
            if not graph.is_ancestor(root, step.step_key):
                problems.append(
                    FieldError(
                        f"steps.{index}.{where}",
                        f"{{{{{path}}}}}: step {root!r} is not an ancestor of {step.step_key!r} "
                        "(add it to dependsOn)",
                    )
                )
            elif field_name not in STEP_FIELDS:
                problems.append(
                    FieldError(
                        f"steps.{index}.{where}",
                        f"{{{{{path}}}}}: use {root}.output, {root}.error or {root}.status",
                    )
                )
    return problems
