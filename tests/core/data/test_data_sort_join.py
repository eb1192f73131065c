"""sort and join by example."""

from __future__ import annotations

import pytest

from turbocat_core.agents.data import DataError, run_data


def sort(data, by=None):
    config = {"operation": "sort"} if by is None else {"operation": "sort", "by": by}
    return run_data(config, data)


def test_sort_by_field_shorthand_ascending():
    data = [{"a": 3}, {"a": 1}, {"a": 2}]
    assert sort(data, "a") == [{"a": 1}, {"a": 2}, {"a": 3}]


def test_sort_descending():
    data = [{"a": 3}, {"a": 1}, {"a": 2}]
    assert sort(data, [{"field": "a", "direction": "desc"}]) == [{"a": 3}, {"a": 2}, {"a": 1}]


def test_sort_by_several_keys_is_stable():
    data = [
        {"t": "b", "n": 1, "id": 0},
        {"t": "a", "n": 2, "id": 1},
        {"t": "b", "n": 2, "id": 2},
        {"t": "a", "n": 2, "id": 3},
        {"t": "a", "n": 1, "id": 4},
    ]
    result = sort(data, ["t", {"field": "n", "direction": "desc"}])
    assert [item["id"] for item in result] == [1, 3, 4, 2, 0]
    result = sort(data, [{"field": "n"}, {"field": "t", "direction": "asc"}])
    assert [item["id"] for item in result] == [4, 0, 1, 3, 2]


@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_null_and_missing_sort_last_in_both_directions(direction):
    data = [{"id": 0, "a": None}, {"id": 1, "a": 2}, {"id": 2}, {"id": 3, "a": 1}]
    result = sort(data, [{"field": "a", "direction": direction}])
    ids = [item["id"] for item in result]
    assert ids[2:] == [0, 2]
    assert ids[:2] == ([3, 1] if direction == "asc" else [1, 3])


def test_sort_mixed_types_by_documented_total_order():
    data = [{"b": 1}, [2], True, "b", 2.5, False, [1, 9], "a", -1, {"a": 1}, None, float("nan")]
    result = sort(data)
    assert result[:3] == [-1, 2.5, result[2]]
    assert result[2] != result[2]  # NaN after the other numbers
    assert result[3:] == ["a", "b", False, True, [1, 9], [2], {"a": 1}, {"b": 1}, None]


def test_sort_mixed_types_descending_keeps_nulls_last():
    assert sort([None, 1, "a", True, 2], [{"field": "0"}]) == [None, 1, "a", True, 2]
    data = [{"v": None}, {"v": 1}, {"v": "a"}, {"v": True}, {"v": 2}]
    result = sort(data, [{"field": "v", "direction": "desc"}])
    assert [item["v"] for item in result] == [True, "a", 2, 1, None]


def test_sort_numbers_int_and_float_together():
    assert sort([3, 1.5, 2, -0.5]) == [-0.5, 1.5, 2, 3]


def test_sort_does_not_modify_the_input():
    data = [3, 1, 2]
    assert sort(data) == [1, 2, 3]
    assert data == [3, 1, 2]


def test_sort_needs_an_array():
    with pytest.raises(DataError, match=r"^sort: expected an array, got object$"):
        sort({"a": 1}, "a")


USERS = [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Bob"}, {"id": 3, "name": "Cy"}]
ORDERS = [
    {"userId": 2, "order": "o1"},
    {"userId": 1, "order": "o2"},
    {"userId": 2, "order": "o3"},
    {"userId": 9, "order": "o4"},
]


def join(kind, left=USERS, right=ORDERS, on=None):
    config = {"operation": "join", "right": right, "on": on or {"left": "id", "right": "userId"}}
    if kind is not None:
        config["type"] = kind
    return run_data(config, left)


def test_inner_join_is_the_default_and_keeps_left_order():
    expected = [
        {"id": 1, "name": "Ada", "userId": 1, "order": "o2"},
        {"id": 2, "name": "Bob", "userId": 2, "order": "o1"},
        {"id": 2, "name": "Bob", "userId": 2, "order": "o3"},
    ]
    assert join(None) == expected
    assert join("inner") == expected


def test_left_join_keeps_unmatched_left_items():
    result = join("left")
    assert [item.get("order") for item in result] == ["o2", "o1", "o3", None]
    assert result[-1] == {"id": 3, "name": "Cy"}


def test_right_join_appends_unmatched_right_items():
    result = join("right")
    assert [item["order"] for item in result] == ["o2", "o1", "o3", "o4"]
    assert result[-1] == {"userId": 9, "order": "o4"}


def test_full_join():
    result = join("full")
    assert [(item.get("name"), item.get("order")) for item in result] == [
        ("Ada", "o2"),
        ("Bob", "o1"),
        ("Bob", "o3"),
        ("Cy", None),
        (None, "o4"),
    ]


def test_join_many_to_many_gives_every_pair_and_right_wins_on_clashes():
    left = [{"k": 1, "l": "a", "v": "left"}, {"k": 1, "l": "b"}]
    right = [{"k": 1, "r": "x", "v": "right"}, {"k": 1, "r": "y"}]
    result = join(None, left, right, on="k")
    assert [(item["l"], item["r"]) for item in result] == [
        ("a", "x"),
        ("a", "y"),
        ("b", "x"),
        ("b", "y"),
    ]
    assert result[0]["v"] == "right"


def test_join_keys_use_the_eq_rule():
    left = [{"k": 1}, {"k": True}, {"k": {"a": [1]}}, {"k": "1"}]
    right = [{"k": 1.0, "m": "num"}, {"k": True, "m": "bool"}, {"k": {"a": [1.0]}, "m": "obj"}]
    assert [item.get("m") for item in join("left", left, right, on="k")] == [
        "num",
        "bool",
        "obj",
        None,
    ]


def test_missing_or_null_keys_never_match():
    left = [{"x": 1}, {"k": None, "x": 2}]
    right = [{"y": 1}, {"k": None, "y": 2}]
    assert join("inner", left, right, on="k") == []
    assert join("full", left, right, on="k") == left + right


def test_join_nested_key_paths():
    left = [{"user": {"id": 1}}]
    right = [{"meta": {"owner": 1}, "r": True}]
    on = {"left": "user.id", "right": "meta.owner"}
    assert join(None, left, right, on) == [{"user": {"id": 1}, "meta": {"owner": 1}, "r": True}]


def test_join_errors():
    with pytest.raises(DataError, match=r"^join: expected an array, got object$"):
        join(None, left={"id": 1})
    with pytest.raises(DataError, match=r"^join: item 0: expected an object, got array$"):
        join(None, left=[[1]], right=[{"0": 1}], on={"left": "0", "right": "0"})
    with pytest.raises(DataError, match=r"^join: right: expected an array, got string$"):
        join(None, right="{{steps.orders.output}}")
