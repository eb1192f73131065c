"""The defects ``invalid_workflows`` plants, each with the problem validation reports."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st

from turbocat_adapters.testing._values import LITERALS, NAMES, STEP_KEYS, TEXT, Document, ref
from turbocat_core.agents.data import OPERATIONS, OPERATORS
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.workflow import MAX_RETRY_COUNT, STEP_KEY, OnError, StepType
from turbocat_core.engine.validation import RESERVED_ROOTS, RETRY_ON
from turbocat_core.usecases.workflow_files import FILE_KEYS
from turbocat_core.usecases.workflow_files import STEP_KEYS as FIELDS_OF_A_STEP


@dataclass(frozen=True, slots=True)
class InvalidWorkflow:
    """A document with exactly one defect, and the problem validation reports for it: one
    ``ValidationFailed`` detail whose field is ``field`` and whose message contains
    ``message``."""

    document: Document
    field: str
    message: str
    defect: str
    """Which defect was planted (one of :data:`DEFECTS`)."""


class _Planter:
    """Plants one defect in a copy of a valid document, most often as one more step (a
    0 ms WAIT that nothing depends on, so it breaks nothing else) at a drawn place."""

    def __init__(self, draw: st.DrawFn, document: Document, functions: Sequence[str]) -> None:
        self.draw = draw
        self.functions = functions
        self.document = {**document, "steps": [dict(step) for step in document["steps"]]}
        self.keys = [step["stepKey"] for step in self.document["steps"]]
        self.handed_out: set[str] = set()

    def fresh(self) -> str:
        """A valid name that no step, agent, function or earlier fresh name has."""
        avoid = set(self.keys) | set(self.document.get("agents", {})) | set(self.functions)
        avoid |= self.handed_out
        name = self.draw(STEP_KEYS.filter(lambda key: key not in avoid))
        self.handed_out.add(name)
        return name

    def existing(self) -> tuple[int, str]:
        index = self.draw(st.integers(0, len(self.keys) - 1))
        return index, self.keys[index]

    def step(
        self,
        key: str | None = None,
        *,
        after: int = -1,
        extra: Document | None = None,
        **fields: Any,
    ) -> tuple[int, str]:
        """Insert a step (a WAIT unless ``fields`` say otherwise) after index ``after``;
        its index and key."""
        key = key if key is not None else self.fresh()
        step: Document = {"stepKey": key, "stepType": "WAIT", "config": {"durationMs": 0}}
        step.update(fields, **(extra or {}))
        steps = self.document["steps"]
        index = self.draw(st.integers(after + 1, len(steps)))
        steps.insert(index, step)
        return index, key

    def agent(self) -> str:
        """A DATA agent added to the document, for LOOP and PARALLEL steps to call."""
        name = self.fresh()
        agents = dict(self.document.get("agents", {}))
        agents[name] = {"type": "DATA", "config": {"operation": "transform", "template": {}}}
        self.document["agents"] = agents
        return name

    def done(self, field: str, message: str, defect: str) -> InvalidWorkflow:
        return InvalidWorkflow(self.document, field, message, defect)


_Defect = Callable[[_Planter], InvalidWorkflow]


def _unknown_agent(p: _Planter) -> InvalidWorkflow:
    ghost = p.fresh()
    index, _ = p.step(stepType="AGENT", agent=ghost, config={})
    return p.done(
        f"steps.{index}.agent", f"names no agent of this file: {ghost!r}", "unknown_agent"
    )


def _invalid_step_key(p: _Planter) -> InvalidWorkflow:
    bad = p.draw(
        st.one_of(
            st.from_regex(r"[0-9-][A-Za-z0-9_-]{0,8}", fullmatch=True),
            st.from_regex(r"[a-z]{1,4}[ .:/][a-z]{1,4}", fullmatch=True),
            st.just(""),
            st.just("k" * 65),
        ).filter(lambda key: not STEP_KEY.match(key))
    )
    index, _ = p.step(bad)
    return p.done(f"steps.{index}.stepKey", "is not a valid key", "invalid_step_key")


def _reserved_step_key(p: _Planter) -> InvalidWorkflow:
    index, _ = p.step(p.draw(st.sampled_from(sorted(RESERVED_ROOTS))))
    return p.done(f"steps.{index}.stepKey", "is a reserved name", "reserved_step_key")


def _duplicate_step_key(p: _Planter) -> InvalidWorkflow:
    first, key = p.existing()
    index, _ = p.step(key, after=first)
    return p.done(
        f"steps.{index}.stepKey",
        f"duplicate step key {key!r} (also steps.{first})",
        "duplicate_step_key",
    )


def _unknown_dependency(p: _Planter) -> InvalidWorkflow:
    key, ghost = p.fresh(), p.fresh()
    index, _ = p.step(key, dependsOn=[ghost])
    return p.done(
        f"steps.{index}.dependsOn",
        f"step {key!r} depends on unknown step {ghost!r}",
        "unknown_dependency",
    )


def _self_dependency(p: _Planter) -> InvalidWorkflow:
    key = p.fresh()
    index, _ = p.step(key, dependsOn=[key])
    return p.done(f"steps.{index}.dependsOn", f"step {key!r} depends on itself", "self_dependency")


def _non_ancestor_reference(p: _Planter) -> InvalidWorkflow:
    _, other = p.existing()
    key = p.fresh()
    index, _ = p.step(key, inputs={"x": ref(f"{other}.output")})
    return p.done(
        f"steps.{index}.inputs",
        f"step {other!r} is not an ancestor of {key!r} (add it to dependsOn)",
        "non_ancestor_reference",
    )


def _unknown_reference(p: _Planter) -> InvalidWorkflow:
    ghost = p.fresh()
    index, _ = p.step(inputs={"x": ref(f"{ghost}.output")})
    return p.done(
        f"steps.{index}.inputs",
        f"{ref(ghost + '.output')} names no step and none of inputs, metadata, env, loop",
        "unknown_reference",
    )


def _bad_reference_field(p: _Planter) -> InvalidWorkflow:
    _, other = p.existing()
    field = p.draw(NAMES.filter(lambda name: name not in ("output", "error", "status")))
    index, _ = p.step(dependsOn=[other], inputs={"x": ref(f"{other}.{field}")})
    return p.done(
        f"steps.{index}.inputs",
        f"use {other}.output, {other}.error or {other}.status",
        "bad_reference_field",
    )


def _retry_count_too_high(p: _Planter) -> InvalidWorkflow:
    index, _ = p.step(retryCount=p.draw(st.integers(MAX_RETRY_COUNT + 1, 1000)))
    return p.done(
        f"steps.{index}.retryCount",
        f"must be between 0 and {MAX_RETRY_COUNT}",
        "retry_count_too_high",
    )


def _negative_retry_count(p: _Planter) -> InvalidWorkflow:
    index, _ = p.step(retryCount=p.draw(st.integers(-1000, -1)))
    return p.done(
        f"steps.{index}.retryCount", "must be a whole number >= 0", "negative_retry_count"
    )


def _negative_retry_delay(p: _Planter) -> InvalidWorkflow:
    index, _ = p.step(retryDelayMs=p.draw(st.integers(-100_000, -1)))
    return p.done(
        f"steps.{index}.retryDelayMs", "must be a whole number >= 0", "negative_retry_delay"
    )


def _non_positive_timeout(p: _Planter) -> InvalidWorkflow:
    seconds = p.draw(st.integers(-3600, 0) | st.floats(-3600, 0.0009))
    index, _ = p.step(timeoutSeconds=seconds)
    return p.done(
        f"steps.{index}.timeoutSeconds", "must be a number >= 0.001", "non_positive_timeout"
    )


def _bad_on_error(p: _Planter) -> InvalidWorkflow:
    policy = p.draw(TEXT.filter(lambda text: text not in {e.value for e in OnError}))
    index, _ = p.step(onError=policy)
    return p.done(f"steps.{index}.onError", "must be one of FAIL, CONTINUE, RETRY", "bad_on_error")


def _bad_step_type(p: _Planter) -> InvalidWorkflow:
    kind = p.draw(TEXT.filter(lambda text: text not in {t.value for t in StepType}))
    index, _ = p.step(stepType=kind)
    return p.done(
        f"steps.{index}.stepType",
        "must be one of AGENT, CONDITION, LOOP, PARALLEL, WAIT",
        "bad_step_type",
    )


def _unknown_step_field(p: _Planter) -> InvalidWorkflow:
    field = p.draw(NAMES.filter(lambda name: name not in FIELDS_OF_A_STEP))
    index, _ = p.step(extra={field: p.draw(LITERALS)})
    return p.done(f"steps.{index}.{field}", "unknown field", "unknown_step_field")


def _missing_name(p: _Planter) -> InvalidWorkflow:
    del p.document["name"]
    return p.done("name", "is required (a string)", "missing_name")


def _blank_name(p: _Planter) -> InvalidWorkflow:
    p.document["name"] = p.draw(st.text(" \t\n", max_size=3))
    return p.done("name", "must not be empty", "blank_name")


def _bad_workflow_timeout(p: _Planter) -> InvalidWorkflow:
    p.document["timeoutSeconds"] = p.draw(st.integers(-3600, 0) | st.floats(-3600, 0.999))
    return p.done("timeoutSeconds", "must be a number >= 1", "bad_workflow_timeout")


def _bad_max_concurrency(p: _Planter) -> InvalidWorkflow:
    p.document["maxConcurrency"] = p.draw(st.integers(-64, 0))
    return p.done("maxConcurrency", "must be a whole number >= 1", "bad_max_concurrency")


def _unknown_field(p: _Planter) -> InvalidWorkflow:
    field = p.draw(NAMES.filter(lambda name: name not in FILE_KEYS))
    p.document[field] = p.draw(LITERALS)
    return p.done(field, "unknown field", "unknown_field")


def _no_steps(p: _Planter) -> InvalidWorkflow:
    p.document["steps"] = []
    return p.done("steps", "must be a non-empty list of steps", "no_steps")


def _branch_to_unknown_step(p: _Planter) -> InvalidWorkflow:
    ghost, side = p.fresh(), p.draw(st.sampled_from(["onTrue", "onFalse"]))
    index, _ = p.step(stepType="CONDITION", config={"condition": True, side: [ghost]})
    return p.done(
        f"steps.{index}.config.{side}", f"names unknown step {ghost!r}", "branch_to_unknown_step"
    )


def _unknown_operator(p: _Planter) -> InvalidWorkflow:
    operator = p.draw(TEXT.filter(lambda text: text not in OPERATORS))
    condition = {"left": 1, "operator": operator, "right": 2}
    index, _ = p.step(stepType="CONDITION", config={"condition": condition})
    return p.done(
        f"steps.{index}.config.condition.operator",
        f"unknown operator {operator!r}",
        "unknown_operator",
    )


def _missing_condition(p: _Planter) -> InvalidWorkflow:
    index, _ = p.step(stepType="CONDITION", config={})
    return p.done(f"steps.{index}.config.condition", "is required", "missing_condition")


def _both_branches(p: _Planter) -> InvalidWorkflow:
    _, other = p.existing()
    config = {"condition": True, "onTrue": [other], "onFalse": [other]}
    index, _ = p.step(stepType="CONDITION", config=config)
    return p.done(f"steps.{index}.config", f"steps in both branches: {other}", "both_branches")


def _loop_items_not_a_list(p: _Planter) -> InvalidWorkflow:
    items = p.draw(st.none() | st.booleans() | st.integers() | st.dictionaries(NAMES, LITERALS))
    index, _ = p.step(stepType="LOOP", config={"items": items, "agent": p.agent()})
    return p.done(
        f"steps.{index}.config.items", "must be a list or a {{reference}}", "loop_items_not_a_list"
    )


def _loop_concurrency(p: _Planter) -> InvalidWorkflow:
    config = {"items": [], "agent": p.agent(), "concurrency": p.draw(st.integers(-8, 0))}
    index, _ = p.step(stepType="LOOP", config=config)
    return p.done(
        f"steps.{index}.config.concurrency",
        "must be a whole number of 1 or more",
        "loop_concurrency",
    )


def _parallel_without_branches(p: _Planter) -> InvalidWorkflow:
    index, _ = p.step(stepType="PARALLEL", config={"branches": {}})
    return p.done(
        f"steps.{index}.config.branches",
        "must be a non-empty object of branches",
        "parallel_without_branches",
    )


def _wait_shape(p: _Planter) -> InvalidWorkflow:
    config = p.draw(st.sampled_from([{}, {"durationMs": 5, "until": "2026-01-01T00:00:00Z"}]))
    index, _ = p.step(config=config)
    return p.done(
        f"steps.{index}.config", "a WAIT takes exactly one of durationMs or until", "wait_shape"
    )


def _negative_wait(p: _Planter) -> InvalidWorkflow:
    index, _ = p.step(config={"durationMs": p.draw(st.integers(-100_000, -1))})
    return p.done(
        f"steps.{index}.config.durationMs", "must be a number of 0 or more", "negative_wait"
    )


def _bad_wait_until(p: _Planter) -> InvalidWorkflow:
    until = p.draw(st.sampled_from(["tomorrow", "2026-01-01T00:00:00", "noon UTC", ""]))
    index, _ = p.step(config={"until": until})
    return p.done(
        f"steps.{index}.config.until", "must be an ISO 8601 time with an offset", "bad_wait_until"
    )


def _bad_retry_on(p: _Planter) -> InvalidWorkflow:
    kind = p.draw(TEXT.filter(lambda text: text not in RETRY_ON))
    index, _ = p.step(config={"durationMs": 0, "retryOn": [kind]})
    return p.done(f"steps.{index}.config.retryOn", "a list of:", "bad_retry_on")


def _unknown_agent_type(p: _Planter) -> InvalidWorkflow:
    name = p.fresh()
    kind = p.draw(TEXT.filter(lambda text: text not in {t.value for t in AgentType}))
    p.document["agents"] = {**p.document.get("agents", {}), name: {"type": kind, "config": {}}}
    return p.done(f"agents.{name}.type", "must be one of", "unknown_agent_type")


def _bad_data_config(p: _Planter) -> InvalidWorkflow:
    name, operation = p.fresh(), p.draw(NAMES.filter(lambda text: text not in OPERATIONS))
    agent = {"type": "DATA", "config": {"operation": operation}}
    p.document["agents"] = {**p.document.get("agents", {}), name: agent}
    return p.done(
        f"agents.{name}.config.operation", f"unknown operation {operation!r}", "bad_data_config"
    )


def _agent_and_function(p: _Planter) -> InvalidWorkflow:
    index, key = p.step(stepType="AGENT", config={}, agent=p.fresh(), function=p.fresh())
    return p.done(
        f"steps.{index}.function",
        f"step {key!r} names an agent and a function: name one",
        "agent_and_function",
    )


def _unregistered_function(p: _Planter) -> InvalidWorkflow:
    name = p.fresh()
    index, _ = p.step(stepType="AGENT", config={}, function=name)
    return p.done(
        f"steps.{index}.function",
        f"function {name!r} is not registered in this process",
        "unregistered_function",
    )


def _agent_on_a_wait(p: _Planter) -> InvalidWorkflow:
    index, _ = p.step(agent=p.fresh())
    return p.done(
        f"steps.{index}.agent", "a WAIT step names its agents in config", "agent_on_a_wait"
    )


_DEFECTS: Final[dict[str, _Defect]] = {
    defect.__name__.lstrip("_"): defect
    for defect in (
        _unknown_agent,
        _invalid_step_key,
        _reserved_step_key,
        _duplicate_step_key,
        _unknown_dependency,
        _self_dependency,
        _non_ancestor_reference,
        _unknown_reference,
        _bad_reference_field,
        _retry_count_too_high,
        _negative_retry_count,
        _negative_retry_delay,
        _non_positive_timeout,
        _bad_on_error,
        _bad_step_type,
        _unknown_step_field,
        _missing_name,
        _blank_name,
        _bad_workflow_timeout,
        _bad_max_concurrency,
        _unknown_field,
        _no_steps,
        _branch_to_unknown_step,
        _unknown_operator,
        _missing_condition,
        _both_branches,
        _loop_items_not_a_list,
        _loop_concurrency,
        _parallel_without_branches,
        _wait_shape,
        _negative_wait,
        _bad_wait_until,
        _bad_retry_on,
        _unknown_agent_type,
        _bad_data_config,
        _agent_and_function,
        _unregistered_function,
        _agent_on_a_wait,
    )
}
DEFECTS: Final = tuple(_DEFECTS)
"""The names of the defects :func:`invalid_workflows` plants."""


@st.composite
def planted(
    draw: st.DrawFn, defect: str, bases: st.SearchStrategy[Document], functions: Sequence[str]
) -> InvalidWorkflow:
    """``defect`` (one of :data:`DEFECTS`) planted in a document drawn from ``bases``."""
    return _DEFECTS[defect](_Planter(draw, draw(bases), functions))
