"""The console's pure parts: the DAG's layered layout and the charts' geometry."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.core.builders import step
from turbocat_core.domain.workflow import StepType
from turbocat_http.console.charts import Series, line_chart
from turbocat_http.console.layout import NODE_HEIGHT, NODE_WIDTH, lay_out


def test_a_diamond_is_three_columns():
    layout = lay_out(
        [step("a"), step("b", ["a"]), step("c", ["a"]), step("d", ["b", "c"], position=3)]
    )
    nodes = {node.key: node for node in layout.nodes}
    assert {key: node.layer for key, node in nodes.items()} == {"a": 0, "b": 1, "c": 1, "d": 2}
    assert nodes["b"].row != nodes["c"].row
    assert {(edge.source, edge.target) for edge in layout.edges} == {
        ("a", "b"),
        ("a", "c"),
        ("b", "d"),
        ("c", "d"),
    }
    assert layout.width >= nodes["d"].x + NODE_WIDTH
    assert layout.height >= max(node.y for node in layout.nodes) + NODE_HEIGHT


def test_a_condition_comes_before_its_branches():
    condition = step(
        "check",
        step_type=StepType.CONDITION,
        config={"condition": {}, "onTrue": ["yes"], "onFalse": ["no"]},
    )
    layout = lay_out([condition, step("yes"), step("no")])
    layers = {node.key: node.layer for node in layout.nodes}
    assert layers == {"check": 0, "yes": 1, "no": 1}


def test_long_names_are_shortened_for_the_boxes():
    (node,) = lay_out([step("k" * 60)]).nodes
    assert len(node.label) <= 22
    assert node.key == "k" * 60


@given(st.lists(st.lists(st.integers(0, 30), max_size=3), min_size=1, max_size=30))
def test_every_step_sits_right_of_its_dependencies_and_no_two_overlap(parents):
    steps = [
        step(f"s{i}", [f"s{p}" for p in set(wanted) if p < i], position=i)
        for i, wanted in enumerate(parents)
    ]
    layout = lay_out(steps)
    at = {node.key: node for node in layout.nodes}
    for one in steps:
        for dep in one.depends_on:
            assert at[dep].x + NODE_WIDTH < at[one.step_key].x
    places = {(node.x, node.y) for node in layout.nodes}
    assert len(places) == len(steps)


def test_a_chart_spans_its_values_and_skips_gaps():
    chart = line_chart(
        "Success", ["mon", "tue", "wed"], [Series("rate", "ok", (100.0, None, 50.0))], top=100
    )
    (line,) = chart.lines
    assert len(line.dots) == 2
    assert len(line.points.split()) == 2
    ys = [y for _, y, _ in line.dots]
    assert ys[0] < ys[1]  # 100 % is drawn higher than 50 %
    assert not chart.empty
    assert line_chart("Nothing", ["a"], [Series("x", "ok", (None,))]).empty
