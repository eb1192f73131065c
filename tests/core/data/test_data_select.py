"""filter, unique, pick and omit by example."""

from __future__ import annotations

import pytest

from turbocat_core.agents.data import DataError, run_data

PEOPLE = [
    {"name": "Ada", "age": 36, "team": "core", "tags": ["math", "lead"]},
    {"name": "Bob", "age": 17, "team": "web", "tags": []},
    {"name": "Cy", "team": "core", "tags": ["ops"]},
    {"name": "Di", "age": None, "team": "web", "address": {"city": "Oslo"}},
]


def names(items):
    return [item["name"] for item in items]


@pytest.mark.parametrize(
    ("field", "operator", "value", "expected"),
    [
        ("age", "gte", 18, ["Ada"]),
        ("age", "lt", 18, ["Bob"]),
        ("team", "eq", "web", ["Bob", "Di"]),
        ("team", "neq", "web", ["Ada", "Cy"]),
        ("name", "in", ["Cy", "Di", "Zed"], ["Cy", "Di"]),
        ("name", "nin", ["Cy", "Di"], ["Ada", "Bob"]),
        ("tags", "contains", "ops", ["Cy"]),
        ("name", "startsWith", "B", ["Bob"]),
        ("name", "endsWith", "y", ["Cy"]),
        ("age", "exists", True, ["Ada", "Bob"]),
        ("age", "exists", False, ["Cy", "Di"]),
        ("name", "regex", "^[AB]", ["Ada", "Bob"]),
        ("address.city", "eq", "Oslo", ["Di"]),
        ("tags.0", "eq", "math", ["Ada"]),
    ],
)
def test_filter_with_one_condition(field, operator, value, expected):
    config = {"operation": "filter", "field": field, "operator": operator, "value": value}
    assert names(run_data(config, PEOPLE)) == expected


def test_filter_exists_defaults_to_true():
    config = {"operation": "filter", "field": "age", "operator": "exists"}
    assert names(run_data(config, PEOPLE)) == ["Ada", "Bob"]


def test_filter_conditions_match_all_by_default():
    config = {
        "operation": "filter",
        "conditions": [
            {"field": "team", "operator": "eq", "value": "core"},
            {"field": "age", "operator": "gt", "value": 30},
        ],
    }
    assert names(run_data(config, PEOPLE)) == ["Ada"]


def test_filter_conditions_match_any():
    config = {
        "operation": "filter",
        "match": "any",
        "conditions": [
            {"field": "team", "operator": "eq", "value": "web"},
            {"field": "age", "operator": "gt", "value": 30},
        ],
    }
    assert names(run_data(config, PEOPLE)) == ["Ada", "Bob", "Di"]


def test_filter_keeps_the_items_themselves():
    result = run_data({"operation": "filter", "field": "x", "operator": "eq", "value": 1}, [])
    assert result == []


def test_filter_needs_an_array():
    config = {"operation": "filter", "field": "a", "operator": "eq", "value": 1}
    with pytest.raises(DataError, match=r"^filter: expected an array, got object$"):
        run_data(config, {"a": 1})


def test_unique_keeps_first_occurrence():
    data = [3, 1, 3, 1.0, True, "1", {"a": [1]}, {"a": [1.0]}, None, None]
    assert run_data({"operation": "unique"}, data) == [3, 1, True, "1", {"a": [1]}, None]


def test_unique_by_one_field():
    assert names(run_data({"operation": "unique", "by": "team"}, PEOPLE)) == ["Ada", "Bob"]


def test_unique_by_several_fields_and_missing_equals_null():
    data = [
        {"a": 1, "b": 1},
        {"a": 1, "b": 2},
        {"a": 1, "b": 1, "c": 0},
        {"a": 2},
        {"a": 2, "b": None},
    ]
    assert run_data({"operation": "unique", "by": ["a", "b"]}, data) == data[:2] + data[3:4]


def test_pick_on_an_object_with_nested_and_missing_fields():
    data = {"a": 1, "b": {"c": 2, "d": 3}, "e": 4}
    config = {"operation": "pick", "fields": ["b.c", "a", "zzz", "b.zzz", "a.deeper"]}
    assert run_data(config, data) == {"b": {"c": 2}, "a": 1}


def test_pick_whole_parent_wins_over_child_path():
    data = {"b": {"c": 2, "d": 3}}
    assert run_data({"operation": "pick", "fields": ["b.c", "b"]}, data) == data
    assert run_data({"operation": "pick", "fields": ["b", "b.c"]}, data) == data


def test_pick_leaves_out_a_parent_with_nothing_picked():
    assert run_data({"operation": "pick", "fields": ["b.x"]}, {"b": {"c": 1}}) == {}


def test_pick_on_each_item_of_a_list():
    config = {"operation": "pick", "fields": ["name", "address.city"]}
    assert run_data(config, PEOPLE[2:]) == [
        {"name": "Cy"},
        {"name": "Di", "address": {"city": "Oslo"}},
    ]


def test_omit_removes_only_the_nested_field():
    data = {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}
    result = run_data({"operation": "omit", "fields": ["b.c", "e", "missing", "a.x"]}, data)
    assert result == {"a": 1, "b": {"d": 3}}
    assert data == {"a": 1, "b": {"c": 2, "d": 3}, "e": [1]}


def test_omit_on_each_item():
    assert run_data({"operation": "omit", "fields": ["tags", "age"]}, PEOPLE[:2]) == [
        {"name": "Ada", "team": "core"},
        {"name": "Bob", "team": "web"},
    ]


@pytest.mark.parametrize("operation", ["pick", "omit"])
def test_pick_and_omit_need_objects(operation):
    config = {"operation": operation, "fields": ["a"]}
    with pytest.raises(DataError, match=f"^{operation}: item 1: expected an object, got number$"):
        run_data(config, [{"a": 1}, 5])
    with pytest.raises(DataError, match=r"expected an object or an array of objects, got string"):
        run_data(config, "text")
