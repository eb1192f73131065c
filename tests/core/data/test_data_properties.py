"""Property tests: the DATA operations agree with straightforward Python oracles."""

from __future__ import annotations

import contextlib
import copy
import itertools
import math
from collections import defaultdict

import pytest
from data_strategies import (
    KEYS,
    flat_records,
    floats,
    ints,
    json_values,
    numbers,
    records_with,
    scalars,
    texts,
)
from hypothesis import given
from hypothesis import strategies as st

from turbocat_core.agents.data import DataError, compare, run_data

ORDER_OPS = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
}


@given(
    items=records_with("v", ints, optional=False),
    operator=st.sampled_from(sorted(ORDER_OPS)),
    value=ints,
)
def test_filter_numbers_matches_a_comprehension(items, operator, value):
    config = {"operation": "filter", "field": "v", "operator": operator, "value": value}
    expected = [item for item in items if ORDER_OPS[operator](item["v"], value)]
    assert run_data(config, items) == expected


@given(
    items=records_with("v", texts),
    operator=st.sampled_from(["contains", "startsWith", "endsWith", "gt", "lte"]),
    value=texts,
)
def test_filter_text_matches_a_comprehension(items, operator, value):
    tests = {
        "contains": lambda s: value in s,
        "startsWith": lambda s: s.startswith(value),
        "endsWith": lambda s: s.endswith(value),
        "gt": lambda s: s > value,
        "lte": lambda s: s <= value,
    }
    config = {"operation": "filter", "field": "v", "operator": operator, "value": value}
    expected = [
        item for item in items if isinstance(item.get("v"), str) and tests[operator](item["v"])
    ]
    assert run_data(config, items) == expected


@given(items=records_with("v", ints), allowed=st.lists(ints, max_size=5), negate=st.booleans())
def test_filter_in_matches_a_comprehension(items, allowed, negate):
    operator = "nin" if negate else "in"
    config = {"operation": "filter", "field": "v", "operator": operator, "value": allowed}
    expected = [item for item in items if (item.get("v") in allowed) != negate]
    assert run_data(config, items) == expected


@given(
    items=records_with("v", ints),
    low=ints,
    high=ints,
    match=st.sampled_from(["all", "any"]),
)
def test_filter_conditions_combine_like_all_and_any(items, low, high, match):
    config = {
        "operation": "filter",
        "match": match,
        "conditions": [
            {"field": "v", "operator": "gte", "value": low},
            {"field": "v", "operator": "lt", "value": high},
        ],
    }
    combine = all if match == "all" else any

    def keep(item):
        v = item.get("v")
        return v is not None and combine([v >= low, v < high])

    assert run_data(config, items) == [item for item in items if keep(item)]


@pytest.mark.parametrize("values", [numbers, texts], ids=["numbers", "texts"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_matches_sorted(values, direction):
    @given(items=records_with("v", values))
    def check(items):
        config = {"operation": "sort", "by": [{"field": "v", "direction": direction}]}
        present = [item for item in items if item.get("v") is not None]
        absent = [item for item in items if item.get("v") is None]
        expected = sorted(present, key=lambda item: item["v"], reverse=direction == "desc")
        assert run_data(config, items) == expected + absent

    check()


@given(items=st.lists(st.fixed_dictionaries({"a": st.integers(0, 3), "b": texts}), max_size=12))
def test_sort_by_two_keys_matches_sorted_with_a_tuple_key(items):
    config = {"operation": "sort", "by": ["a", {"field": "b", "direction": "asc"}]}
    assert run_data(config, items) == sorted(items, key=lambda item: (item["a"], item["b"]))


@given(items=st.lists(json_values, max_size=10))
def test_sort_orders_any_json_without_failing(items):
    result = run_data({"operation": "sort"}, items)
    assert len(result) == len(items)
    assert sorted(map(repr, result)) == sorted(map(repr, items))
    nulls = [index for index, item in enumerate(result) if item is None]
    assert nulls == list(range(len(result) - len(nulls), len(result)))


@given(items=st.lists(st.one_of(ints, texts, st.booleans(), st.none()), max_size=15))
def test_unique_matches_a_dict_based_dedupe(items):
    # Tagging with the type keeps True apart from 1, as the eq rule does.
    expected = list({(type(item).__name__, item): item for item in items}.values())
    assert run_data({"operation": "unique"}, items) == expected


@given(a=json_values, b=json_values)
def test_unique_agrees_with_eq(a, b):
    assert (len(run_data({"operation": "unique"}, [a, b])) == 1) == compare(a, "eq", b)


@given(items=records_with("v", ints))
def test_unique_by_field_keeps_first_per_value(items):
    first = {}
    for item in items:
        first.setdefault(item.get("v"), item)
    assert run_data({"operation": "unique", "by": "v"}, items) == list(first.values())


@given(items=records_with("v", numbers))
def test_aggregate_matches_builtins(items):
    values = [item["v"] for item in items if item.get("v") is not None]

    def agg(function):
        return run_data({"operation": "aggregate", "function": function, "field": "v"}, items)

    assert math.isclose(agg("sum"), sum(values), abs_tol=1e-6)
    assert agg("count") == len(values)
    if values:
        assert math.isclose(agg("avg"), sum(values) / len(values), rel_tol=1e-9, abs_tol=1e-6)
        assert agg("min") == min(values)
        assert agg("max") == max(values)
        assert agg("first") == values[0]
        assert agg("last") == values[-1]
    else:
        assert agg("avg") is agg("min") is agg("max") is None


@given(items=records_with("v", ints))
def test_integer_sums_are_exact(items):
    values = [item["v"] for item in items if item.get("v") is not None]
    config = {"operation": "aggregate", "function": "sum", "field": "v"}
    assert run_data(config, items) == sum(values)
    assert run_data({"operation": "reduce", "reducer": "sum", "field": "v"}, items) == sum(values)


@given(items=records_with("v", floats))
def test_reduce_min_max_product_match_builtins(items):
    values = [item["v"] for item in items if item.get("v") is not None]

    def reduce(reducer):
        return run_data({"operation": "reduce", "reducer": reducer, "field": "v"}, items)

    assert reduce("min") == (min(values) if values else None)
    assert reduce("max") == (max(values) if values else None)
    assert reduce("count") == len(values)
    assert math.isclose(reduce("product"), math.prod(values), rel_tol=1e-9, abs_tol=1e-9)


@given(items=records_with("g", st.sampled_from(["x", "y", "z"])))
def test_group_matches_defaultdict(items):
    expected = defaultdict(list)
    for item in items:
        expected[item.get("g") or "null"].append(item)
    result = run_data({"operation": "group", "by": "g"}, items)
    assert result == dict(expected)
    assert list(result) == list(expected)


@given(items=records_with("g", st.sampled_from(["x", "y"])).filter(bool), data=st.data())
def test_grouped_aggregate_matches_per_group_aggregate(items, data):
    function = data.draw(st.sampled_from(["count", "first", "last"]))
    grouped = run_data(
        {"operation": "aggregate", "function": function, "field": "id", "groupBy": "g"}, items
    )
    groups = run_data({"operation": "group", "by": "g"}, items)
    assert grouped == {
        key: run_data({"operation": "aggregate", "function": function, "field": "id"}, members)
        for key, members in groups.items()
    }


join_keys = st.one_of(st.integers(0, 3), st.none())
join_side = st.lists(st.fixed_dictionaries({"k": join_keys}, optional={"p": ints}), max_size=6)


def nested_loop_join(left, right, kind):
    def matches(l_item, r_item):
        return l_item.get("k") is not None and l_item.get("k") == r_item.get("k")

    joined, used = [], set()
    for l_item in left:
        hits = [(index, r_item) for index, r_item in enumerate(right) if matches(l_item, r_item)]
        joined.extend({**l_item, **r_item} for _, r_item in hits)
        used.update(index for index, _ in hits)
        if not hits and kind in ("left", "full"):
            joined.append(l_item)
    if kind in ("right", "full"):
        joined.extend(r_item for index, r_item in enumerate(right) if index not in used)
    return joined


@given(left=join_side, right=join_side, kind=st.sampled_from(["inner", "left", "right", "full"]))
def test_join_matches_nested_loops(left, right, kind):
    left = [{**item, "L": index} for index, item in enumerate(left)]
    right = [{**item, "R": index} for index, item in enumerate(right)]
    config = {"operation": "join", "right": right, "on": "k", "type": kind}
    assert run_data(config, left) == nested_loop_join(left, right, kind)


@given(record=flat_records, fields=st.lists(st.sampled_from([*KEYS, "zz"]), min_size=1, max_size=5))
def test_pick_plus_omit_gives_back_the_original(record, fields):
    picked = run_data({"operation": "pick", "fields": fields}, record)
    omitted = run_data({"operation": "omit", "fields": fields}, record)
    assert not picked.keys() & omitted.keys()
    assert {**picked, **omitted} == record
    assert set(picked) == set(fields) & set(record)


@given(items=st.lists(st.lists(scalars, max_size=4), max_size=6))
def test_flatten_matches_chain(items):
    assert run_data({"operation": "flatten"}, items) == list(itertools.chain.from_iterable(items))


@given(items=st.lists(st.one_of(scalars, st.lists(st.one_of(scalars, st.lists(ints))))))
def test_flatten_one_level_keeps_non_lists(items):
    expected = [y for x in items for y in (x if isinstance(x, list) else [x])]
    assert run_data({"operation": "flatten", "depth": 1}, items) == expected


@given(items=st.lists(json_values, max_size=6), depth=st.integers(1, 4))
def test_flatten_depth_is_repeated_flattening(items, depth):
    expected = items
    for _ in range(depth):
        expected = run_data({"operation": "flatten"}, expected)
    assert run_data({"operation": "flatten", "depth": depth}, items) == expected


CONFIGS = [
    {"operation": "filter", "field": "a", "operator": "contains", "value": 1},
    {"operation": "map", "fields": {"x": "a", "y": "b.0"}, "merge": True},
    {"operation": "reduce", "reducer": "concat", "field": "a"},
    {"operation": "reduce", "reducer": "merge"},
    {"operation": "sort", "by": [{"field": "a", "direction": "desc"}, "b"]},
    {"operation": "group", "by": "a"},
    {"operation": "flatten", "depth": 3},
    {"operation": "flatten", "field": "a"},
    {"operation": "unique", "by": ["a", "b"]},
    {"operation": "pick", "fields": ["a", "b.c", "b.d"]},
    {"operation": "omit", "fields": ["a", "b.c", "e.0"]},
    {"operation": "merge", "deep": True},
    {"operation": "merge", "deep": True, "with": {"a": {"b": 1}, "c": [1]}},
    {
        "operation": "join",
        "right": [{"a": 1, "r": [1]}, {"a": {"b": 2}}],
        "on": "a",
        "type": "full",
    },
    {"operation": "aggregate", "function": "first", "field": "a", "groupBy": "b"},
    {
        "operation": "transform",
        "template": {"all": "{{item}}", "a": "{{item.a}}", "i": "{{index}}"},
    },
]


@given(
    data=st.one_of(json_values, st.lists(json_values, max_size=6)), config=st.sampled_from(CONFIGS)
)
def test_run_data_never_mutates_its_input(data, config):
    before = copy.deepcopy(data)
    config_before = copy.deepcopy(config)
    with contextlib.suppress(DataError):  # a wrong shape is fine; touching the input is not
        run_data(config, data)
    assert data == before
    assert config == config_before


@given(data=st.lists(json_values, max_size=6))
def test_pipeline_equals_steps_in_sequence(data):
    steps = [CONFIGS[6], CONFIGS[4], CONFIGS[8]]
    expected = data
    for step in steps:
        expected = run_data(step, expected)
    assert run_data({"pipeline": steps}, data) == expected
