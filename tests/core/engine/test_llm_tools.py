"""LLM agents with tools, run by the engine against the fake OpenAI and Anthropic servers:
the loop, each provider's wire format, and every failure the issue names."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness
from tests.fakes.llm_servers import FakeAnthropic, FakeOpenAI
from turbocat_adapters.json_schemas import JsonSchemaChecks
from turbocat_adapters.llm import HttpLlmClient
from turbocat_adapters.memory import InProcessQueue
from turbocat_core.agents.contract import AgentExecutors, RunContext
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.agents.llm_agent import LlmAgent
from turbocat_core.domain.agent import Agent, AgentType
from turbocat_core.domain.execution import ExecutionStatus, StepStatus

KEY = "sk-deployment-0123456789"
WEATHER = {
    "type": "object",
    "properties": {"city": {"type": "string"}},
    "required": ["city"],
    "additionalProperties": False,
}


@pytest.fixture
def openai():
    with FakeOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture
def anthropic():
    with FakeAnthropic(api_key=KEY) as server:
        yield server


@pytest.fixture
def tools_harness(h: Harness, openai: FakeOpenAI, anthropic: FakeAnthropic) -> Harness:
    client = HttpLlmClient(
        openai_base_url=openai.url, anthropic_base_url=anthropic.url, backoff=0.01, retries=1
    )
    executors = AgentExecutors(
        {
            AgentType.CODE: h.scripted,
            AgentType.DATA: DataAgent(),
            AgentType.LLM: LlmAgent(client, server_env={}, schemas=JsonSchemaChecks()),
        }
    )
    h.engine = replace(h.engine, executors=executors)
    h.queue = InProcessQueue(runner=h.engine.run, clock=h.clock)
    h.env = {"OPENAI_API_KEY": KEY, "ANTHROPIC_API_KEY": KEY}
    return h


async def weather(config: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> Any:
    return {"city": inputs["city"], "celsius": 21 if inputs["city"] == "Paris" else 14}


async def broken(config: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> Any:
    raise AgentFailure("the weather service is down", retryable=False)


async def assistant(h: Harness, provider: str = "openai", **config: Any) -> Agent:
    tool = await h.agent(
        "Weather lookup", weather, parameters=WEATHER, description="Today's weather"
    )
    return await h.agent(
        "assistant",
        agent_type=AgentType.LLM,
        config={
            "provider": provider,
            "model": "gpt-4o-mini" if provider == "openai" else "claude-3-5-haiku",
            "prompt": "What should I wear in {{inputs.cities}}?",
            "tools": [{"agentId": str(tool.id)}],
            **config,
        },
    )


async def run_one(h: Harness, agent: Agent, **step_fields: Any):
    wf = await h.workflow([step("ask", agent_id=agent.id, **step_fields)])
    execution = await h.run(wf, {"cities": "Paris and Oslo"})
    return execution, (await h.runs(execution.id))["ask"]


async def test_a_multi_turn_loop_with_parallel_calls_in_openai_s_format(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    openai.script(
        openai.tool_calls(
            ("Weather_lookup", {"city": "Paris"}), ("Weather_lookup", {"city": "Oslo"})
        ),
        openai.tool_calls(("Weather_lookup", {"city": "Paris"})),
        openai.ok("A T-shirt in Paris, a coat in Oslo."),
    )
    llm = await assistant(h)
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert run.output["text"] == "A T-shirt in Paris, a coat in Oslo."
    assert [turn["toolCalls"] for turn in run.output["turns"]] == [
        ["Weather_lookup", "Weather_lookup"],
        ["Weather_lookup"],
        [],
    ]
    assert run.output["usage"] == {"promptTokens": 36, "completionTokens": 15, "totalTokens": 51}
    assert h.scripted.count("Weather lookup") == 3
    first, second, third = (request.json for request in openai.requests)
    assert first["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "Weather_lookup",
                "description": "Today's weather",
                "parameters": WEATHER,
            },
        }
    ]
    assert first["messages"] == [
        {"role": "user", "content": "What should I wear in Paris and Oslo?"}
    ]
    asked, *results = second["messages"][1:]
    assert asked["role"] == "assistant"
    assert asked["content"] is None
    assert [call["function"]["name"] for call in asked["tool_calls"]] == ["Weather_lookup"] * 2
    assert all(call["type"] == "function" for call in asked["tool_calls"])
    ids = {call["id"] for call in asked["tool_calls"]}
    assert {result["tool_call_id"] for result in results} == ids
    contents = sorted(json.loads(result["content"])["celsius"] for result in results)
    assert contents == [14, 21]
    assert all(result["role"] == "tool" for result in results)
    assert len(third["messages"]) == 6
    lines = [line.message for line in await h.logs(execution.id)]
    assert "turn 1: the model asked for 2 tool call(s): Weather_lookup, Weather_lookup" in lines
    assert "turn 3: the model answered (stop)" in lines


async def test_anthropic_s_tool_use_and_tool_result_blocks(
    tools_harness: Harness, anthropic: FakeAnthropic
):
    h = tools_harness
    anthropic.script(
        anthropic.tool_use(
            ("Weather_lookup", {"city": "Paris"}),
            ("Weather_lookup", {"city": "Oslo"}),
            text="Let me check.",
        ),
        anthropic.ok("Light clothes in Paris, warm ones in Oslo."),
    )
    llm = await assistant(h, "anthropic")
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert run.output["text"] == "Light clothes in Paris, warm ones in Oslo."
    first, second = (request.json for request in anthropic.requests)
    assert first["tools"] == [
        {"name": "Weather_lookup", "description": "Today's weather", "input_schema": WEATHER}
    ]
    _, asked, answered = second["messages"]
    assert asked == {
        "role": "assistant",
        "content": [
            {"type": "text", "text": "Let me check."},
            {
                "type": "tool_use",
                "id": "toolu_0001",
                "name": "Weather_lookup",
                "input": {"city": "Paris"},
            },
            {
                "type": "tool_use",
                "id": "toolu_0002",
                "name": "Weather_lookup",
                "input": {"city": "Oslo"},
            },
        ],
    }
    assert answered["role"] == "user"
    assert sorted(block["tool_use_id"] for block in answered["content"]) == [
        "toolu_0001",
        "toolu_0002",
    ]
    assert all(block["type"] == "tool_result" for block in answered["content"])
    assert all("is_error" not in block for block in answered["content"])


async def test_an_unknown_tool_goes_back_to_the_model_as_an_error(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    openai.script(openai.tool_calls(("delete_everything", {})), openai.ok("Sorry."))
    llm = await assistant(h)
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    result = openai.requests[1].json["messages"][-1]
    assert result["role"] == "tool"
    assert result["content"] == (
        "error: there is no tool named 'delete_everything' (the tools: Weather_lookup)"
    )
    assert run.output["transcript"][-2]["isError"] is True
    assert h.scripted.count("Weather lookup") == 0


@pytest.mark.parametrize(
    ("arguments", "said"),
    [
        ({"town": "Paris"}, "error: invalid arguments: (the value): 'city' is a required property"),
        ('{"city": "Par', "error: the arguments are not valid JSON"),
        ({"city": 7}, "error: invalid arguments: city: 7 is not of type 'string'"),
    ],
)
async def test_arguments_failing_the_schema_go_back_as_an_error_and_the_tool_does_not_run(
    tools_harness: Harness, openai: FakeOpenAI, arguments: Any, said: str
):
    h = tools_harness
    openai.script(openai.tool_calls(("Weather_lookup", arguments)), openai.ok("I could not."))
    llm = await assistant(h)
    execution, _ = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    sent = openai.requests[1].json["messages"][-1]["content"]
    assert sent.startswith(said), sent
    assert h.scripted.count("Weather lookup") == 0


async def test_a_failing_tool_goes_back_to_the_model_as_an_error(
    tools_harness: Harness, openai: FakeOpenAI, anthropic: FakeAnthropic
):
    h = tools_harness
    tool = await h.agent("forecast", broken)
    llm = await assistant(h, "anthropic")
    llm = await h.agent(
        "assistant2",
        agent_type=AgentType.LLM,
        config={**llm.config, "tools": [{"agentId": str(tool.id), "name": "forecast"}]},
    )
    anthropic.script(anthropic.tool_use(("forecast", {})), anthropic.ok("The service is down."))
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    block = anthropic.requests[1].json["messages"][-1]["content"][0]
    assert block["is_error"] is True
    assert block["content"] == "error: the tool failed: the weather service is down"
    assert run.output["text"] == "The service is down."


async def test_max_turns_fails_the_step_with_the_transcript_so_far(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    openai.script(*(openai.tool_calls(("Weather_lookup", {"city": "Paris"})) for _ in range(3)))
    llm = await assistant(h, maxTurns=3)
    execution, run = await run_one(h, llm, retry_count=2, retry_delay_ms=1)

    assert execution.status is ExecutionStatus.FAILED
    assert run.status is StepStatus.FAILED
    assert run.error == (
        "LLM agent 'assistant' reached its maxTurns of 3 with the model still asking for "
        "tools (the step's output holds the transcript so far)"
    )
    assert run.attempt == 1  # not retried: the same conversation would end the same way
    assert len(openai.requests) == 3
    assert h.scripted.count("Weather lookup") == 2  # the third turn's call is not run
    assert len(run.output["turns"]) == 3
    assert [m["role"] for m in run.output["transcript"]] == [
        "assistant",
        "tool",
        "assistant",
        "tool",
        "assistant",
    ]


async def test_the_token_budget_fails_the_step_before_another_call(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    openai.script(
        openai.tool_calls(("Weather_lookup", {"city": "Paris"}), prompt_tokens=900),
        openai.tool_calls(("Weather_lookup", {"city": "Oslo"}), prompt_tokens=900),
    )
    llm = await assistant(h, maxTotalTokens=1500)
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.FAILED
    assert run.error is not None
    assert "used 1810 tokens, reaching its maxTotalTokens of 1500" in run.error
    assert len(openai.requests) == 2
    assert run.output["usage"]["totalTokens"] == 1810


async def test_a_429_mid_loop_retries_the_step_without_repeating_finished_calls(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    slow_down = openai.error(429, "Rate limit reached", "requests", headers={"Retry-After": "0"})
    openai.script(
        openai.tool_calls(("Weather_lookup", {"city": "Paris"})),
        slow_down,
        slow_down,  # the client's one retry: the attempt fails
        openai.ok("A T-shirt."),
    )
    llm = await assistant(h)
    execution, run = await run_one(h, llm, retry_count=1, retry_delay_ms=1)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert run.attempt == 2
    assert h.scripted.count("Weather lookup") == 1
    assert len(openai.requests) == 4  # the first call is not made again
    assert [turn["turn"] for turn in run.output["turns"]] == [1, 2]


async def test_a_429_mid_loop_without_retries_fails_with_the_transcript(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    slow_down = openai.error(429, "Rate limit reached", "requests", headers={"Retry-After": "0"})
    openai.script(openai.tool_calls(("Weather_lookup", {"city": "Paris"})), slow_down, slow_down)
    llm = await assistant(h)
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.FAILED
    assert "HTTP 429" in (run.error or "")
    assert [m["role"] for m in run.output["transcript"]] == ["assistant", "tool"]


async def test_a_json_answer_failing_its_schema_is_asked_for_once_more(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    schema = {
        "type": "object",
        "properties": {"outfit": {"type": "string"}},
        "required": ["outfit"],
    }
    openai.script(openai.ok('{"clothes": "coat"}'), openai.ok('{"outfit": "coat"}'))
    llm = await assistant(h, responseFormat="json", outputSchema=schema)
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert run.output["json"] == {"outfit": "coat"}
    first, second = (request.json for request in openai.requests)
    assert json.dumps(schema, separators=(",", ":")) in first["messages"][0]["content"]
    assert second["messages"][-1] == {
        "role": "user",
        "content": "Your answer is not valid: (the value): 'outfit' is a required property. "
        "Answer again with the corrected JSON only.",
    }


async def test_a_json_answer_failing_twice_fails_the_step(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    schema = {"type": "object", "required": ["outfit"]}
    openai.script(openai.ok("a coat"), openai.ok('{"clothes": "coat"}'))
    llm = await assistant(h, responseFormat="json", outputSchema=schema)
    execution, run = await run_one(h, llm, retry_count=1, retry_delay_ms=1)

    assert execution.status is ExecutionStatus.FAILED
    assert run.error == (
        "LLM agent 'assistant': the answer is still not valid after asking again: "
        "(the value): 'outfit' is a required property"
    )
    assert len(openai.requests) == 2


async def test_a_tool_the_owner_may_not_use_fails_the_step_clearly(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    stranger = h.new_actor().user_id
    private = await h.agent("theirs", weather, owner=stranger)
    llm = await h.agent(
        "assistant",
        agent_type=AgentType.LLM,
        config={
            "provider": "openai",
            "model": "gpt-4o-mini",
            "prompt": "hi",
            "tools": [{"agentId": str(private.id)}],
        },
    )
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.FAILED
    assert run.error is not None
    assert run.error.startswith(f"tools.0: agent {private.id} is no longer available")
    assert openai.requests == []


async def test_secrets_are_masked_in_the_turn_lines_and_the_transcript(
    tools_harness: Harness, openai: FakeOpenAI
):
    h = tools_harness
    openai.script(
        openai.tool_calls(("Weather_lookup", {"city": KEY})),
        openai.ok(f"The key is {KEY}"),
    )
    llm = await assistant(h)
    execution, _ = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED
    logged = json.dumps([(line.message, line.metadata) for line in await h.logs(execution.id)])
    assert KEY not in logged
    assert "turn 1: the model asked for 1 tool call(s)" in logged


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_a_streamed_conversation_writes_its_tokens_and_journals_the_whole_text(
    tools_harness: Harness, openai: FakeOpenAI, anthropic: FakeAnthropic, provider: str
):
    h = tools_harness
    answer = "Paris is warm today, so a T-shirt will do; Oslo needs a coat and a hat."
    if provider == "openai":
        fake: FakeOpenAI | FakeAnthropic = openai
        openai.script(
            openai.tool_calls(
                ("Weather_lookup", {"city": "Paris"}), ("Weather_lookup", {"city": "Oslo"})
            ),
            openai.ok(answer),
        )
    else:
        fake = anthropic
        anthropic.script(
            anthropic.tool_use(
                ("Weather_lookup", {"city": "Paris"}), ("Weather_lookup", {"city": "Oslo"})
            ),
            anthropic.ok(answer),
        )
    llm = await assistant(h, provider, stream=True)
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert fake.streamed == 2
    assert all(request.json["stream"] is True for request in fake.requests)
    if provider == "openai":
        assert openai.requests[0].json["stream_options"] == {"include_usage": True}
    assert run.output["text"] == answer
    assert run.output["usage"]["totalTokens"] > 0
    asked = run.output["transcript"][0]["toolCalls"]
    assert [json.loads(call["arguments"]) for call in asked] == [
        {"city": "Paris"},
        {"city": "Oslo"},
    ]
    assert h.scripted.count("Weather lookup") == 2
    tokens = [line for line in await h.logs(execution.id) if line.metadata.get("tokens")]
    assert "".join(line.message for line in tokens) == answer
    assert len(tokens) >= 2  # written as it came, in batches
    assert {line.metadata["turn"] for line in tokens} == {2}


async def test_a_streamed_answer_without_tools(tools_harness: Harness, openai: FakeOpenAI):
    h = tools_harness
    llm = await h.agent(
        "plain",
        agent_type=AgentType.LLM,
        config={"provider": "openai", "model": "gpt-4o-mini", "prompt": "hi", "stream": True},
    )
    openai.script(openai.ok("Hello there, how can I help?"))
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert run.output["text"] == "Hello there, how can I help?"
    assert run.output["usage"] == {"promptTokens": 12, "completionTokens": 5, "totalTokens": 17}
    assert openai.streamed == 1
    tokens = [line.message for line in await h.logs(execution.id) if line.metadata.get("tokens")]
    assert "".join(tokens) == "Hello there, how can I help?"


@pytest.fixture
def calculator():
    from tests.fakes.mcp_server import McpCalculator

    with McpCalculator() as server:
        yield server


def mcp_harness(h: Harness, openai: FakeOpenAI, *, allowed: tuple[str, ...]) -> Harness:
    from turbocat_adapters.http.transport import GuardedNetwork
    from turbocat_adapters.mcp_client import SdkMcpClient

    client = HttpLlmClient(openai_base_url=openai.url, backoff=0.01, retries=1)
    network = GuardedNetwork.build(allowed_hosts=allowed)
    llm = LlmAgent(client, server_env={}, schemas=JsonSchemaChecks(), mcp=SdkMcpClient(network))
    h.engine = replace(h.engine, executors=AgentExecutors({AgentType.LLM: llm}))
    h.queue = InProcessQueue(runner=h.engine.run, clock=h.clock)
    h.env = {"OPENAI_API_KEY": KEY, "MCP_TOKEN": "mcp-secret-token"}
    return h


async def mcp_agent(h: Harness, url: str) -> Agent:
    return await h.agent(
        "mathematician",
        agent_type=AgentType.LLM,
        config={
            "provider": "openai",
            "model": "gpt-4o-mini",
            "prompt": "What is 2 + 3, and 1 / 0?",
            "tools": [
                {
                    "mcp": {
                        "url": url,
                        "headers": {"Authorization": "Bearer {{env.MCP_TOKEN}}"},
                        "tools": ["add", "divide"],
                    }
                }
            ],
        },
    )


async def test_an_mcp_server_s_tools_through_the_sdk(h: Harness, openai: FakeOpenAI, calculator):
    h = mcp_harness(h, openai, allowed=("127.0.0.1",))
    openai.script(
        openai.tool_calls(("add", {"a": 2, "b": 3}), ("divide", {"a": 1, "b": 0})),
        openai.ok("5, and 1 / 0 has no answer."),
    )
    llm = await mcp_agent(h, calculator.url)
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    offered = [tool["function"]["name"] for tool in openai.requests[0].json["tools"]]
    assert offered == ["add", "divide"]  # the allowlist: not "secret"
    add = openai.requests[0].json["tools"][0]["function"]
    assert add["description"] == "Adds two whole numbers"
    assert add["parameters"]["properties"]["a"]["type"] == "integer"
    results = {m["name"]: m for m in run.output["transcript"] if m["role"] == "tool"}
    assert results["add"]["content"] == "5"
    assert results["add"]["isError"] is False
    assert results["divide"]["isError"] is True
    assert "division by zero" in results["divide"]["content"]
    assert calculator.calls == {"add": 1, "divide": 1}
    assert all(
        headers.get("authorization") == "Bearer mcp-secret-token" for headers in calculator.headers
    )


async def test_an_mcp_server_is_behind_the_ssrf_guard(h: Harness, openai: FakeOpenAI, calculator):
    h = mcp_harness(h, openai, allowed=())
    llm = await mcp_agent(h, calculator.url)
    execution, run = await run_one(h, llm)

    assert execution.status is ExecutionStatus.FAILED
    assert run.error is not None
    assert run.error.startswith("tools.0: refused: 127.0.0.1 is a loopback address (SSRF guard)")
    assert calculator.headers == []
    assert openai.requests == []
