"""map, flatten, group, merge and transform by example."""

from __future__ import annotations

import pytest

from turbocat_core.agents.data import DataError, run_data

USERS = [
    {"id": 1, "name": "Ada", "team": "core", "profile": {"city": "Oslo"}},
    {"id": 2, "name": "Bob", "team": "web"},
    {"id": 3, "name": "Cy", "team": "core"},
]


def test_map_keeps_only_mapped_fields_and_missing_gives_null():
    config = {"operation": "map", "fields": {"who": "name", "city": "profile.city"}}
    assert run_data(config, USERS[:2]) == [
        {"who": "Ada", "city": "Oslo"},
        {"who": "Bob", "city": None},
    ]


def test_map_a_single_object():
    config = {"operation": "map", "fields": {"a.b": "id"}}
    assert run_data(config, USERS[0]) == {"a.b": 1}


def test_map_merge_keeps_original_fields_and_mapped_win():
    config = {"operation": "map", "fields": {"name": "id", "city": "profile.city"}, "merge": True}
    assert run_data(config, [USERS[1]]) == [{"id": 2, "name": 2, "team": "web", "city": None}]


def test_map_merge_needs_object_items():
    config = {"operation": "map", "fields": {"x": "a"}, "merge": True}
    with pytest.raises(DataError, match=r"^map: item 0: expected an object, got number$"):
        run_data(config, [1])


def test_map_needs_an_array_or_object():
    with pytest.raises(DataError, match=r"map: expected an array or an object, got number"):
        run_data({"operation": "map", "fields": {"x": "a"}}, 3)


def test_flatten_one_level_by_default():
    data = [[1, [2]], 3, [], [[4, [5]]]]
    assert run_data({"operation": "flatten"}, data) == [1, [2], 3, [4, [5]]]


def test_flatten_to_a_depth():
    data = [[1, [2, [3, [4]]]], "x"]
    assert run_data({"operation": "flatten", "depth": 2}, data) == [1, 2, [3, [4]], "x"]
    assert run_data({"operation": "flatten", "depth": 10}, data) == [1, 2, 3, 4, "x"]


def test_flatten_a_field():
    data = [
        {"order": 1, "lines": [{"sku": "a"}, {"sku": "b"}]},
        {"order": 2, "lines": []},
        {"order": 3},
        {"order": 4, "lines": None},
        {"order": 5, "lines": {"sku": "c"}},
    ]
    assert run_data({"operation": "flatten", "field": "lines"}, data) == [
        {"sku": "a"},
        {"sku": "b"},
        {"sku": "c"},
    ]


def test_flatten_needs_an_array():
    with pytest.raises(DataError, match=r"^flatten: expected an array, got string$"):
        run_data({"operation": "flatten"}, "abc")


def test_group_by_field_in_first_seen_order():
    result = run_data({"operation": "group", "by": "team"}, USERS)
    assert list(result) == ["core", "web"]
    assert result == {"core": [USERS[0], USERS[2]], "web": [USERS[1]]}


def test_group_keys_are_text():
    data = [{"k": 1}, {"k": 1.0}, {"k": True}, {}, {"k": None}, {"k": [1, "a"]}, {"k": {"b": 1}}]
    result = run_data({"operation": "group", "by": "k"}, data)
    assert result == {
        "1": [{"k": 1}, {"k": 1.0}],
        "true": [{"k": True}],
        "null": [{}, {"k": None}],
        '[1,"a"]': [{"k": [1, "a"]}],
        '{"b":1}': [{"k": {"b": 1}}],
    }


def test_merge_a_list_of_objects_later_wins():
    data = [{"a": 1, "n": {"x": 1}}, {"b": 2, "n": {"y": 2}}, {"a": 3}]
    assert run_data({"operation": "merge"}, data) == {"a": 3, "b": 2, "n": {"y": 2}}


def test_merge_deep():
    data = [{"n": {"x": 1, "l": [1]}, "s": 1}, {"n": {"y": 2, "l": [2]}, "s": {"t": 1}}]
    assert run_data({"operation": "merge", "deep": True}, data) == {
        "n": {"x": 1, "y": 2, "l": [2]},
        "s": {"t": 1},
    }


def test_merge_an_object_with_another():
    config = {"operation": "merge", "with": {"b": {"d": 4}, "e": 5}}
    assert run_data(config, {"a": 1, "b": {"c": 3}}) == {"a": 1, "b": {"d": 4}, "e": 5}
    config["deep"] = True
    assert run_data(config, {"a": 1, "b": {"c": 3}}) == {"a": 1, "b": {"c": 3, "d": 4}, "e": 5}


def test_merge_a_list_then_with():
    config = {"operation": "merge", "with": {"a": 0}}
    assert run_data(config, [{"a": 1, "b": 1}]) == {"a": 0, "b": 1}
    assert run_data(config, []) == {"a": 0}


def test_merge_errors():
    with pytest.raises(DataError, match=r"^merge: item 1: expected an object, got array$"):
        run_data({"operation": "merge"}, [{}, []])
    with pytest.raises(DataError, match=r'merging a single object needs "with"'):
        run_data({"operation": "merge"}, {"a": 1})
    with pytest.raises(DataError, match=r"expected an array of objects or an object, got null"):
        run_data({"operation": "merge"}, None)


def test_transform_each_item():
    config = {
        "operation": "transform",
        "template": {
            "label": "#{{index}} {{item.name}}",
            "id": "{{item.id}}",
            "where": "{{item.profile}}",
            "unknown": "{{item.nope}}",
            "other": "{{inputs.x}}",
            "fixed": [1, True, None],
        },
    }
    result = run_data(config, USERS[:2])
    assert result == [
        {
            "label": "#0 Ada",
            "id": 1,
            "where": {"city": "Oslo"},
            "unknown": "{{item.nope}}",
            "other": "{{inputs.x}}",
            "fixed": [1, True, None],
        },
        {
            "label": "#1 Bob",
            "id": 2,
            "where": "{{item.profile}}",
            "unknown": "{{item.nope}}",
            "other": "{{inputs.x}}",
            "fixed": [1, True, None],
        },
    ]


def test_transform_an_object_and_whole_item_references():
    config = {"operation": "transform", "template": {"me": "{{item}}", "i": "{{index}}"}}
    assert run_data(config, {"a": 1}) == {"me": {"a": 1}, "i": 0}
    assert run_data(config, [[1, 2]]) == [{"me": [1, 2], "i": 0}]


def test_transform_needs_an_array_or_object():
    with pytest.raises(DataError, match=r"transform: expected an array or an object, got string"):
        run_data({"operation": "transform", "template": 1}, "x")
