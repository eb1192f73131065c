"""Hypothesis strategies for workflow files: valid ones, ones with a planted cycle, ones with
one planted defect, and run inputs (docs/testing.md, "Strategies").

What they draw are plain workflow-file documents (docs/workflow-files.md), so a drawn
workflow goes wherever a file goes: ``Turbocat.run``, ``turbocat validate``,
``POST /workflows/import``. The rules they follow are the validator's (docs/engine.md,
"Validation"): the constants come from the core, so the strategies move with it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from hypothesis import strategies as st

from turbocat_core.agents.data import OPERATIONS, OPERATORS
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.workflow import MAX_RETRY_COUNT, STEP_KEY, OnError, StepType
from turbocat_core.engine.validation import RESERVED_ROOTS, RETRY_ON
from turbocat_core.usecases.workflow_files import FILE_KEYS, STEP_KEYS

__all__ = [
    "DEFECTS",
    "Graph",
    "InvalidWorkflow",
    "cyclic_dags",
    "cyclic_workflows",
    "dags",
    "inputs",
    "invalid_workflows",
    "step_keys",
    "workflows",
]

Graph = dict[str, list[str]]
"""Step key -> the keys it depends on. The dict's order is a topological order (but for the
closing edge of a planted cycle), as ``graphlib.TopologicalSorter`` takes it."""

Document = dict[str, Any]

# Literal text never holds braces: a "{{...}}" drawn by chance would be a reference.
_TEXT: Final = st.text(st.characters(codec="utf-8", exclude_characters="{}"), max_size=12)
_NAMES: Final = st.text("abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=6)
_SCALARS: Final = (
    st.none()
    | st.booleans()
    | st.integers(-1000, 1000)
    | st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False)
    | _TEXT
)
_LITERALS: Final = (
    _SCALARS
    | st.lists(_SCALARS, max_size=3)
    | st.dictionaries(_NAMES, _SCALARS | st.lists(_SCALARS, max_size=2), max_size=3)
)
# Operators that compare any two JSON values without failing (docs/data-agent.md).
_SAFE_OPERATORS: Final = ("eq", "neq", "gt", "gte", "lt", "lte", "contains", "startsWith")
_DATA_FIELDS: Final = ("from", "status", "error", "input", "text", "value", "item", "index")
_DATA_CONFIGS: Final = st.one_of(
    st.fixed_dictionaries(
        {
            "operation": st.just("transform"),
            "template": st.one_of(
                st.just("{{item}}"),
                st.just({"item": "{{item}}", "index": "{{index}}"}),
                _LITERALS,
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "operation": st.sampled_from(["pick", "omit"]),
            "fields": st.lists(st.sampled_from(_DATA_FIELDS), min_size=1, max_size=3, unique=True),
        }
    ),
)
"""DATA agent configs that succeed on any object (steps always hand them one)."""
_KEY_HEADS: Final = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_"
_STEP_KEYS: Final = (
    st.tuples(st.sampled_from(_KEY_HEADS), st.text(_KEY_HEADS + "0123456789-", max_size=11))
    .map("".join)
    .filter(lambda key: key not in RESERVED_ROOTS)
)

# Drawing costs per choice, so the generators below draw few: an index rather than a
# sampled_from built on the spot, one bit mask for a step's optional fields.
T = TypeVar("T")


def _pick(draw: st.DrawFn, options: Sequence[T]) -> T:
    """One of ``options`` (shrinking towards the first)."""
    return options[draw(st.integers(0, len(options) - 1))]


def _flags(draw: st.DrawFn, count: int) -> list[bool]:
    """``count`` independent yes/no choices (shrinking towards all no)."""
    mask = draw(st.integers(0, (1 << count) - 1))
    return [bool(mask >> bit & 1) for bit in range(count)]


def _ref(path: str) -> str:
    return "{{" + path + "}}"


def step_keys() -> st.SearchStrategy[str]:
    """Valid step keys (docs/engine.md, "Validation"), none of them a reserved root."""
    return _STEP_KEYS


# --- shapes ---------------------------------------------------------------------------


@st.composite
def _graphs(
    draw: st.DrawFn,
    min_size: int,
    max_size: int,
    max_parents: int,
    keys: st.SearchStrategy[str],
    cycle: bool,
) -> tuple[Graph, list[str]]:
    """A DAG drawn in topological order; with ``cycle``, a block of consecutive nodes
    closed into a cycle. The block has no other edges inside it, and edges only come into
    it from before and leave it to after, so its cycle is the graph's only one."""
    size = draw(st.integers(min_size, max_size))
    names = draw(st.lists(keys, min_size=size, max_size=size, unique=True))
    planted: list[str] = []
    if cycle:
        length = draw(st.integers(2, size))
        start = draw(st.integers(0, size - length))
        planted = names[start : start + length]
    inside = set(planted)
    graph: Graph = {}
    for index, key in enumerate(names):
        earlier = [k for k in names[:index] if not (key in inside and k in inside)]
        chosen = draw(st.sets(st.sampled_from(earlier), max_size=max_parents)) if earlier else set()
        graph[key] = [k for k in earlier if k in chosen]
    for before, after in zip(planted, planted[1:] + planted[:1], strict=True):
        graph[after].append(before)  # ``after`` depends on ``before``; the first on the last
    return graph, planted


def _check_sizes(min_size: int, max_size: int, least: int) -> None:
    if min_size < least or max_size < min_size:
        raise ValueError(f"sizes must satisfy {least} <= min <= max, got {min_size}, {max_size}")


def dags(
    *,
    min_size: int = 1,
    max_size: int = 8,
    max_parents: int = 3,
    keys: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[Graph]:
    """Random DAGs of step keys: each node depends on up to ``max_parents`` earlier ones.

    The shapes :func:`workflows` builds on; shrinks towards fewer nodes and fewer edges.
    """
    _check_sizes(min_size, max_size, 1)
    return _graphs(min_size, max_size, max_parents, keys or step_keys(), False).map(
        lambda drawn: drawn[0]
    )


def cyclic_dags(
    *,
    min_size: int = 2,
    max_size: int = 8,
    max_parents: int = 3,
    keys: st.SearchStrategy[str] | None = None,
) -> st.SearchStrategy[tuple[Graph, list[str]]]:
    """A graph with exactly one cycle, and that cycle: keys ``[c0, c1, ..., ck]`` where
    each depends on the one before it and ``c0`` on ``ck`` (at least two keys). The
    validator reports it as the path ``c0 -> c1 -> ... -> ck -> c0``, or a rotation."""
    _check_sizes(min_size, max_size, 2)
    return _graphs(min_size, max_size, max_parents, keys or step_keys(), True)


# --- valid documents ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Options:
    step_types: tuple[StepType, ...]
    functions: tuple[str, ...]
    data_agents: bool
    wait_ms: tuple[int, int]
    retry_count: tuple[int, int]
    retry_delay_ms: tuple[int, int]


def _data(
    draw: st.DrawFn, ancestors: Sequence[str], input_keys: Sequence[str], *, output: bool
) -> Document:
    """A DATA input: always an object (whatever the references resolve to, even a skipped
    step's ``null``), and holding at most one step output, so outputs grow linearly
    along a chain rather than doubling."""
    data: Document = {}
    with_output, status, error, text, given, value = _flags(draw, 6)
    if ancestors:
        if output and with_output:
            data["from"] = _ref(f"{_pick(draw, ancestors)}.output")
        if status:
            data["status"] = _ref(f"{_pick(draw, ancestors)}.status")
        if error:
            data["error"] = _ref(f"{_pick(draw, ancestors)}.error")
        if text:
            key = _pick(draw, ancestors)
            data["text"] = f"after {key}: {_ref(key + '.status')}"
    if input_keys and given:
        data["input"] = _ref(f"inputs.{_pick(draw, input_keys)}")
    if value:
        data["value"] = draw(_LITERALS)
    return data


def _predicate(
    draw: st.DrawFn, ancestors: Sequence[str], input_keys: Sequence[str], depth: int = 0
) -> Any:
    kind = _pick(draw, ("bool", "compare", "not", "all", "any")[: 5 if depth < 2 else 2])
    if kind == "bool":
        return draw(st.booleans())
    if kind == "compare":
        sides = [_ref(f"{k}.{f}") for k in ancestors for f in ("status", "output")]
        sides += [_ref(f"inputs.{k}") for k in input_keys]
        referenced: bool = draw(st.booleans())
        left = _pick(draw, sides) if sides and referenced else draw(_LITERALS)
        right = draw(st.sampled_from(["COMPLETED", "SKIPPED"]) | _LITERALS)
        return {"left": left, "operator": _pick(draw, _SAFE_OPERATORS), "right": right}
    if kind == "not":
        return {"not": _predicate(draw, ancestors, input_keys, depth + 1)}
    count = draw(st.integers(1, 3))
    return {kind: [_predicate(draw, ancestors, input_keys, depth + 1) for _ in range(count)]}


_ON_ERROR: Final = tuple(policy.value for policy in OnError)
_RETRY_ON: Final = tuple(sorted(RETRY_ON))


@st.composite
def _documents(
    draw: st.DrawFn, shapes: st.SearchStrategy[tuple[Graph, list[str]]], options: _Options
) -> tuple[Document, list[str]]:
    graph, planted = draw(shapes)
    order = list(graph)
    inside = set(planted)
    position = {key: index for index, key in enumerate(order)}
    defaults = draw(st.dictionaries(_NAMES, _LITERALS, max_size=3))
    input_keys = sorted(defaults)
    pool = (
        {f"data_{i}": draw(_DATA_CONFIGS) for i in range(draw(st.integers(1, 3)))}
        if options.data_agents
        else {}
    )
    places = [("agent", name) for name in pool] + [("function", f) for f in options.functions]
    used: set[str] = set()

    def place(into: Document) -> None:
        kind, name = _pick(draw, places)
        into[kind] = name
        if kind == "agent":
            used.add(name)

    branched: dict[str, set[str]] = {key: set() for key in order}  # a CONDITION's targets
    ancestors: dict[str, set[str]] = {}
    steps: list[Document] = []
    waited_ms = 0
    for index, key in enumerate(order):
        parents = [p for p in graph[key] if position[p] < index] + sorted(branched[key])
        found: set[str] = set()
        for parent in parents:
            found |= {parent} | ancestors[parent]
        ancestors[key] = found
        above = sorted(found, key=position.__getitem__)
        step_type = _pick(draw, options.step_types)
        step: Document = {"stepKey": key}
        typed, listed, named, placed, retried, delayed, policy, timed, tuned = _flags(draw, 9)
        if step_type is not StepType.AGENT or typed:
            step["stepType"] = step_type.value
        timeouts: Sequence[int] = (30, 60, 300, 600)
        if step_type is StepType.AGENT:
            place(step)
            step["inputs"] = {"data": _data(draw, above, input_keys, output=True)}
            if tuned:
                retry_on = draw(st.lists(st.sampled_from(_RETRY_ON), unique=True))
                step["config"] = {"retryOn": retry_on}
        elif step_type is StepType.CONDITION:
            later = [k for k in order[index + 1 :] if not (key in inside and k in inside)]
            targets = (
                draw(st.lists(st.sampled_from(later), unique=True, max_size=4)) if later else []
            )
            cut = draw(st.integers(0, len(targets)))
            step["config"] = {
                "condition": _predicate(draw, above, input_keys),
                "onTrue": targets[:cut],
                "onFalse": targets[cut:],
            }
            for target in targets:
                branched[target].add(key)
        elif step_type is StepType.LOOP:
            items = draw(st.lists(_LITERALS, max_size=4))
            data = {"item": _ref("loop.item"), "index": _ref("loop.index")}
            data.update(_data(draw, above, input_keys, output=False))
            config: Document = {"items": items, "inputs": {"data": data}}
            place(config)
            if tuned:
                config["concurrency"] = draw(st.integers(1, 4))
                config["maxIterations"] = draw(st.integers(max(len(items), 1), 1000))
            step["config"] = config
        elif step_type is StepType.PARALLEL:
            branches: Document = {}
            for name in draw(st.lists(_NAMES, min_size=1, max_size=3, unique=True)):
                branch: Document = {
                    "inputs": {"data": _data(draw, above, input_keys, output=False)}
                }
                place(branch)
                branches[name] = branch
            step["config"] = {"branches": branches}
        else:
            wait_ms = draw(st.integers(*options.wait_ms))
            waited_ms += wait_ms
            step["config"] = {"durationMs": wait_ms}
            timeouts = (wait_ms // 1000 + 30, wait_ms // 1000 + 300)
        if graph[key] or listed:
            step["dependsOn"] = list(graph[key])
        if named:
            step["stepName"] = draw(_TEXT)
        if placed:
            step["position"] = draw(st.integers(0, 3))
        if retried:
            step["retryCount"] = draw(st.integers(*options.retry_count))
        if delayed:
            step["retryDelayMs"] = draw(st.integers(*options.retry_delay_ms))
        if policy:
            step["onError"] = _pick(draw, _ON_ERROR)
        if timed:
            step["timeoutSeconds"] = _pick(draw, timeouts)
        steps.append(step)

    document: Document = {"name": draw(_TEXT.filter(str.strip))}
    described, tagged, concurrent, limited = _flags(draw, 4)
    if described:
        document["description"] = draw(_TEXT)
    if defaults:
        document["inputs"] = defaults
    if tagged:
        document["tags"] = draw(st.lists(_NAMES, max_size=3))
    # Room for every WAIT on top of the default hour, whatever the branches take.
    document["timeoutSeconds"] = 3600 + math.ceil(waited_ms / 1000)
    if concurrent:
        document["maxConcurrency"] = draw(st.integers(1, 8))
    if limited:
        document["concurrencyLimit"] = draw(st.integers(1, 4))
    if used:
        document["agents"] = {
            name: {"type": "DATA", "config": config}
            for name, config in pool.items()
            if name in used
        }
    document["steps"] = draw(st.permutations(steps))  # the list order must not matter
    return document, planted


def _options(
    step_types: Iterable[StepType | str] | None,
    functions: Sequence[str],
    data_agents: bool,
    wait_seconds: tuple[float, float],
    retry_count: tuple[int, int],
    retry_delay_ms: tuple[int, int],
) -> _Options:
    kinds = tuple(
        dict.fromkeys(StepType(kind) for kind in (StepType if step_types is None else step_types))
    )
    names = tuple(dict.fromkeys(functions))
    if not kinds:
        raise ValueError("step_types: name at least one step type")
    if any(not isinstance(name, str) or not name for name in names):
        raise ValueError("functions: the names of registered functions (non-empty strings)")
    needs_agent = {StepType.AGENT, StepType.LOOP, StepType.PARALLEL} & set(kinds)
    if needs_agent and not data_agents and not names:
        raise ValueError(
            "AGENT, LOOP and PARALLEL steps need DATA agents (data_agents=True) or functions"
        )
    low, high = wait_seconds
    if not 0 <= low <= high:
        raise ValueError(f"wait_seconds: a range 0 <= low <= high, got {wait_seconds}")
    if not 0 <= retry_count[0] <= retry_count[1] <= MAX_RETRY_COUNT:
        raise ValueError(f"retry_count: a range within 0..{MAX_RETRY_COUNT}, got {retry_count}")
    if not 0 <= retry_delay_ms[0] <= retry_delay_ms[1]:
        raise ValueError(f"retry_delay_ms: a range 0 <= low <= high, got {retry_delay_ms}")
    return _Options(
        step_types=kinds,
        functions=names,
        data_agents=data_agents,
        wait_ms=(math.ceil(low * 1000), math.floor(high * 1000)),
        retry_count=retry_count,
        retry_delay_ms=retry_delay_ms,
    )


def workflows(
    *,
    min_steps: int = 1,
    max_steps: int = 8,
    step_types: Iterable[StepType | str] | None = None,
    functions: Sequence[str] = (),
    data_agents: bool = True,
    wait_seconds: tuple[float, float] = (0, 2),
    retry_count: tuple[int, int] = (0, 3),
    retry_delay_ms: tuple[int, int] = (0, 1000),
) -> st.SearchStrategy[Document]:
    """Valid workflow-file documents: DAGs of the given ``step_types`` (default: all five),
    ``dependsOn`` and ``{{references}}`` only to ancestors, CONDITIONs with branches to
    later steps, LOOPs, PARALLEL branches, WAITs, retries, error policies and timeouts.

    AGENT steps, LOOPs and PARALLEL branches call DATA agents that succeed on any input
    (with ``data_agents``) or the registered Python functions named in ``functions``: each
    gets ``{"data": {...}}``, an object of literals and references. So with the defaults
    every drawn workflow runs to COMPLETED under ``Turbocat()`` with nothing registered,
    whatever inputs the run is given (the steps in a branch not taken end SKIPPED).

    WAITs last ``wait_seconds`` (default 0 to 2 s, since ``Turbocat()`` waits in real
    time; widen it under a runtime whose clock skips time). The workflow's
    ``timeoutSeconds`` leaves an hour on top of all its waits.
    """
    _check_sizes(min_steps, max_steps, 1)
    options = _options(
        step_types, functions, data_agents, wait_seconds, retry_count, retry_delay_ms
    )
    shapes = _graphs(min_steps, max_steps, 3, step_keys(), False)
    return _documents(shapes, options).map(lambda drawn: drawn[0])


def cyclic_workflows(
    *,
    min_steps: int = 2,
    max_steps: int = 8,
    step_types: Iterable[StepType | str] | None = None,
    functions: Sequence[str] = (),
    data_agents: bool = True,
) -> st.SearchStrategy[tuple[Document, list[str]]]:
    """Documents valid but for one planted dependency cycle, and that cycle: step keys
    ``[c0, ..., ck]``, each depending on the one before it and ``c0`` on ``ck``.

    Validation refuses them with ``steps form a cycle: c0 -> ... -> ck -> c0`` (field
    ``steps``), starting at whichever of them comes first by (position, stepKey).
    """
    _check_sizes(min_steps, max_steps, 2)
    options = _options(step_types, functions, data_agents, (0, 2), (0, 3), (0, 1000))
    return _documents(_graphs(min_steps, max_steps, 3, step_keys(), True), options)


# --- invalid documents ----------------------------------------------------------------


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
        name = self.draw(step_keys().filter(lambda key: key not in avoid))
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
    index, _ = p.step(key, inputs={"x": _ref(f"{other}.output")})
    return p.done(
        f"steps.{index}.inputs",
        f"step {other!r} is not an ancestor of {key!r} (add it to dependsOn)",
        "non_ancestor_reference",
    )


def _unknown_reference(p: _Planter) -> InvalidWorkflow:
    ghost = p.fresh()
    index, _ = p.step(inputs={"x": _ref(f"{ghost}.output")})
    return p.done(
        f"steps.{index}.inputs",
        f"{_ref(ghost + '.output')} names no step and none of inputs, metadata, env, loop",
        "unknown_reference",
    )


def _bad_reference_field(p: _Planter) -> InvalidWorkflow:
    _, other = p.existing()
    field = p.draw(_NAMES.filter(lambda name: name not in ("output", "error", "status")))
    index, _ = p.step(dependsOn=[other], inputs={"x": _ref(f"{other}.{field}")})
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
    policy = p.draw(_TEXT.filter(lambda text: text not in {e.value for e in OnError}))
    index, _ = p.step(onError=policy)
    return p.done(f"steps.{index}.onError", "must be one of FAIL, CONTINUE, RETRY", "bad_on_error")


def _bad_step_type(p: _Planter) -> InvalidWorkflow:
    kind = p.draw(_TEXT.filter(lambda text: text not in {t.value for t in StepType}))
    index, _ = p.step(stepType=kind)
    return p.done(
        f"steps.{index}.stepType",
        "must be one of AGENT, CONDITION, LOOP, PARALLEL, WAIT",
        "bad_step_type",
    )


def _unknown_step_field(p: _Planter) -> InvalidWorkflow:
    field = p.draw(_NAMES.filter(lambda name: name not in STEP_KEYS))
    index, _ = p.step(extra={field: p.draw(_LITERALS)})
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
    field = p.draw(_NAMES.filter(lambda name: name not in FILE_KEYS))
    p.document[field] = p.draw(_LITERALS)
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
    operator = p.draw(_TEXT.filter(lambda text: text not in OPERATORS))
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
    items = p.draw(st.none() | st.booleans() | st.integers() | st.dictionaries(_NAMES, _LITERALS))
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
    kind = p.draw(_TEXT.filter(lambda text: text not in RETRY_ON))
    index, _ = p.step(config={"durationMs": 0, "retryOn": [kind]})
    return p.done(f"steps.{index}.config.retryOn", "a list of:", "bad_retry_on")


def _unknown_agent_type(p: _Planter) -> InvalidWorkflow:
    name = p.fresh()
    kind = p.draw(_TEXT.filter(lambda text: text not in {t.value for t in AgentType}))
    p.document["agents"] = {**p.document.get("agents", {}), name: {"type": kind, "config": {}}}
    return p.done(f"agents.{name}.type", "must be one of", "unknown_agent_type")


def _bad_data_config(p: _Planter) -> InvalidWorkflow:
    name, operation = p.fresh(), p.draw(_NAMES.filter(lambda text: text not in OPERATIONS))
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
def _invalid(
    draw: st.DrawFn, defect: _Defect, bases: st.SearchStrategy[Document], functions: Sequence[str]
) -> InvalidWorkflow:
    return defect(_Planter(draw, draw(bases), functions))


def invalid_workflows(
    *, defects: Iterable[str] | None = None, functions: Sequence[str] = ()
) -> st.SearchStrategy[InvalidWorkflow]:
    """Documents with one defect each (a drawn one of ``defects``, default all of
    :data:`DEFECTS`), planted in a small valid workflow, with the one problem validation
    must report for it.

    ``functions``: the functions registered where the documents are validated (the valid
    part may call them; the ``unregistered_function`` defect names none of them).
    """
    names = list(defects) if defects is not None else list(DEFECTS)
    unknown = sorted(set(names) - set(_DEFECTS))
    if unknown or not names:
        raise ValueError(f"defects: some of {', '.join(DEFECTS)}; got {unknown or 'none'}")
    bases = workflows(max_steps=4, functions=functions)
    return st.one_of(*(_invalid(_DEFECTS[name], bases, functions) for name in names))


# --- inputs ---------------------------------------------------------------------------


def inputs(*, max_leaves: int = 20) -> st.SearchStrategy[dict[str, Any]]:
    """Run inputs: JSON objects that every store keeps exactly.

    Any Unicode text but lone surrogates (NUL included: the stores escape it), integers
    within +-(2**53 - 1), finite floats within +-1e15 (PostgreSQL's ``jsonb`` gives larger
    ones back as integers), lists and objects nested up to ``max_leaves`` leaves.
    """
    text = st.text(st.characters(codec="utf-8"), max_size=16)
    limit = 2**53 - 1
    scalars = (
        st.none()
        | st.booleans()
        | st.integers(-limit, limit)
        | st.floats(-1e15, 1e15, allow_nan=False, allow_subnormal=False)
        | text
    )
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4),
        max_leaves=max_leaves,
    )
    return st.dictionaries(text, values, max_size=5)
