"""validate_data_config names every bad field; run_data refuses the same configs clearly."""

from __future__ import annotations

import pytest

from turbocat_core.agents.data import DataError, run_data, validate_data_config
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.errors import FieldError, ValidationFailed

FIRST = {"operation": "unique"}

# (step config, bad option path inside the step, part of the message)
BAD_STEPS = [
    ({"operation": "filtre"}, "operation", "unknown operation 'filtre'; expected one of filter,"),
    ({"operation": 5}, "operation", "unknown operation 5"),
    ({"operation": "filter", "operator": "eq", "value": 1}, "field", "required option is missing"),
    ({"operation": "filter", "field": "a", "value": 1}, "operator", "required option is missing"),
    (
        {"operation": "filter", "field": "a", "operator": "gtx", "value": 1},
        "operator",
        "unknown operator 'gtx'; expected one of eq, neq, gt, gte, lt, lte, in, nin, contains, "
        "startsWith, endsWith, exists, regex",
    ),
    (
        {"operation": "filter", "field": "a", "operator": "eq"},
        "value",
        "required option is missing (operator 'eq' needs it)",
    ),
    (
        {"operation": "filter", "field": "a", "operator": "in", "value": "x"},
        "value",
        "operator 'in' needs an array value, got string",
    ),
    (
        {"operation": "filter", "field": "a", "operator": "nin", "value": {}},
        "value",
        "operator 'nin' needs an array value, got object",
    ),
    (
        {"operation": "filter", "field": "a", "operator": "exists", "value": "yes"},
        "value",
        "'exists' needs a boolean value",
    ),
    (
        {"operation": "filter", "field": "a", "operator": "regex", "value": "[a-"},
        "value",
        "invalid regular expression '[a-'",
    ),
    (
        {"operation": "filter", "field": "a", "operator": "regex", "value": "x" * 1001},
        "value",
        "at most 1000 are allowed",
    ),
    (
        {"operation": "filter", "field": "", "operator": "eq", "value": 1},
        "field",
        "field path must not be empty",
    ),
    (
        {"operation": "filter", "field": "a..b", "operator": "eq", "value": 1},
        "field",
        "field path 'a..b' has an empty segment",
    ),
    (
        {"operation": "filter", "field": 3, "operator": "eq", "value": 1},
        "field",
        "expected a field path (text), got number",
    ),
    (
        {"operation": "filter", "field": "a", "operator": "eq", "value": 1, "match": "some"},
        "match",
        "unknown match 'some'; expected one of all, any",
    ),
    ({"operation": "filter", "conditions": []}, "conditions", "non-empty array of conditions"),
    ({"operation": "filter", "conditions": "a"}, "conditions", "non-empty array of conditions"),
    ({"operation": "filter", "conditions": [1]}, "conditions.0", "expected an object, got number"),
    (
        {
            "operation": "filter",
            "conditions": [{"field": "a", "operator": "eq", "value": 1}, {"operator": "exists"}],
        },
        "conditions.1.field",
        "required option is missing",
    ),
    (
        {"operation": "filter", "conditions": [{"field": "a", "operator": "exists", "valeu": 1}]},
        "conditions.0.valeu",
        "unknown option; expected one of field, operator, value",
    ),
    (
        {"operation": "filter", "conditions": [{"field": "a", "operator": "gtx", "value": 1}]},
        "conditions.0.operator",
        "unknown operator 'gtx'",
    ),
    (
        {"operation": "filter", "field": "a", "conditions": [{"field": "a", "operator": "exists"}]},
        "field",
        "use either conditions or field/operator/value, not both",
    ),
    ({"operation": "map"}, "fields", "required option is missing"),
    ({"operation": "map", "fields": ["a"]}, "fields", "non-empty object of output name"),
    ({"operation": "map", "fields": {}}, "fields", "non-empty object of output name"),
    ({"operation": "map", "fields": {"x": 1}}, "fields.x", "expected a field path"),
    ({"operation": "map", "fields": {"x": "a"}, "merge": "yes"}, "merge", "expected a boolean"),
    ({"operation": "reduce"}, "reducer", "required option is missing"),
    (
        {"operation": "reduce", "reducer": "avg"},
        "reducer",
        "unknown reducer 'avg'; expected one of sum, product, min, max, concat, merge, count",
    ),
    ({"operation": "reduce", "reducer": "sum", "field": ""}, "field", "must not be empty"),
    ({"operation": "sort", "by": 1}, "by", "expected a field path, or a non-empty array"),
    ({"operation": "sort", "by": []}, "by", "expected a field path, or a non-empty array"),
    ({"operation": "sort", "by": ["a", 2]}, "by.1", "expected an object, got number"),
    ({"operation": "sort", "by": [{"direction": "asc"}]}, "by.0.field", "required option"),
    (
        {"operation": "sort", "by": [{"field": "a", "direction": "down"}]},
        "by.0.direction",
        "unknown direction 'down'; expected one of asc, desc",
    ),
    (
        {"operation": "sort", "by": [{"field": "a", "order": "desc"}]},
        "by.0.order",
        "unknown option; expected one of field, direction",
    ),
    ({"operation": "sort", "by": ["a."]}, "by.0", "has an empty segment"),
    ({"operation": "group"}, "by", "required option is missing"),
    ({"operation": "group", "by": ["a"]}, "by", "expected a field path (text), got array"),
    ({"operation": "flatten", "depth": 0}, "depth", "expected a positive integer, got 0"),
    ({"operation": "flatten", "depth": "2"}, "depth", "expected a positive integer, got '2'"),
    ({"operation": "flatten", "depth": True}, "depth", "expected a positive integer, got True"),
    ({"operation": "flatten", "field": 1}, "field", "expected a field path"),
    ({"operation": "unique", "by": []}, "by", "a field path or a non-empty array of field paths"),
    ({"operation": "unique", "by": ["a", None]}, "by.1", "expected a field path (text), got null"),
    ({"operation": "pick"}, "fields", "required option is missing"),
    ({"operation": "pick", "fields": "a"}, "fields", "expected a non-empty array of field paths"),
    ({"operation": "omit", "fields": ["a", ""]}, "fields.1", "must not be empty"),
    ({"operation": "merge", "with": [1]}, "with", "expected an object, got array"),
    ({"operation": "merge", "deep": 1}, "deep", "expected a boolean, got number"),
    ({"operation": "join", "on": "id"}, "right", "required option is missing"),
    ({"operation": "join", "right": {}, "on": "id"}, "right", "expected an array, got object"),
    ({"operation": "join", "right": []}, "on", "required option is missing"),
    ({"operation": "join", "right": [], "on": 1}, "on", "expected an object, got number"),
    ({"operation": "join", "right": [], "on": {"left": "a"}}, "on.right", "required option"),
    (
        {"operation": "join", "right": [], "on": {"left": "a", "right": "b", "rihgt": "c"}},
        "on.rihgt",
        "unknown option; expected one of left, right",
    ),
    (
        {"operation": "join", "right": [], "on": "id", "type": "outer"},
        "type",
        "unknown join type 'outer'; expected one of inner, left, right, full",
    ),
    ({"operation": "aggregate", "field": "a"}, "function", "required option is missing"),
    (
        {"operation": "aggregate", "function": "median", "field": "a"},
        "function",
        "unknown function 'median'; expected one of sum, avg, min, max, count, first, last",
    ),
    ({"operation": "aggregate", "function": "sum"}, "field", "required option is missing"),
    (
        {"operation": "aggregate", "function": "count", "groupBy": 1},
        "groupBy",
        "expected a field path",
    ),
    ({"operation": "transform"}, "template", "required option is missing"),
]


def ids(case):
    return f"{case[0].get('operation')}-{case[1]}" if isinstance(case, tuple) else None


@pytest.mark.parametrize(("step", "path", "message"), BAD_STEPS, ids=[ids(c) for c in BAD_STEPS])
def test_bad_operation_as_the_whole_config(step, path, message):
    with pytest.raises(ValidationFailed) as info:
        validate_data_config(step)
    assert len(info.value.details) == 1
    assert info.value.details[0].field == f"config.{path}"
    assert message in info.value.details[0].message
    with pytest.raises(DataError) as run:
        run_data(step, [])
    label = step.get("operation") if step.get("operation") in ("filter", "sort") else None
    if label is not None:
        assert run.value.message.startswith(f"{label}: {path}: ")
    assert message in run.value.message
    assert run.value.retryable is False


@pytest.mark.parametrize(("step", "path", "message"), BAD_STEPS, ids=[ids(c) for c in BAD_STEPS])
def test_bad_operation_inside_a_pipeline(step, path, message):
    config = {"pipeline": [FIRST, step]}
    with pytest.raises(ValidationFailed) as info:
        validate_data_config(config)
    assert [detail.field for detail in info.value.details] == [f"config.pipeline.1.{path}"]
    assert message in info.value.details[0].message
    with pytest.raises(DataError) as run:
        run_data(config, [])
    operation = step.get("operation")
    known = isinstance(operation, str) and not operation.startswith("filtre")
    label = f"pipeline[1] {operation}" if known else "pipeline[1]"
    assert run.value.message.startswith(f"{label}: {path}: ")
    assert message in run.value.message


def test_pipeline_step_without_operation():
    with pytest.raises(ValidationFailed) as info:
        validate_data_config({"pipeline": [{"by": "a"}]})
    assert info.value.details == (
        FieldError("config.pipeline.0.operation", "required option is missing"),
    )
    with pytest.raises(DataError, match=r"^pipeline\[0\]: operation: required option is missing$"):
        run_data({"pipeline": [{"by": "a"}]}, [])


def test_runtime_message_format():
    config = {"pipeline": [FIRST, {"operation": "filter", "field": "a", "operator": "gtx"}]}
    with pytest.raises(DataError) as info:
        run_data(config, [])
    assert info.value.message == (
        "pipeline[1] filter: operator: unknown operator 'gtx'; expected one of eq, neq, gt, gte, "
        "lt, lte, in, nin, contains, startsWith, endsWith, exists, regex"
    )


def test_data_error_is_a_non_retryable_agent_failure():
    error = DataError("boom")
    assert isinstance(error, AgentFailure)
    assert error.retryable is False
    assert error.kind is FailureKind.ERROR
    assert error.message == "boom"


def test_valid_configs_pass():
    validate_data_config({"operation": "filter", "field": "a", "operator": "exists"})
    validate_data_config(
        {
            "pipeline": [
                {
                    "operation": "filter",
                    "conditions": [{"field": "a", "operator": "gt", "value": 1}],
                },
                {"operation": "sort", "by": ["a", {"field": "b", "direction": "desc"}]},
                {"operation": "aggregate", "function": "count", "groupBy": "a"},
            ],
            "outputSchema": {"type": "object"},
        }
    )


def test_unknown_options_are_refused_everywhere():
    with pytest.raises(ValidationFailed) as info:
        validate_data_config({"operation": "sort", "by": "a", "timeout": 5})
    assert info.value.details[0].field == "config.timeout"
    with pytest.raises(DataError, match="timeout: unknown option"):
        run_data({"operation": "sort", "by": "a", "timeout": 5}, [])
    with pytest.raises(ValidationFailed) as info:
        validate_data_config({"pipeline": [{"operation": "sort", "by": "a", "timeout": 5}]})
    assert info.value.details[0].field == "config.pipeline.0.timeout"
    assert info.value.details[0].message.startswith("unknown option; expected one of operation, by")
    with pytest.raises(ValidationFailed) as info:
        validate_data_config({"pipeline": [{"operation": "unique"}], "operation": "x"})
    with pytest.raises(ValidationFailed) as info:
        validate_data_config({"pipeline": [{"operation": "unique"}], "limit": 3})
    assert info.value.details[0].field == "config.limit"


def test_output_schema_is_allowed_beside_a_single_operation():
    config = {"operation": "sort", "by": "a", "outputSchema": {"type": "array"}}
    validate_data_config(config)
    assert run_data(config, [{"a": 2}, {"a": 1}]) == [{"a": 1}, {"a": 2}]


def test_output_schema_inside_a_step_is_an_unknown_option():
    step = {"operation": "unique", "outputSchema": {}}
    with pytest.raises(ValidationFailed) as info:
        validate_data_config({"pipeline": [step]})
    assert info.value.details[0].field == "config.pipeline.0.outputSchema"


@pytest.mark.parametrize(
    ("config", "field", "message"),
    [
        ([], "config", "expected an object, got array"),
        (None, "config", "expected an object, got null"),
        ({}, "config", 'needs "operation" or "pipeline"'),
        ({"operation": "unique", "pipeline": []}, "config", 'either "operation" or "pipeline"'),
        ({"pipeline": []}, "config.pipeline", "expected a non-empty array of operations"),
        ({"pipeline": {"operation": "unique"}}, "config.pipeline", "non-empty array"),
        (
            {"operation": "filter", "field": "a", "operator": "in", "value": [1, {2}]},
            "config.value.1",
            "not JSON-like: found a value of type set",
        ),
        (
            {"operation": "unique", "by": ("a",)},
            "config.by",
            "not JSON-like: found a value of type tuple",
        ),
        (
            {"operation": "unique", 1: 2},
            "config.1",
            "not JSON-like: found an object key of type int",
        ),
    ],
)
def test_bad_config_shapes(config, field, message):
    with pytest.raises(ValidationFailed) as info:
        validate_data_config(config)
    assert [detail.field for detail in info.value.details] == [field]
    assert message in info.value.details[0].message
    with pytest.raises(DataError) as run:
        run_data(config, [])
    assert run.value.message.startswith(f"{field}: ")
    assert message in run.value.message


def test_pipeline_step_must_be_an_object():
    with pytest.raises(ValidationFailed) as info:
        validate_data_config({"pipeline": [FIRST, "unique"]})
    assert info.value.details == (
        FieldError("config.pipeline.1", "expected an operation object, got string"),
    )
    with pytest.raises(
        DataError, match=r"^pipeline\[1\]: expected an operation object, got string$"
    ):
        run_data({"pipeline": [FIRST, "unique"]}, [])


def test_every_problem_is_reported_with_a_summary():
    config = {
        "pipeline": [
            {"operation": "filter", "field": "a", "operator": "gtx", "value": 1},
            {"operation": "sort", "by": [{"field": "a", "direction": "up"}]},
            {"operation": "nope"},
            {"operation": "join", "right": [], "on": {"left": "id"}, "type": "outer"},
        ],
        "outputSchema": {"type": "array", "minItem": 1},
    }
    with pytest.raises(ValidationFailed) as info:
        validate_data_config(config)
    assert [detail.field for detail in info.value.details] == [
        "config.pipeline.0.operator",
        "config.pipeline.1.by.0.direction",
        "config.pipeline.2.operation",
        "config.pipeline.3.type",
        "config.pipeline.3.on.right",
        "config.outputSchema.minItem",
    ]
    assert info.value.message.startswith("invalid DATA config: config.pipeline.0.operator: ")
    assert info.value.message.endswith("(and 5 more)")


def test_run_data_refuses_a_bad_later_step_before_doing_any_work():
    config = {"pipeline": [{"operation": "flatten"}, {"operation": "sort", "by": []}]}
    with pytest.raises(DataError, match=r"^pipeline\[1\] sort: by: "):
        run_data(config, "not even an array")


@pytest.mark.parametrize(
    "step",
    [
        {"operation": "filter", "field": "a", "operator": "in", "value": "{{inputs.allowed}}"},
        {"operation": "filter", "field": "a", "operator": "exists", "value": "{{ inputs.flag }}"},
        {"operation": "join", "right": "{{steps.orders.output}}", "on": "id"},
        {"operation": "merge", "with": "{{inputs.defaults}}"},
    ],
)
def test_references_are_accepted_before_the_run_but_not_during_it(step):
    validate_data_config(step)
    validate_data_config({"pipeline": [step]})
    with pytest.raises(DataError, match=r"got string"):
        run_data(step, [])


def test_reference_inside_longer_text_is_not_a_reference():
    step = {"operation": "merge", "with": "x {{inputs.defaults}}"}
    with pytest.raises(ValidationFailed):
        validate_data_config(step)


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ((1, 2), "$"),
        ([1, {"a": {3}}], "$[1].a"),
        ({"a": [object()]}, "$.a[0]"),
    ],
)
def test_data_must_be_json_like(data, where):
    with pytest.raises(
        DataError,
        match=r"^data is not JSON-like: found .* at "
        + where.replace("[", r"\[").replace("$", r"\$"),
    ):
        run_data({"operation": "unique"}, data)


def test_non_string_keys_in_data_are_refused():
    with pytest.raises(DataError, match=r"found an object key of type int at"):
        run_data({"operation": "unique"}, [{1: "a"}])
