"""Agent config shapes per type (SPEC §4): what is accepted, and every refusal naming its path."""

from __future__ import annotations

from typing import Any

import pytest

from turbocat_core.agents.configs import (
    CONFIG_CHECKERS,
    MASK,
    check_agent_config,
    check_api_config,
    check_code_config,
    check_function_config,
    check_llm_config,
    check_workflow_config,
    masked_config,
)
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.agents.function_agent import FunctionExecutor, FunctionRegistry
from turbocat_core.domain.agent import AgentType
from turbocat_core.errors import ValidationFailed
from turbocat_core.usecases import seed_data

WORKFLOW_ID = "0190b3a4-7c1e-7000-8000-000000000001"


def fields_of(check: Any, config: Any, **options: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        check(config, **options)
    assert caught.value.details, "a refusal names its fields"
    assert caught.value.message.startswith("invalid ")
    return [detail.field for detail in caught.value.details]


# -- what is accepted ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(seed_data.AGENTS))
def test_the_seeded_agents_are_valid(name):
    agent_type, _, config, _ = seed_data.AGENTS[name]
    check_agent_config(AgentType(agent_type), config)


@pytest.mark.parametrize(
    ("agent_type", "config"),
    [
        (AgentType.API, {"url": "https://example.com"}),
        (
            AgentType.API,
            {
                "method": "PATCH",
                "url": "http://{{inputs.host}}:8080/x",
                "headers": {"X-A": "1", "X-B": "{{env.B}}"},
                "query": {"q": "{{inputs.q}}"},
                "body": [1, {"a": None}],
                "auth": {"type": "apiKey", "key": "{{env.K}}", "header": "X-K", "in": "query"},
                "timeoutMs": 300_000,
                "retry": {"count": 10, "delayMs": 0, "statusCodes": [100, 599]},
            },
        ),
        (AgentType.API, {"url": "{{inputs.url}}", "method": "{{inputs.method}}"}),
        (
            AgentType.API,
            {"url": "https://x.io", "auth": {"type": "basic", "username": "u", "password": "p"}},
        ),
        (AgentType.API, {"url": "https://x.io", "timeoutMs": "{{inputs.timeout}}"}),
        (AgentType.LLM, {"provider": "anthropic", "model": "claude", "prompt": "hi"}),
        (
            AgentType.LLM,
            {
                "provider": "openai-compatible",
                "baseUrl": "http://localhost:11434/v1",
                "model": "llama",
                "prompt": "{{inputs.text}}",
                "systemPrompt": "",
                "temperature": 2,
                "maxTokens": 1,
                "topP": 0.5,
                "frequencyPenalty": -2,
                "presencePenalty": 2.0,
                "stopSequences": ["a"] * 16,
                "responseFormat": "json",
                "apiKey": "{{env.LLM_KEY}}",
            },
        ),
        (AgentType.CODE, {"runtime": "python", "code": "result = 1"}),
        (
            AgentType.CODE,
            {"runtime": "node", "code": "x", "timeoutSeconds": 0.5 + 0.5, "memoryMb": 16},
        ),
        (AgentType.WORKFLOW, {"workflowId": WORKFLOW_ID}),
        (AgentType.WORKFLOW, {"workflowId": "{{inputs.flow}}"}),
        (AgentType.DATA, {"operation": "unique"}),
        (AgentType.FUNCTION, {"function": "total"}),
    ],
)
def test_valid_configs(agent_type, config):
    check_agent_config(agent_type, config)
    AgentExecutors({}).check_config(agent_type, config)


def test_every_type_has_a_checker():
    assert set(CONFIG_CHECKERS) == set(AgentType)


# -- API ----------------------------------------------------------------------------------


def test_api_refusals_name_each_field():
    config = {
        "metod": "GET",
        "method": "FETCH",
        "url": "ftp://example.com",
        "headers": {"X-A": 1},
        "query": ["q"],
        "timeoutMs": 300_001,
        "auth": {"type": "basic", "username": 1},
        "retry": {"count": 11, "delayMs": -1, "statusCodes": [99, "200", True], "every": 1},
    }
    assert fields_of(check_api_config, config) == [
        "config.metod",
        "config.method",
        "config.url",
        "config.headers.X-A",
        "config.query",
        "config.timeoutMs",
        "config.auth.username",
        "config.auth.password",
        "config.retry.every",
        "config.retry.count",
        "config.retry.delayMs",
        "config.retry.statusCodes.0",
        "config.retry.statusCodes.1",
        "config.retry.statusCodes.2",
    ]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({}, "config.url"),
        ({"url": "https://"}, "config.url"),
        ({"url": "example.com/x"}, "config.url"),
        ({"url": 5}, "config.url"),
        ({"url": "https://x.io", "timeoutMs": 0}, "config.timeoutMs"),
        ({"url": "https://x.io", "timeoutMs": 1.5}, "config.timeoutMs"),
        ({"url": "https://x.io", "auth": "token"}, "config.auth"),
        ({"url": "https://x.io", "auth": {"type": "oauth"}}, "config.auth.type"),
        ({"url": "https://x.io", "auth": {"type": "bearer"}}, "config.auth.token"),
        (
            {"url": "https://x.io", "auth": {"type": "bearer", "token": "t", "key": "k"}},
            "config.auth.key",
        ),
        (
            {"url": "https://x.io", "auth": {"type": "apiKey", "key": "k", "in": "body"}},
            "config.auth.in",
        ),
        ({"url": "https://x.io", "retry": {"statusCodes": 500}}, "config.retry.statusCodes"),
    ],
)
def test_api_refusals(config, field):
    assert field in fields_of(check_api_config, config)


def test_references_are_refused_once_resolved():
    assert fields_of(check_api_config, {"url": "{{inputs.url}}"}, allow_refs=False) == [
        "config.url"
    ]
    assert fields_of(
        check_api_config, {"url": "https://x.io", "timeoutMs": "{{inputs.t}}"}, allow_refs=False
    ) == ["config.timeoutMs"]


def test_a_config_must_be_an_object():
    assert fields_of(check_api_config, ["url"]) == ["config"]


# -- LLM ----------------------------------------------------------------------------------


def test_llm_refusals_name_each_field():
    config = {
        "provider": "openai-compatible",
        "model": " ",
        "temperature": 2.1,
        "maxTokens": 0,
        "topP": -0.1,
        "frequencyPenalty": -3,
        "presencePenalty": "high",
        "stopSequences": ["a"] * 16 + [1],
        "responseFormat": "xml",
        "apiKey": "sk-live-123",
        "seed": 1,
    }
    assert fields_of(check_llm_config, config) == [
        "config.seed",
        "config.baseUrl",
        "config.model",
        "config.prompt",
        "config.temperature",
        "config.maxTokens",
        "config.topP",
        "config.frequencyPenalty",
        "config.presencePenalty",
        "config.stopSequences",
        "config.stopSequences.16",
        "config.responseFormat",
        "config.apiKey",
    ]


@pytest.mark.parametrize(
    ("config", "field"),
    [
        ({"model": "m", "prompt": "p"}, "config.provider"),
        ({"provider": "{{inputs.p}}", "model": "m", "prompt": "p"}, "config.provider"),
        ({"provider": "mistral", "model": "m", "prompt": "p"}, "config.provider"),
        (
            {"provider": "openai", "model": "m", "prompt": "p", "baseUrl": "file:///x"},
            "config.baseUrl",
        ),
        ({"provider": "openai", "model": "m", "prompt": 3}, "config.prompt"),
        ({"provider": "openai", "model": "m", "prompt": "p", "maxTokens": 1.5}, "config.maxTokens"),
        (
            {"provider": "openai", "model": "m", "prompt": "p", "temperature": True},
            "config.temperature",
        ),
        (
            {"provider": "openai", "model": "m", "prompt": "p", "stopSequences": "x"},
            "config.stopSequences",
        ),
    ],
)
def test_llm_refusals(config, field):
    assert field in fields_of(check_llm_config, config)


def test_an_llm_key_is_a_reference_when_saved_and_any_text_when_resolved():
    config = {"provider": "openai", "model": "m", "prompt": "p", "apiKey": "sk-123"}
    assert fields_of(check_llm_config, config) == ["config.apiKey"]
    check_llm_config(config, allow_refs=False)
    check_llm_config({**config, "apiKey": "{{env.OPENAI_API_KEY}}"})


# -- CODE and WORKFLOW --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        ({}, ["config.runtime", "config.code"]),
        ({"runtime": "ruby", "code": ""}, ["config.runtime", "config.code"]),
        ({"runtime": "python", "code": "x" * (1024 * 1024 + 1)}, ["config.code"]),
        ({"runtime": "python", "code": "é" * (512 * 1024 + 1)}, ["config.code"]),
        ({"runtime": "python", "code": "x", "timeoutSeconds": 3601}, ["config.timeoutSeconds"]),
        ({"runtime": "python", "code": "x", "timeoutSeconds": 0}, ["config.timeoutSeconds"]),
        ({"runtime": "python", "code": "x", "memoryMb": 15}, ["config.memoryMb"]),
        ({"runtime": "python", "code": "x", "memoryMb": 8193}, ["config.memoryMb"]),
        ({"runtime": "python", "code": "x", "stdin": "y"}, ["config.stdin"]),
    ],
)
def test_code_refusals(config, fields):
    assert fields_of(check_code_config, config) == fields


def test_code_of_exactly_one_mebibyte_is_accepted():
    check_code_config({"runtime": "python", "code": "x" * (1024 * 1024)})


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        ({}, ["config.workflowId"]),
        ({"workflowId": "not-a-uuid"}, ["config.workflowId"]),
        ({"workflowId": 7}, ["config.workflowId"]),
        ({"workflowId": WORKFLOW_ID, "inputs": {}}, ["config.inputs"]),
    ],
)
def test_workflow_refusals(config, fields):
    assert fields_of(check_workflow_config, config) == fields


@pytest.mark.parametrize(
    ("config", "fields"),
    [
        ({}, ["config.function"]),
        ({"function": ""}, ["config.function"]),
        ({"function": 7}, ["config.function"]),
        ({"function": "total", "module": "etl"}, ["config.module"]),
    ],
)
def test_function_refusals(config, fields):
    assert fields_of(check_function_config, config) == fields


def test_a_function_agent_may_only_name_a_function_registered_here():
    registry = FunctionRegistry()
    executors = AgentExecutors({AgentType.FUNCTION: FunctionExecutor(registry)})
    with pytest.raises(ValidationFailed) as caught:
        executors.check_config(AgentType.FUNCTION, {"function": "total"})
    assert [d.field for d in caught.value.details] == ["config.function"]
    assert "'total'" in caught.value.message and "not registered" in caught.value.message
    registry.register("total", lambda inputs, ctx: 1)
    executors.check_config(AgentType.FUNCTION, {"function": "total"})
    assert registry.names == ("total",)


def test_a_name_is_registered_once():
    registry = FunctionRegistry()

    def first(inputs: Any, ctx: Any) -> int:
        return 1

    registry.register("f", first)
    registry.register("f", first)  # a module imported twice
    with pytest.raises(ValueError, match="already registered"):
        registry.register("f", lambda inputs, ctx: 2)
    with pytest.raises(ValueError, match="non-empty"):
        registry.register(" ", first)
    with pytest.raises(ValueError, match="callable"):
        registry.register("g", 3)  # type: ignore[arg-type]
    assert registry.get("f") is first and registry.get("g") is None


def test_a_wrapped_registry_gives_what_the_wrapper_makes_of_each_function():
    registry = FunctionRegistry()

    def first(inputs: Any, ctx: Any) -> int:
        return 1

    def instead(inputs: Any, ctx: Any) -> int:
        return 2

    registry.register("f", first)
    asked: list[tuple[str, Any]] = []
    registry.wrap(lambda name, fn: asked.append((name, fn)) or instead)
    assert registry.get("f") is instead
    assert registry.get("g") is None  # nothing registered: nothing to wrap
    assert asked == [("f", first)]
    assert registry.names == ("f",) and "f" in registry
    registry.wrap(None)
    assert registry.get("f") is first


# -- the executors' registry ----------------------------------------------------------------


class Strict:
    """An executor with a check of its own."""

    def __init__(self) -> None:
        self.checked: list[Any] = []

    def check_config(self, config: Any) -> None:
        self.checked.append(config)

    async def execute(self, *args: Any) -> Any:
        raise NotImplementedError


def test_an_executor_checks_its_type_and_the_checkers_the_others():
    executor = Strict()
    executors = AgentExecutors({AgentType.API: executor, AgentType.DATA: DataAgent()})
    executors.check_config(AgentType.API, {"anything": True})
    assert executor.checked == [{"anything": True}]
    with pytest.raises(ValidationFailed) as caught:
        executors.check_config(AgentType.DATA, {"operation": "explode"})
    assert caught.value.details[0].field == "config.operation"
    with pytest.raises(ValidationFailed) as caught:
        executors.check_config(AgentType.CODE, {"runtime": "python"})
    assert [d.field for d in caught.value.details] == ["config.code"]


def test_masked_config_hides_secret_values_at_any_depth():
    config = {
        "url": "https://x.io",
        "headers": {"Authorization": "Bearer abc", "Accept": "json"},
        "auth": {"type": "basic", "username": "u", "password": "p"},
        "apiKey": "{{env.K}}",
        "items": [{"token": "t"}],
    }
    assert masked_config(config) == {
        "url": "https://x.io",
        "headers": {"Authorization": MASK, "Accept": "json"},
        "auth": {"type": "basic", "username": "u", "password": MASK},
        "apiKey": MASK,
        "items": [{"token": MASK}],
    }


# -- LLM tools ----------------------------------------------------------------------------

TOOL_ID = "0190b3a4-7c1e-7000-8000-0000000000aa"
ASK = {"provider": "openai", "model": "m", "prompt": "p"}


def test_llm_tools_and_loop_limits_are_accepted():
    check_llm_config(
        {
            **ASK,
            "tools": [
                {"agentId": TOOL_ID},
                {
                    "agentId": TOOL_ID,
                    "name": "lookup-2",
                    "description": "Looks things up",
                    "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
                    "requiresApproval": False,
                },
            ],
            "maxTurns": 5,
            "maxTotalTokens": 20_000,
            "toolConcurrency": 2,
            "responseFormat": "json",
            "outputSchema": {"type": "object"},
        }
    )


def test_llm_tool_refusals_name_each_field():
    config = {
        **ASK,
        "tools": [
            {"name": "bad name!"},
            {"agentId": "x", "name": "a", "parameters": {"type": "array"}, "color": 1},
            {"agentId": TOOL_ID, "name": "a", "requiresApproval": "yes"},
            "lookup",
        ],
        "maxTurns": 0,
        "maxTotalTokens": 1.5,
        "toolConcurrency": 99,
        "outputSchema": {"type": "object"},
    }
    assert fields_of(check_llm_config, config) == [
        "config.maxTurns",
        "config.maxTotalTokens",
        "config.toolConcurrency",
        "config.outputSchema",
        "config.tools.0.agentId",
        "config.tools.0.name",
        "config.tools.1.color",
        "config.tools.1.agentId",
        "config.tools.1.parameters",
        "config.tools.2.name",
        "config.tools.2.requiresApproval",
        "config.tools.3",
    ]


def test_the_llm_executor_refuses_schemas_that_are_not_json_schemas():
    from turbocat_adapters.json_schemas import JsonSchemaChecks
    from turbocat_core.agents.llm_agent import LlmAgent

    agent = LlmAgent(object(), {}, schemas=JsonSchemaChecks())  # type: ignore[arg-type]
    config = {
        **ASK,
        "responseFormat": "json",
        "outputSchema": {"type": "nothing"},
        "tools": [{"agentId": TOOL_ID, "parameters": {"type": "object", "required": 3}}],
    }
    with pytest.raises(ValidationFailed) as caught:
        agent.check_config(config)
    assert [detail.field for detail in caught.value.details] == [
        "config.outputSchema",
        "config.tools.0.parameters",
    ]
    assert caught.value.details[0].message.startswith("not a valid JSON Schema: type: ")


def test_mcp_tools_are_checked_when_saved():
    good = {"mcp": {"url": "https://tools.example.com/mcp", "headers": {"X-Key": "{{env.K}}"}}}
    check_llm_config({**ASK, "tools": [good, {**good, "requiresApproval": True}]})
    config = {
        **ASK,
        "tools": [
            {"mcp": {"headers": {"a": 1}, "tools": "add"}},
            {"mcp": {"url": "ftp://x", "extra": 1}, "name": "x"},
            {"mcp": "https://tools.example.com/mcp"},
        ],
    }
    assert fields_of(check_llm_config, config) == [
        "config.tools.0.mcp.url",
        "config.tools.0.mcp.headers.a",
        "config.tools.0.mcp.tools",
        "config.tools.1.name",
        "config.tools.1.mcp.extra",
        "config.tools.1.mcp.url",
        "config.tools.2.mcp",
    ]
