"""DAG validation and ordering, checked against graphlib on random graphs."""

from __future__ import annotations

import graphlib
import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.core.builders import step
from turbocat_adapters.testing.strategies import Graph, cyclic_dags, dags
from turbocat_core.domain.workflow import StepType, WorkflowStep
from turbocat_core.engine.dag import build_graph, dependencies
from turbocat_core.engine.validation import validate_steps
from turbocat_core.errors import CycleDetected, ValidationFailed


@st.composite
def listed(draw: st.DrawFn, graph: Graph) -> list[WorkflowStep]:
    """The graph's steps in any list order (it must not matter), with positions that tie."""
    positions = dict(
        zip(
            graph,
            draw(st.lists(st.integers(0, 3), min_size=len(graph), max_size=len(graph))),
            strict=True,
        )
    )
    order = draw(st.permutations(list(graph)))
    return [step(key, graph[key], position=positions[key]) for key in order]


@given(dags(max_size=14), st.data())
def test_order_is_topological_and_ties_follow_position_then_key(deps, data):
    steps = data.draw(listed(deps))
    graphlib.TopologicalSorter(deps).prepare()  # graphlib agrees it is acyclic
    graph = build_graph(steps)
    assert sorted(graph.order) == sorted(deps)
    placed: set[str] = set()
    tie = {s.step_key: (s.position, s.step_key) for s in steps}
    for key in graph.order:
        assert set(deps[key]) <= placed
        ready = [k for k in deps if k not in placed and set(deps[k]) <= placed]
        assert tie[key] == min(tie[k] for k in ready)  # Kahn, ties by (position, stepKey)
        placed.add(key)


@given(cyclic_dags(max_size=14), st.data())
def test_a_cycle_is_refused_with_the_cycle_path(case, data):
    deps, planted = case
    steps = data.draw(listed(deps))
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(deps).prepare()
    with pytest.raises(CycleDetected) as caught:
        build_graph(steps)
    path = caught.value.path
    assert path[0] == path[-1] and len(path) >= 3
    for before, after in itertools.pairwise(path):
        assert before in deps[after]  # work flows before -> after: after depends on before
    start = planted.index(path[0])
    assert list(path[:-1]) == planted[start:] + planted[:start]  # the only cycle there is
    assert " -> ".join(path) in caught.value.message


@given(dags(max_size=14), st.data())
def test_same_graph_same_order_whatever_the_list_order(deps, data):
    steps = data.draw(listed(deps))
    assert build_graph(steps).order == build_graph(list(reversed(steps))).order


def test_cycle_message_names_the_path():
    steps = [step("a", ["c"]), step("b", ["a"]), step("c", ["b"]), step("d")]
    with pytest.raises(CycleDetected, match=r"a -> b -> c -> a"):
        validate_steps(steps)


def test_validation_names_every_offending_step():
    steps = [
        step("a", ["a"]),
        step("b", ["ghost"]),
        step("b"),
        step("9bad"),
        step("inputs"),
    ]
    with pytest.raises(ValidationFailed) as caught:
        validate_steps(steps)
    messages = {(d.field, d.message) for d in caught.value.details}
    assert ("steps.0.dependsOn", "step 'a' depends on itself") in messages
    assert ("steps.1.dependsOn", "step 'b' depends on unknown step 'ghost'") in messages
    assert any(f == "steps.2.stepKey" and "duplicate" in m for f, m in messages)
    assert any(f == "steps.3.stepKey" and "not a valid key" in m for f, m in messages)
    assert any(f == "steps.4.stepKey" and "reserved" in m for f, m in messages)


def test_condition_branches_are_implicit_dependencies():
    cond = step(
        "check",
        step_type=StepType.CONDITION,
        config={"condition": True, "onTrue": ["yes"], "onFalse": ["no"]},
    )
    steps = [step("yes"), step("no"), cond]
    assert dependencies(steps)["yes"] == ("check",)
    assert build_graph(steps).order[0] == "check"


def test_references_must_name_ancestors():
    steps = [
        step("a"),
        step("b", inputs={"x": "{{a.output.v}}"}),  # a is not an ancestor of b
        step("c", ["a"], inputs={"x": "{{a.output.v}}", "y": "{{nowhere.output}}"}),
        step("d", ["a"], inputs={"x": "{{a.result}}"}),
    ]
    with pytest.raises(ValidationFailed) as caught:
        validate_steps(steps)
    fields = [(d.field, d.message) for d in caught.value.details]
    assert any(f == "steps.1.inputs" and "not an ancestor" in m for f, m in fields)
    assert any(f == "steps.2.inputs" and "nowhere" in m for f, m in fields)
    assert any(f == "steps.3.inputs" and "a.output" in m for f, m in fields)
    assert len(fields) == 3


@pytest.mark.parametrize(
    ("step_type", "config", "field"),
    [
        (StepType.CONDITION, {}, "steps.0.config.condition"),
        (
            StepType.CONDITION,
            {"condition": {"left": 1, "operator": "nope", "right": 2}},
            "steps.0.config.condition.operator",
        ),
        (StepType.CONDITION, {"condition": True, "onTrue": ["ghost"]}, "steps.0.config.onTrue"),
        (
            StepType.LOOP,
            {"items": 5, "agentId": "00000000-0000-0000-0000-000000000001"},
            "steps.0.config.items",
        ),
        (StepType.LOOP, {"items": [], "agentId": "not-a-uuid"}, "steps.0.config.agentId"),
        (
            StepType.LOOP,
            {"items": [], "agentId": "00000000-0000-0000-0000-000000000001", "concurrency": 0},
            "steps.0.config.concurrency",
        ),
        (StepType.PARALLEL, {"branches": {}}, "steps.0.config.branches"),
        (
            StepType.PARALLEL,
            {"branches": {"x": {"inputs": {}}}},
            "steps.0.config.branches.x.agentId",
        ),
        (StepType.WAIT, {}, "steps.0.config"),
        (StepType.WAIT, {"durationMs": -1}, "steps.0.config.durationMs"),
        (StepType.WAIT, {"until": "tomorrow"}, "steps.0.config.until"),
        (StepType.WAIT, {"durationMs": 5, "retryOn": ["sometimes"]}, "steps.0.config.retryOn"),
    ],
)
def test_step_shapes_are_checked(step_type, config, field):
    with pytest.raises(ValidationFailed) as caught:
        validate_steps([step("s", step_type=step_type, config=config, agent_id=None)])
    assert field in [d.field for d in caught.value.details]
