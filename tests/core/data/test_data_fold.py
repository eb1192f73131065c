"""reduce and aggregate by example."""

from __future__ import annotations

import pytest

from turbocat_core.agents.data import DataError, run_data

SCORES = [
    {"team": "a", "score": 3, "name": "x"},
    {"team": "b", "score": 1.5, "name": "y"},
    {"team": "a", "name": "z"},
    {"team": "a", "score": None, "name": "w"},
    {"team": "b", "score": 4, "name": "v"},
]


def reduce(reducer, data, **options):
    return run_data({"operation": "reduce", "reducer": reducer, **options}, data)


def aggregate(function, data, **options):
    return run_data({"operation": "aggregate", "function": function, **options}, data)


@pytest.mark.parametrize(
    ("reducer", "data", "expected"),
    [
        ("sum", [1, 2, 3], 6),
        ("sum", [0.1, 0.2, 0.3], 0.6),
        ("product", [2, 3, 4], 24),
        ("min", [3, 1, 2], 1),
        ("max", ["b", "c", "a"], "c"),
        ("concat", [[1], [2, [3]], []], [1, 2, [3]]),
        ("concat", ["ab", "c"], "abc"),
        (
            "merge",
            [{"a": 1, "n": {"x": 1}}, {"b": 2, "n": {"y": 1}}],
            {"a": 1, "b": 2, "n": {"y": 1}},
        ),
        ("count", [1, None, "x", False], 3),
    ],
)
def test_reduce_items(reducer, data, expected):
    assert reduce(reducer, data) == expected


@pytest.mark.parametrize(
    ("reducer", "expected"),
    [
        ("sum", 0),
        ("product", 1),
        ("min", None),
        ("max", None),
        ("concat", []),
        ("merge", {}),
        ("count", 0),
    ],
)
def test_reduce_empty_gives_identity(reducer, expected):
    assert reduce(reducer, []) == expected


@pytest.mark.parametrize(
    ("reducer", "initial"),
    [("sum", 10), ("product", 5), ("min", 7), ("concat", "x"), ("merge", {"a": 1}), ("count", 2)],
)
def test_reduce_empty_gives_initial(reducer, initial):
    assert reduce(reducer, [], initial=initial) == initial


def test_reduce_folds_initial_in_first():
    assert reduce("sum", [1, 2], initial=10) == 13
    assert reduce("product", [2], initial=5) == 10
    assert reduce("min", [3, 4], initial=1) == 1
    assert reduce("max", [3, 4], initial=1) == 4
    assert reduce("concat", [[2]], initial=[1]) == [1, 2]
    assert reduce("concat", ["b"], initial="a") == "ab"
    assert reduce("merge", [{"a": 2}], initial={"a": 1, "b": 1}) == {"a": 2, "b": 1}
    assert reduce("count", [1, 1], initial=1) == 3


def test_reduce_a_field_skipping_missing_and_null():
    assert reduce("sum", SCORES, field="score") == 8.5
    assert reduce("count", SCORES, field="score") == 3
    assert reduce("concat", SCORES, field="name") == "xyzwv"


def test_reduce_does_not_share_the_initial_list():
    initial = [0]
    result = reduce("concat", [[1]], initial=initial)
    assert result == [0, 1]
    assert initial == [0]


@pytest.mark.parametrize(
    ("reducer", "data", "options", "message"),
    [
        ("sum", [1, "2"], {}, "^reduce: item 1: value is not a number \\(got string\\)$"),
        (
            "sum",
            [{"n": True}],
            {"field": "n"},
            'item 0: field "n" is not a number \\(got boolean\\)',
        ),
        ("product", [1, [2]], {}, "item 1: value is not a number"),
        ("sum", [1], {"initial": "0"}, "initial: expected a number for sum, got string"),
        ("min", [1, "a"], {}, "item 1: value: cannot compare string with number"),
        ("max", [True], {}, "item 0: value is boolean; min and max need numbers or strings"),
        ("max", [1], {"initial": "a"}, "item 0: value: cannot compare number with string"),
        (
            "concat",
            [[1], "a"],
            {},
            "item 1: value is string; concat needs all arrays or all strings",
        ),
        ("concat", [1], {}, "item 0: value is number; concat needs"),
        ("merge", [{}, 1], {}, "item 1: value is number; merge needs objects"),
        ("merge", [], {"initial": 1}, "initial is number; merge needs objects"),
    ],
)
def test_reduce_errors_name_the_item(reducer, data, options, message):
    with pytest.raises(DataError, match=message):
        reduce(reducer, data, **options)


def test_reduce_needs_an_array():
    with pytest.raises(DataError, match=r"^reduce: expected an array, got object$"):
        reduce("sum", {"a": 1})


@pytest.mark.parametrize(
    ("function", "expected"),
    [
        ("sum", 8.5),
        ("avg", 8.5 / 3),
        ("min", 1.5),
        ("max", 4),
        ("count", 3),
        ("first", 3),
        ("last", 4),
    ],
)
def test_aggregate_a_field(function, expected):
    assert aggregate(function, SCORES, field="score") == pytest.approx(expected)


def test_aggregate_count_without_field_counts_items():
    assert aggregate("count", SCORES) == 5


def test_aggregate_strings_with_min_and_max():
    assert aggregate("min", SCORES, field="name") == "v"
    assert aggregate("max", SCORES, field="name") == "z"


@pytest.mark.parametrize(
    ("function", "expected"),
    [("sum", 0), ("avg", None), ("min", None), ("max", None), ("count", 0), ("first", None)],
)
def test_aggregate_of_nothing(function, expected):
    assert aggregate(function, [{"x": None}, {}], field="x") == expected
    assert aggregate(function, [], field="x") == expected


def test_aggregate_grouped_in_first_seen_order():
    result = aggregate("sum", SCORES, field="score", groupBy="team")
    assert list(result) == ["a", "b"]
    assert result == {"a": 3, "b": 5.5}
    assert aggregate("count", SCORES, groupBy="team") == {"a": 3, "b": 2}
    assert aggregate("avg", SCORES[2:4], field="score", groupBy="team") == {"a": None}


def test_aggregate_integer_sums_stay_exact():
    big = 2**60
    assert aggregate("sum", [{"n": big}, {"n": 1}], field="n") == big + 1


def test_aggregate_errors_name_the_item():
    data = [{"n": 1}, {"n": 2}, {"n": "3"}]
    with pytest.raises(DataError, match=r'^aggregate: item 2: field "n" is not a number'):
        aggregate("sum", data, field="n")
    with pytest.raises(DataError, match=r'item 2: field "n" is not a number'):
        aggregate("avg", data, field="n")
    with pytest.raises(DataError, match=r'item 2: field "n": cannot compare string with number'):
        aggregate("max", data, field="n")
    with pytest.raises(DataError, match=r'item 0: field "n" is object; min and max need'):
        aggregate("min", [{"n": {}}], field="n")


def test_aggregate_error_index_is_the_original_position_when_grouped():
    data = [{"g": "a", "n": 1}, {"g": "b", "n": 1}, {"g": "b", "n": "x"}]
    with pytest.raises(DataError, match=r"item 2:"):
        aggregate("sum", data, field="n", groupBy="g")
