"""The defects ``invalid_workflows`` plants, each with the problem validation reports."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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


Problem = tuple[str, str]
"""Where validation reports a defect, and a fragment of its message."""


def _unknown_agent(p: _Planter) -> Problem:
    ghost = p.fresh()
    index, _ = p.step(stepType="AGENT", agent=ghost, config={})
    return f"steps.{index}.agent", f"names no agent of this file: {ghost!r}"


def _duplicate_step_key(p: _Planter) -> Problem:
    first, key = p.existing()
    index, _ = p.step(key, after=first)
    return f"steps.{index}.stepKey", f"duplicate step key {key!r} (also steps.{first})"


def _unknown_dependency(p: _Planter) -> Problem:
    key, ghost = p.fresh(), p.fresh()
    index, _ = p.step(key, dependsOn=[ghost])
    return f"steps.{index}.dependsOn", f"step {key!r} depends on unknown step {ghost!r}"


def _self_dependency(p: _Planter) -> Problem:
    key = p.fresh()
    index, _ = p.step(key, dependsOn=[key])
    return f"steps.{index}.dependsOn", f"step {key!r} depends on itself"


def _non_ancestor_reference(p: _Planter) -> Problem:
    _, other = p.existing()
    key = p.fresh()
    index, _ = p.step(key, inputs={"x": ref(f"{other}.output")})
    return f"steps.{index}.inputs", f"step {other!r} is not an ancestor of {key!r}"


def _unknown_reference(p: _Planter) -> Problem:
    path = f"{p.fresh()}.output"
    index, _ = p.step(inputs={"x": ref(path)})
    return f"steps.{index}.inputs", f"{ref(path)} names no step and none of inputs"


def _bad_reference_field(p: _Planter) -> Problem:
    _, other = p.existing()
    field = p.draw(NAMES.filter(lambda name: name not in ("output", "error", "status")))
    index, _ = p.step(dependsOn=[other], inputs={"x": ref(f"{other}.{field}")})
    return f"steps.{index}.inputs", f"use {other}.output, {other}.error or {other}.status"


def _unknown_step_field(p: _Planter) -> Problem:
    field = p.draw(NAMES.filter(lambda name: name not in FIELDS_OF_A_STEP))
    index, _ = p.step(extra={field: p.draw(LITERALS)})
    return f"steps.{index}.{field}", "unknown field"


def _branch_to_unknown_step(p: _Planter) -> Problem:
    ghost, side = p.fresh(), p.draw(st.sampled_from(["onTrue", "onFalse"]))
    index, _ = p.step(stepType="CONDITION", config={"condition": True, side: [ghost]})
    return f"steps.{index}.config.{side}", f"names unknown step {ghost!r}"


def _unknown_operator(p: _Planter) -> Problem:
    operator = p.draw(TEXT.filter(lambda text: text not in OPERATORS))
    condition = {"left": 1, "operator": operator, "right": 2}
    index, _ = p.step(stepType="CONDITION", config={"condition": condition})
    return f"steps.{index}.config.condition.operator", f"unknown operator {operator!r}"


def _both_branches(p: _Planter) -> Problem:
    _, other = p.existing()
    config = {"condition": True, "onTrue": [other], "onFalse": [other]}
    index, _ = p.step(stepType="CONDITION", config=config)
    return f"steps.{index}.config", f"steps in both branches: {other}"


def _agent_and_function(p: _Planter) -> Problem:
    index, key = p.step(stepType="AGENT", config={}, agent=p.fresh(), function=p.fresh())
    return f"steps.{index}.function", f"step {key!r} names an agent and a function: name one"


def _unregistered_function(p: _Planter) -> Problem:
    name = p.fresh()
    index, _ = p.step(stepType="AGENT", config={}, function=name)
    return f"steps.{index}.function", f"function {name!r} is not registered in this process"


def _unknown_agent_type(p: _Planter) -> Problem:
    name = p.fresh()
    kind = p.draw(TEXT.filter(lambda text: text not in {t.value for t in AgentType}))
    p.document["agents"] = {**p.document.get("agents", {}), name: {"type": kind, "config": {}}}
    return f"agents.{name}.type", "must be one of"


def _bad_data_config(p: _Planter) -> Problem:
    name, operation = p.fresh(), p.draw(NAMES.filter(lambda text: text not in OPERATIONS))
    agent = {"type": "DATA", "config": {"operation": operation}}
    p.document["agents"] = {**p.document.get("agents", {}), name: agent}
    return f"agents.{name}.config.operation", f"unknown operation {operation!r}"


def _unknown_field(p: _Planter) -> Problem:
    field = p.draw(NAMES.filter(lambda name: name not in FILE_KEYS))
    p.document[field] = p.draw(LITERALS)
    return field, "unknown field"


def _missing_name(p: _Planter) -> Problem:
    del p.document["name"]
    return "name", "is required (a string)"


def _in_the_document(field: str, message: str, values: st.SearchStrategy[Any]) -> _Defect:
    """A defect of the document's own ``field``: a value drawn from ``values``."""

    def plant(p: _Planter) -> Problem:
        p.document[field] = p.draw(values)
        return field, message

    return plant


def _in_a_step(where: str, message: str, fields: Callable[[_Planter], Document]) -> _Defect:
    """A defect of one more step (a WAIT unless ``fields`` say otherwise) reported at
    ``steps.<its index>.<where>``."""

    def plant(p: _Planter) -> Problem:
        index, _ = p.step(extra=fields(p))
        return f"steps.{index}.{where}", message

    return plant


_Defect = Callable[[_Planter], Problem]
_BAD_KEYS: Final = st.one_of(
    st.from_regex(r"[0-9-][A-Za-z0-9_-]{0,8}", fullmatch=True),
    st.from_regex(r"[a-z]{1,4}[ .:/][a-z]{1,4}", fullmatch=True),
    st.just(""),
    st.just("k" * 65),
).filter(lambda key: not STEP_KEY.match(key))


def _not_one_of(values: Iterable[str]) -> st.SearchStrategy[str]:
    known = frozenset(values)
    return TEXT.filter(lambda text: text not in known)


_DEFECTS: Final[dict[str, _Defect]] = {
    "unknown_agent": _unknown_agent,
    "invalid_step_key": _in_a_step(
        "stepKey", "is not a valid key", lambda p: {"stepKey": p.draw(_BAD_KEYS)}
    ),
    "reserved_step_key": _in_a_step(
        "stepKey",
        "is a reserved name",
        lambda p: {"stepKey": p.draw(st.sampled_from(sorted(RESERVED_ROOTS)))},
    ),
    "duplicate_step_key": _duplicate_step_key,
    "unknown_dependency": _unknown_dependency,
    "self_dependency": _self_dependency,
    "non_ancestor_reference": _non_ancestor_reference,
    "unknown_reference": _unknown_reference,
    "bad_reference_field": _bad_reference_field,
    "retry_count_too_high": _in_a_step(
        "retryCount",
        f"must be between 0 and {MAX_RETRY_COUNT}",
        lambda p: {"retryCount": p.draw(st.integers(MAX_RETRY_COUNT + 1, 1000))},
    ),
    "negative_retry_count": _in_a_step(
        "retryCount",
        "must be a whole number >= 0",
        lambda p: {"retryCount": p.draw(st.integers(-1000, -1))},
    ),
    "negative_retry_delay": _in_a_step(
        "retryDelayMs",
        "must be a whole number >= 0",
        lambda p: {"retryDelayMs": p.draw(st.integers(-100_000, -1))},
    ),
    "non_positive_timeout": _in_a_step(
        "timeoutSeconds",
        "must be a number >= 0.001",
        lambda p: {"timeoutSeconds": p.draw(st.integers(-3600, 0) | st.floats(-3600, 0.0009))},
    ),
    "bad_on_error": _in_a_step(
        "onError",
        "must be one of FAIL, CONTINUE, RETRY",
        lambda p: {"onError": p.draw(_not_one_of(OnError))},
    ),
    "bad_step_type": _in_a_step(
        "stepType",
        "must be one of AGENT, CONDITION, LOOP, PARALLEL, WAIT",
        lambda p: {"stepType": p.draw(_not_one_of(StepType))},
    ),
    "unknown_step_field": _unknown_step_field,
    "missing_name": _missing_name,
    "blank_name": _in_the_document("name", "must not be empty", st.text(" \t\n", max_size=3)),
    "bad_workflow_timeout": _in_the_document(
        "timeoutSeconds", "must be a number >= 1", st.integers(-3600, 0) | st.floats(-3600, 0.999)
    ),
    "bad_max_concurrency": _in_the_document(
        "maxConcurrency", "must be a whole number >= 1", st.integers(-64, 0)
    ),
    "unknown_field": _unknown_field,
    "no_steps": _in_the_document("steps", "must be a non-empty list of steps", st.just([])),
    "branch_to_unknown_step": _branch_to_unknown_step,
    "unknown_operator": _unknown_operator,
    "missing_condition": _in_a_step(
        "config.condition", "is required", lambda p: {"stepType": "CONDITION", "config": {}}
    ),
    "both_branches": _both_branches,
    "loop_items_not_a_list": _in_a_step(
        "config.items",
        "must be a list or a {{reference}}",
        lambda p: {
            "stepType": "LOOP",
            "config": {
                "items": p.draw(st.none() | st.booleans() | st.integers() | st.just({})),
                "agent": p.agent(),
            },
        },
    ),
    "loop_concurrency": _in_a_step(
        "config.concurrency",
        "must be a whole number of 1 or more",
        lambda p: {
            "stepType": "LOOP",
            "config": {"items": [], "agent": p.agent(), "concurrency": p.draw(st.integers(-8, 0))},
        },
    ),
    "parallel_without_branches": _in_a_step(
        "config.branches",
        "must be a non-empty object of branches",
        lambda p: {"stepType": "PARALLEL", "config": {"branches": {}}},
    ),
    "wait_shape": _in_a_step(
        "config",
        "a WAIT takes exactly one of durationMs or until",
        lambda p: {
            "config": p.draw(st.sampled_from([{}, {"durationMs": 5, "until": "2026-01-01T00:00Z"}]))
        },
    ),
    "negative_wait": _in_a_step(
        "config.durationMs",
        "must be a number of 0 or more",
        lambda p: {"config": {"durationMs": p.draw(st.integers(-100_000, -1))}},
    ),
    "bad_wait_until": _in_a_step(
        "config.until",
        "must be an ISO 8601 time with an offset",
        lambda p: {
            "config": {"until": p.draw(st.sampled_from(["tomorrow", "2026-01-01T00:00:00", ""]))}
        },
    ),
    "bad_retry_on": _in_a_step(
        "config.retryOn",
        "a list of:",
        lambda p: {"config": {"durationMs": 0, "retryOn": [p.draw(_not_one_of(RETRY_ON))]}},
    ),
    "unknown_agent_type": _unknown_agent_type,
    "bad_data_config": _bad_data_config,
    "agent_and_function": _agent_and_function,
    "unregistered_function": _unregistered_function,
    "agent_on_a_wait": _in_a_step(
        "agent", "a WAIT step names its agents in config", lambda p: {"agent": p.fresh()}
    ),
}
DEFECTS: Final = tuple(_DEFECTS)
"""The names of the defects :func:`invalid_workflows` plants."""


@st.composite
def with_defect(
    draw: st.DrawFn, defect: str, bases: st.SearchStrategy[Document], functions: Sequence[str]
) -> InvalidWorkflow:
    """``defect`` (one of :data:`DEFECTS`) planted in a document drawn from ``bases``."""
    planter = _Planter(draw, draw(bases), functions)
    field, message = _DEFECTS[defect](planter)
    return InvalidWorkflow(planter.document, field, message, defect)
