"""The comparison operators shared by filter and CONDITION steps."""

from __future__ import annotations

import pytest

from turbocat_core.agents.data import OPERATORS, DataError, compare
from turbocat_core.engine.refs import MISSING


def test_operators_lists_every_supported_name():
    assert OPERATORS == (
        "eq",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "nin",
        "contains",
        "startsWith",
        "endsWith",
        "exists",
        "regex",
    )


@pytest.mark.parametrize(
    ("left", "right", "equal"),
    [
        (1, 1, True),
        (1, 1.0, True),
        (1, True, False),
        (0, False, False),
        (True, True, True),
        ("a", "a", True),
        ("1", 1, False),
        (None, None, True),
        (None, 0, False),
        ([1, {"a": 2}], [1.0, {"a": 2}], True),
        ([1], [True], False),
        ({"a": 1, "b": 2}, {"b": 2, "a": 1}, True),
        ({"a": 1}, {"a": 1, "b": None}, False),
        ([1, 2], [2, 1], False),
    ],
)
def test_eq_is_json_equality_and_bool_is_not_a_number(left, right, equal):
    assert compare(left, "eq", right) is equal
    assert compare(left, "neq", right) is not equal


def test_missing_field_reads_as_null():
    assert compare(MISSING, "eq", None)
    assert not compare(MISSING, "neq", None)


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        (5, "gt", 3, True),
        (3, "gt", 3, False),
        (3, "gte", 3, True),
        (2.5, "lt", 3, True),
        (3, "lte", 3.0, True),
        ("b", "gt", "a", True),
        ("B", "lt", "a", True),  # code point order
        ("10", "gt", 9, False),
        (10, "gt", "9", False),
        (True, "gt", 0, False),
        (None, "lt", 1, False),
        (MISSING, "gte", 0, False),
        ([2], "gt", [1], False),
    ],
)
def test_ordering_only_compares_like_with_like(left, operator, right, expected):
    assert compare(left, operator, right) is expected


@pytest.mark.parametrize(
    ("left", "right", "member"),
    [
        ("a", ["a", "b"], True),
        (1, [1.0], True),
        (1, [True], False),
        ({"x": 1}, [{"x": 1}], True),
        (None, [None], True),
        (MISSING, [None], True),
        ("c", [], False),
    ],
)
def test_in_and_nin_use_the_eq_rule(left, right, member):
    assert compare(left, "in", right) is member
    assert compare(left, "nin", right) is not member


@pytest.mark.parametrize("operator", ["in", "nin"])
def test_in_needs_an_array(operator):
    with pytest.raises(DataError, match=f"operator '{operator}' needs an array value, got string"):
        compare("a", operator, "abc")


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        ("hello world", "lo w", True),
        ("hello", "xyz", False),
        ("hello", 1, False),
        ([1, 2, 3], 2, True),
        ([1, 2, 3], 2.0, True),
        ([1, 2, 3], True, False),
        ([{"a": 1}], {"a": 1}, True),
        ({"a": 1}, "a", False),
        (None, "a", False),
        (123, "2", False),
    ],
)
def test_contains(left, right, expected):
    assert compare(left, "contains", right) is expected


@pytest.mark.parametrize(
    ("left", "operator", "right", "expected"),
    [
        ("turbocat", "startsWith", "turbo", True),
        ("turbocat", "startsWith", "cat", False),
        ("turbocat", "endsWith", "cat", True),
        ("turbocat", "endsWith", "turbo", False),
        (123, "startsWith", "1", False),
        (["a"], "startsWith", "a", False),
        ("abc", "endsWith", None, False),
    ],
)
def test_starts_and_ends_with_strings_only(left, operator, right, expected):
    assert compare(left, operator, right) is expected


@pytest.mark.parametrize(
    ("left", "right", "expected"),
    [
        (1, True, True),
        (0, True, True),
        ("", True, True),
        (False, True, True),
        (None, True, False),
        (MISSING, True, False),
        (None, None, False),  # an omitted value means true
        (1, None, True),
        (None, False, True),
        (MISSING, False, True),
        (0, False, False),
    ],
)
def test_exists(left, right, expected):
    assert compare(left, "exists", right) is expected


def test_exists_needs_a_boolean():
    with pytest.raises(DataError, match=r"'exists' needs a boolean value, got string"):
        compare(1, "exists", "yes")


@pytest.mark.parametrize(
    ("left", "pattern", "expected"),
    [
        ("order-123", r"\d+", True),
        ("order", r"^\d+$", False),
        ("ABC", "(?i)abc", True),
        (123, r"\d", False),
        (None, ".*", False),
    ],
)
def test_regex_searches_strings(left, pattern, expected):
    assert compare(left, "regex", pattern) is expected


def test_invalid_regex_fails_even_for_non_string_values():
    with pytest.raises(DataError, match=r"invalid regular expression '\(unclosed'"):
        compare(5, "regex", "(unclosed")


def test_regex_pattern_must_be_text():
    with pytest.raises(DataError, match=r"expected a regular expression"):
        compare("a", "regex", 5)


def test_long_regex_patterns_are_refused():
    assert compare("a" * 1000, "regex", "a" * 1000)
    with pytest.raises(DataError, match=r"1001 characters long; at most 1000 are allowed"):
        compare("a", "regex", "a" * 1001)


@pytest.mark.parametrize("operator", ["gtx", "EQ", "", None, ["eq"]])
def test_unknown_operator(operator):
    with pytest.raises(DataError, match=r"unknown operator .*; expected one of eq, neq") as info:
        compare(1, operator, 1)
    assert info.value.retryable is False
