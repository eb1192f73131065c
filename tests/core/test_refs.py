"""`{{reference}}` resolution: typed whole-string references, interpolation, recursion."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from turbocat_core.engine.refs import MISSING, mapping_lookup, references_in, resolve

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
