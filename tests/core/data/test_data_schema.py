"""outputSchema: checked statically by validate_data_config and against the result."""

from __future__ import annotations

import pytest

from turbocat_core.agents.data import DataError, run_data, validate_data_config
from turbocat_core.errors import ValidationFailed

IDENTITY = {"operation": "unique"}  # passes an array through unchanged when it has no repeats


def check(schema, data):
    """Run an identity-like config with ``schema`` on ``data``; the error text, or None."""
    try:
        run_data({**IDENTITY, "outputSchema": schema}, [data])
    except DataError as exc:
        return exc.message
    return None


def item(schema):
    return {"type": "array", "items": schema}


@pytest.mark.parametrize(
    ("type_", "good", "bad"),
    [
        ("string", "x", 1),
        ("number", 1.5, "1"),
        ("number", 2, True),
        ("integer", 2, 2.0),
        ("integer", -3, False),
        ("boolean", False, 0),
        ("object", {}, []),
        ("array", [], {}),
        ("null", None, 0),
    ],
)
def test_type(type_, good, bad):
    assert check(item({"type": type_}), good) is None
    assert check(item({"type": type_}), bad) == (
        f"outputSchema: result does not match: $[0]: expected {type_}, got "
        + {str: "string", int: "number", float: "number", bool: "boolean", list: "array"}.get(
            type(bad), "object"
        )
    )


def test_type_list():
    schema = item({"type": ["string", "null"]})
    assert check(schema, None) is None
    assert check(schema, "a") is None
    assert "$[0]: expected string or null, got number" in check(schema, 1)


def test_properties_required_and_additional_properties_report_paths():
    schema = {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["name", "age"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string"},
                "age": {"type": "integer", "minimum": 0},
                "odd key": {"type": "string"},
            },
        },
    }
    data = [
        {"name": "a", "age": 1},
        {"name": "b", "age": 2, "extra": True},
        {"name": "c", "age": "3", "odd key": 1},
        {"age": -1},
    ]
    with pytest.raises(DataError) as info:
        run_data({**IDENTITY, "outputSchema": schema}, data)
    assert info.value.message == (
        "outputSchema: result does not match: "
        "$[1].extra: property not allowed; "
        "$[2].age: expected integer, got string; "
        '$[2]["odd key"]: expected string, got number; '
        '$[3]: missing required property "name"; '
        "$[3].age: must be >= 0"
    )
    assert info.value.retryable is False


def test_nested_path_rendering():
    schema = {"properties": {"users": {"items": {"properties": {"age": {"type": "integer"}}}}}}
    config = {"operation": "merge", "outputSchema": schema}
    data = [{"users": [{"age": 1}, {"age": 2}, {"age": "x"}]}]
    with pytest.raises(DataError, match=r"\$\.users\[2\]\.age: expected integer, got string"):
        run_data(config, data)


@pytest.mark.parametrize(
    ("schema", "good", "bad", "message"),
    [
        ({"enum": ["a", 1]}, 1.0, True, 'expected one of ["a",1]'),
        ({"const": {"a": [1]}}, {"a": [1]}, {"a": [2]}, 'expected {"a":[1]}'),
        ({"minimum": 2}, 2, 1.5, "must be >= 2"),
        ({"maximum": 2}, 2, 3, "must be <= 2"),
        ({"exclusiveMinimum": 2}, 2.1, 2, "must be > 2"),
        ({"exclusiveMaximum": 2}, 1, 2, "must be < 2"),
        ({"minLength": 2}, "ab", "a", "must have at least 2 characters, has 1"),
        ({"maxLength": 2}, "ab", "abc", "must have at most 2 characters, has 3"),
        ({"pattern": "^[a-z]+$"}, "abc", "aB", "must match pattern '^[a-z]+$'"),
        ({"minItems": 1}, [1], [], "must have at least 1 items, has 0"),
        ({"maxItems": 1}, [1], [1, 2], "must have at most 1 items, has 2"),
    ],
)
def test_value_keywords(schema, good, bad, message):
    assert check(item(schema), good) is None
    assert check(item(schema), bad) == f"outputSchema: result does not match: $[0]: {message}"


def test_keywords_only_apply_to_their_types():
    schema = item({"minimum": 5, "minLength": 5, "minItems": 5, "required": ["x"], "pattern": "z"})
    for value in [None, True, "zzzzz", 10, [1, 2, 3, 4, 5], {"x": 1}]:
        assert check(schema, value) is None


def test_annotations_are_allowed():
    schema = {"title": "t", "description": "d", "$schema": "s", "default": 1, "type": "array"}
    validate_data_config({**IDENTITY, "outputSchema": schema})
    assert run_data({**IDENTITY, "outputSchema": schema}, [1]) == [1]


def test_violations_are_capped():
    schema = {"items": {"type": "string"}}
    with pytest.raises(DataError) as info:
        run_data({**IDENTITY, "outputSchema": schema}, list(range(25)))
    assert info.value.message.endswith("$[19]: expected string, got number; and 5 more")


@pytest.mark.parametrize(
    ("schema", "field", "message"),
    [
        ("array", "config.outputSchema", "expected a schema object, got string"),
        ({"minimun": 1}, "config.outputSchema.minimun", "unknown schema keyword; expected one of"),
        ({"type": "int"}, "config.outputSchema.type", "unknown type 'int'; expected one of"),
        ({"type": []}, "config.outputSchema.type", "expected one of string, number"),
        ({"properties": []}, "config.outputSchema.properties", "expected an object of schemas"),
        (
            {"properties": {"a": {"type": "x"}}},
            "config.outputSchema.properties.a.type",
            "unknown type 'x'",
        ),
        ({"items": {"foo": 1}}, "config.outputSchema.items.foo", "unknown schema keyword"),
        ({"items": [{}]}, "config.outputSchema.items", "expected a schema object, got array"),
        ({"required": "a"}, "config.outputSchema.required", "expected an array of property names"),
        ({"additionalProperties": {}}, "config.outputSchema.additionalProperties", "boolean"),
        ({"enum": []}, "config.outputSchema.enum", "expected a non-empty array"),
        ({"minimum": "1"}, "config.outputSchema.minimum", "expected a number, got string"),
        ({"exclusiveMaximum": True}, "config.outputSchema.exclusiveMaximum", "expected a number"),
        ({"minLength": -1}, "config.outputSchema.minLength", "non-negative integer"),
        ({"maxItems": 1.5}, "config.outputSchema.maxItems", "non-negative integer"),
        ({"pattern": "("}, "config.outputSchema.pattern", "invalid regular expression"),
        ({"pattern": "a" * 1001}, "config.outputSchema.pattern", "at most 1000"),
    ],
)
def test_bad_schemas_are_refused_statically_and_at_run_time(schema, field, message):
    config = {**IDENTITY, "outputSchema": schema}
    with pytest.raises(ValidationFailed) as info:
        validate_data_config(config)
    assert [detail.field for detail in info.value.details] == [field]
    assert message in info.value.details[0].message
    with pytest.raises(DataError, match=f"^{field}: "):
        run_data(config, [])


def test_every_schema_problem_is_reported():
    schema = {"typ": "x", "properties": {"a": {"minimun": 1}, "b": {"type": 1}}}
    with pytest.raises(ValidationFailed) as info:
        validate_data_config({**IDENTITY, "outputSchema": schema})
    assert [detail.field for detail in info.value.details] == [
        "config.outputSchema.typ",
        "config.outputSchema.properties.a.minimun",
        "config.outputSchema.properties.b.type",
    ]
