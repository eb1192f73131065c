"""Hypothesis strategies for workflow files: valid ones, ones with a planted cycle, ones with
one planted defect; run inputs; and fault plans (``faults``, from ``fault_strategies``)
(docs/testing.md, "Strategies").

What they draw are plain workflow-file documents (docs/workflow-files.md), so a drawn
workflow goes wherever a file goes: ``Turbocat.run``, ``turbocat validate``,
``POST /workflows/import``. The rules they follow are the validator's (docs/engine.md,
"Validation"): the constants come from the core, so the strategies move with it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from hypothesis import strategies as st

from turbocat_adapters.testing._defects import DEFECTS, InvalidWorkflow, with_defect
from turbocat_adapters.testing._values import (
    LITERALS,
    NAMES,
    STEP_KEYS,
    STEP_WORDS,
    TEXT,
    Document,
    flags,
    pick,
    ref,
)
from turbocat_adapters.testing.fault_strategies import faults
from turbocat_core.domain.workflow import MAX_RETRY_COUNT, OnError, StepType
from turbocat_core.engine.validation import RETRY_ON

__all__ = [
    "DEFECTS",
    "Graph",
    "InvalidWorkflow",
    "cyclic_dags",
    "cyclic_workflows",
    "dags",
    "faults",
    "inputs",
    "invalid_workflows",
    "step_keys",
    "workflows",
]

Graph = dict[str, list[str]]
"""Step key -> the keys it depends on. The dict's order is a topological order (but for the
closing edge of a planted cycle), as ``graphlib.TopologicalSorter`` takes it."""


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
                LITERALS,
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


def step_keys() -> st.SearchStrategy[str]:
    """Valid step keys (docs/engine.md, "Validation"), none of them a reserved root."""
    return STEP_KEYS


# --- shapes ---------------------------------------------------------------------------


def _some(draw: st.DrawFn, options: Sequence[str], most: int) -> list[str]:
    """Up to ``most`` of ``options``, distinct, in the order drawn (shrinking to none)."""
    if not options:
        return []
    chosen = [pick(draw, options) for _ in range(draw(st.integers(0, most)))]
    return list(dict.fromkeys(chosen))


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
    names: list[str] = []
    for _ in range(size):
        key = unique = draw(keys)
        suffix = 2
        while unique in names:  # cheaper than drawing again; ``_2`` keeps a key valid
            unique, suffix = f"{key}_{suffix}", suffix + 1
        names.append(unique)
    planted: list[str] = []
    if cycle:
        length = draw(st.integers(2, size))
        start = draw(st.integers(0, size - length))
        planted = names[start : start + length]
    inside = set(planted)
    graph: Graph = {}
    for index, key in enumerate(names):
        earlier = [k for k in names[:index] if not (key in inside and k in inside)]
        chosen = _some(draw, earlier, max_parents)
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
    with_output, status, error, text, given, value = flags(draw, 6)
    if ancestors:
        if output and with_output:
            data["from"] = ref(f"{pick(draw, ancestors)}.output")
        if status:
            data["status"] = ref(f"{pick(draw, ancestors)}.status")
        if error:
            data["error"] = ref(f"{pick(draw, ancestors)}.error")
        if text:
            key = pick(draw, ancestors)
            data["text"] = f"after {key}: {ref(key + '.status')}"
    if input_keys and given:
        data["input"] = ref(f"inputs.{pick(draw, input_keys)}")
    if value:
        data["value"] = draw(LITERALS)
    return data


def _predicate(
    draw: st.DrawFn, ancestors: Sequence[str], input_keys: Sequence[str], depth: int = 0
) -> Any:
    kind = pick(draw, ("bool", "compare", "not", "all", "any")[: 5 if depth < 2 else 2])
    if kind == "bool":
        return draw(st.booleans())
    if kind == "compare":
        sides = [ref(f"{k}.{f}") for k in ancestors for f in ("status", "output")]
        sides += [ref(f"inputs.{k}") for k in input_keys]
        referenced: bool = draw(st.booleans())
        left = pick(draw, sides) if sides and referenced else draw(LITERALS)
        right = draw(_RIGHT_SIDES)
        return {"left": left, "operator": pick(draw, _SAFE_OPERATORS), "right": right}
    if kind == "not":
        return {"not": _predicate(draw, ancestors, input_keys, depth + 1)}
    count = draw(st.integers(1, 3))
    return {kind: [_predicate(draw, ancestors, input_keys, depth + 1) for _ in range(count)]}


_ON_ERROR: Final = tuple(policy.value for policy in OnError)
_RETRY_ON: Final = st.lists(st.sampled_from(sorted(RETRY_ON)), unique=True)
_RIGHT_SIDES: Final = st.sampled_from(["COMPLETED", "SKIPPED"]) | LITERALS
_DEFAULTS: Final = st.dictionaries(NAMES, LITERALS, max_size=3)
_ITEMS: Final = st.lists(LITERALS, max_size=4)
_BRANCH_NAMES: Final = st.lists(NAMES, min_size=1, max_size=3, unique=True)
_WORKFLOW_NAMES: Final = TEXT.filter(str.strip)
_TAGS: Final = st.lists(NAMES, max_size=3)


@st.composite
def _documents(
    draw: st.DrawFn, shapes: st.SearchStrategy[tuple[Graph, list[str]]], options: _Options
) -> tuple[Document, list[str]]:
    graph, planted = draw(shapes)
    order = list(graph)
    inside = set(planted)
    position = {key: index for index, key in enumerate(order)}
    defaults = draw(_DEFAULTS)
    input_keys = sorted(defaults)
    pool = (
        {f"data_{i}": draw(_DATA_CONFIGS) for i in range(draw(st.integers(1, 3)))}
        if options.data_agents
        else {}
    )
    places = [("agent", name) for name in pool] + [("function", f) for f in options.functions]
    used: set[str] = set()

    def place(into: Document) -> None:
        kind, name = pick(draw, places)
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
        step_type = pick(draw, options.step_types)
        step: Document = {"stepKey": key}
        typed, listed, named, placed, retried, delayed, policy, timed, tuned = flags(draw, 9)
        if step_type is not StepType.AGENT or typed:
            step["stepType"] = step_type.value
        timeouts: Sequence[int] = (30, 60, 300, 600)
        if step_type is StepType.AGENT:
            place(step)
            step["inputs"] = {"data": _data(draw, above, input_keys, output=True)}
            if tuned:
                retry_on = draw(_RETRY_ON)
                step["config"] = {"retryOn": retry_on}
        elif step_type is StepType.CONDITION:
            later = [k for k in order[index + 1 :] if not (key in inside and k in inside)]
            targets = _some(draw, later, 4)
            cut = draw(st.integers(0, len(targets)))
            step["config"] = {
                "condition": _predicate(draw, above, input_keys),
                "onTrue": targets[:cut],
                "onFalse": targets[cut:],
            }
            for target in targets:
                branched[target].add(key)
        elif step_type is StepType.LOOP:
            items = draw(_ITEMS)
            data = {"item": ref("loop.item"), "index": ref("loop.index")}
            data.update(_data(draw, above, input_keys, output=False))
            config: Document = {"items": items, "inputs": {"data": data}}
            place(config)
            if tuned:
                config["concurrency"] = draw(st.integers(1, 4))
                config["maxIterations"] = draw(st.integers(max(len(items), 1), 1000))
            step["config"] = config
        elif step_type is StepType.PARALLEL:
            branches: Document = {}
            for name in draw(_BRANCH_NAMES):
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
            step["stepName"] = draw(TEXT)
        if placed:
            step["position"] = draw(st.integers(0, 3))
        if retried:
            step["retryCount"] = draw(st.integers(*options.retry_count))
        if delayed:
            step["retryDelayMs"] = draw(st.integers(*options.retry_delay_ms))
        if policy:
            step["onError"] = pick(draw, _ON_ERROR)
        if timed:
            step["timeoutSeconds"] = pick(draw, timeouts)
        steps.append(step)

    document: Document = {"name": draw(_WORKFLOW_NAMES)}
    described, tagged, concurrent, limited = flags(draw, 4)
    if described:
        document["description"] = draw(TEXT)
    if defaults:
        document["inputs"] = defaults
    if tagged:
        document["tags"] = draw(_TAGS)
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
        wait_ms=(math.ceil(low * 1000), max(math.ceil(low * 1000), math.floor(high * 1000))),
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
    keys: st.SearchStrategy[str] | None = None,
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
    time: such tests want ``@settings(deadline=None)``; widen it under a runtime whose
    clock skips time). The workflow's ``timeoutSeconds`` leaves an hour on top of all its
    waits.

    ``keys``: the step keys' strategy: plain words by default (``fetch``, ``load_2``...),
    drawn in one choice each; :func:`step_keys` draws any valid key (each character a
    choice: about twice the generation time).
    """
    _check_sizes(min_steps, max_steps, 1)
    options = _options(
        step_types, functions, data_agents, wait_seconds, retry_count, retry_delay_ms
    )
    shapes = _graphs(min_steps, max_steps, 3, STEP_WORDS if keys is None else keys, False)
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
    unknown = sorted(set(names) - set(DEFECTS))
    if unknown or not names:
        raise ValueError(f"defects: some of {', '.join(DEFECTS)}; got {unknown or 'none'}")
    bases = workflows(max_steps=4, functions=functions)
    return st.one_of(*(with_defect(name, bases, functions) for name in names))


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
