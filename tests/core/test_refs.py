"""`{{reference}}` resolution: typed whole-string references, interpolation, recursion."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from turbocat_core.engine.refs import (
    MISSING,
    Budget,
    ResolvedTooLarge,
    mapping_lookup,
    references_in,
    resolve,
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.from_regex(r"[a-z]{1,5}", fullmatch=True), children, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_a_whole_string_reference_keeps_the_value_and_its_type(value):
    lookup = mapping_lookup({"inputs": {"v": value}})
    assert resolve("{{inputs.v}}", lookup) == value
    assert resolve("{{ inputs.v }}", lookup) == value


@given(json_values)
def test_references_inside_text_read_as_compact_json(value):
    lookup = mapping_lookup({"inputs": {"v": value}})
    expected = (
        value
        if isinstance(value, str)
        else json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    )
    assert resolve("<{{inputs.v}}>", lookup) == f"<{expected}>"


@given(st.dictionaries(st.from_regex(r"[a-z]{1,4}", fullmatch=True), json_values, max_size=5))
def test_objects_and_lists_resolve_recursively(values):
    lookup = mapping_lookup({"inputs": values})
    template = {"all": [{"k": f"{{{{inputs.{key}}}}}"} for key in values], "n": 1}
    assert resolve(template, lookup) == {"all": [{"k": v} for v in values.values()], "n": 1}


def test_paths_walk_objects_and_list_indexes():
    lookup = mapping_lookup({"a": {"output": {"x": [{"y": 7}]}}})
    assert resolve("{{a.output.x.0.y}}", lookup) == 7
    assert resolve("{{a.output.x.5.y}}", lookup) == "{{a.output.x.5.y}}"
    assert lookup("a.output.x.z") is MISSING


def test_unresolved_references_stay_as_written_and_are_reported():
    missing: list[str] = []
    lookup = mapping_lookup({"inputs": {"a": 1}})
    out = resolve(
        {"x": "{{inputs.b}}", "y": "n={{inputs.a}} m={{inputs.c.d}}"}, lookup, missing.append
    )
    assert out == {"x": "{{inputs.b}}", "y": "n=1 m={{inputs.c.d}}"}
    assert missing == ["inputs.b", "inputs.c.d"]


def test_references_not_handled_are_left_silently():
    missing: list[str] = []
    lookup = mapping_lookup({"inputs": {"a": 1}})
    handles = lambda path: path.startswith("inputs")  # noqa: E731
    assert (
        resolve("{{item.x}} {{inputs.a}}", lookup, missing.append, handles=handles)
        == "{{item.x}} 1"
    )
    assert missing == []


def test_null_is_a_value_not_a_missing_reference():
    lookup = mapping_lookup({"inputs": {"a": None}})
    assert resolve("{{inputs.a}}", lookup) is None
    assert resolve("a={{inputs.a}}", lookup) == "a=null"


def test_text_that_is_not_a_reference_is_left_alone():
    lookup = mapping_lookup({"inputs": {}})
    for text in ["{{ }}", "{{not valid!}}", "{ {inputs.a} }", "plain"]:
        assert resolve(text, lookup) == text
    assert list(references_in({"a": ["{{x.y}}", "{{z}} and {{w.0}}"]})) == ["x.y", "z", "w.0"]


# --- the budget: what resolving may build ------------------------------------------------

ROOTS = {"inputs": {"a": 'é"x\n', "b": [1, 2.5, None, True], "c": {"k": "v" * 40}}}
REFERENCES = st.sampled_from(
    ["{{inputs.a}}", "{{inputs.b}}", "{{inputs.c}}", "{{inputs.missing}}", "{{inputs}}"]
)
texts = st.lists(st.text(max_size=6) | REFERENCES, min_size=1, max_size=5).map("".join)
templates = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=12,
)


def compact_size(value):
    """How the engine measures a step output: compact JSON, non-ASCII escaped."""
    return len(json.dumps(value, separators=(",", ":")))


@given(templates, st.integers(min_value=0, max_value=4096))
def test_within_the_budget_the_result_is_unchanged_and_beyond_it_resolving_raises(template, limit):
    lookup = mapping_lookup(ROOTS)
    expected = resolve(template, lookup)
    budget = Budget(limit)
    if compact_size(expected) <= limit:
        assert resolve(template, lookup, budget=budget) == expected
        assert budget.used == compact_size(expected)  # counted exactly
    else:
        with pytest.raises(ResolvedTooLarge):
            resolve(template, lookup, budget=budget)
        assert budget.limit < budget.used


@given(st.integers(min_value=1, max_value=50))
def test_a_budget_stops_resolving_as_soon_as_it_is_spent(limit_kb):
    """Resolving stops at the first piece past the limit: what was built (``used`` counts
    it all) is about the limit, not the 500 copies the template asks for."""
    big = "y" * 10_000
    lookup = mapping_lookup({"inputs": {"big": big}})
    budget = Budget(limit_kb * 1024)
    with pytest.raises(ResolvedTooLarge):
        resolve({"k": ["<{{inputs.big}}>"] * 500}, lookup, budget=budget)
    assert budget.limit < budget.used <= budget.limit + len(big) + 8
