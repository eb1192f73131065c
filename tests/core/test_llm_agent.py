"""The LLM agent's executor on a fake LlmClient: prompts, options, keys, JSON answers."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.core.builders import T0
from turbocat_core.agents.contract import RunContext
from turbocat_core.agents.failures import AgentFailure, FailureKind
from turbocat_core.agents.llm_agent import JSON_INSTRUCTION, LlmAgent, parse_json_answer
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, ExecutionId, UserId, WorkflowId
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports import LlmRequest, LlmResponse

AGENT = Agent(
    id=AgentId(uuid4()),
    created_at=T0,
    updated_at=T0,
    user_id=UserId(uuid4()),
    name="writer",
    type=AgentType.LLM,
    status=AgentStatus.ACTIVE,
)
OPENAI = {"provider": "openai", "model": "gpt-4o-mini", "prompt": "Say hi"}


class FakeClient:
    """Records requests and answers with what the test set."""

    def __init__(self, text: str = "Hi!", **fields: Any) -> None:
        self.requests: list[LlmRequest] = []
        self.response = LlmResponse(
            text=text,
            model=fields.pop("model", "gpt-4o-mini-2024-07-18"),
            finish_reason=fields.pop("finish_reason", "stop"),
            prompt_tokens=fields.pop("prompt_tokens", 7),
            completion_tokens=fields.pop("completion_tokens", 3),
            **fields,
        )

    async def complete(self, request: LlmRequest) -> LlmResponse:
        self.requests.append(request)
        return self.response


def ctx(env: dict[str, str] | None = None) -> RunContext:
    return RunContext(
        execution_id=ExecutionId(uuid4()),
        workflow_id=WorkflowId(uuid4()),
        user_id=UserId(uuid4()),
        step_key="ask",
        env=env or {},
    )


async def run(
    config: dict[str, Any],
    inputs: dict[str, Any] | None = None,
    *,
    client: FakeClient | None = None,
    env: dict[str, str] | None = None,
    server_env: dict[str, str] | None = None,
) -> tuple[Any, LlmRequest]:
    client = client or FakeClient()
    agent = LlmAgent(client, server_env if server_env is not None else {"OPENAI_API_KEY": "srv"})
    output = await agent.execute(AGENT, config, inputs or {}, ctx(env))
    return output, client.requests[-1]


async def test_every_option_reaches_the_request_and_the_output_has_the_spec_shape():
    config = {
        **OPENAI,
        "systemPrompt": "You are terse.",
        "temperature": 0.2,
        "maxTokens": 50,
        "topP": 0.9,
        "frequencyPenalty": 0.5,
        "presencePenalty": -0.5,
        "stopSequences": ["END"],
        "responseFormat": "text",
    }
    output, request = await run(config)
    assert request.provider == "openai"
    assert request.model == "gpt-4o-mini"
    assert request.prompt == "Say hi"
    assert request.system_prompt == "You are terse."
    assert request.base_url is None
    assert (request.temperature, request.max_tokens, request.top_p) == (0.2, 50, 0.9)
    assert (request.frequency_penalty, request.presence_penalty) == (0.5, -0.5)
    assert request.stop == ("END",)
    assert request.json_response is False
    assert output == {
        "text": "Hi!",
        "model": "gpt-4o-mini-2024-07-18",
        "finishReason": "stop",
        "usage": {"promptTokens": 7, "completionTokens": 3, "totalTokens": 10},
    }


async def test_unset_options_stay_unset():
    _, request = await run(OPENAI)
    assert request.system_prompt is None
    assert request.temperature is request.max_tokens is request.top_p is None
    assert request.stop == ()


async def test_a_reported_total_is_kept():
    output, _ = await run(OPENAI, client=FakeClient(total_tokens=42))
    assert output["usage"]["totalTokens"] == 42


async def test_step_inputs_prompt_and_system_prompt_replace_the_configs():
    _, request = await run(
        {**OPENAI, "systemPrompt": "cfg"},
        {"prompt": "from the step", "systemPrompt": "step system", "extra": [1, 2]},
    )
    assert request.prompt == "from the step"
    assert request.system_prompt == "step system"
    assert "extra" not in request.prompt


async def test_a_prompt_filled_with_a_json_value_is_sent_as_compact_json():
    _, request = await run(OPENAI, {"prompt": {"question": "why?", "n": [1, 2]}})
    assert request.prompt == '{"question":"why?","n":[1,2]}'


async def test_a_null_input_prompt_keeps_the_configs():
    _, request = await run(OPENAI, {"prompt": None})
    assert request.prompt == "Say hi"


# --- keys --------------------------------------------------------------------------------


async def test_the_configs_key_comes_first():
    _, request = await run(
        {**OPENAI, "apiKey": "sk-config"}, env={"OPENAI_API_KEY": "sk-deployment"}
    )
    assert request.api_key == "sk-config"


async def test_then_the_runs_env_then_the_servers():
    _, request = await run(OPENAI, env={"OPENAI_API_KEY": "sk-deployment"})
    assert request.api_key == "sk-deployment"
    _, request = await run(OPENAI, server_env={"OPENAI_API_KEY": "sk-server"})
    assert request.api_key == "sk-server"
    anthropic = {"provider": "anthropic", "model": "claude", "prompt": "p"}
    _, request = await run(anthropic, env={"ANTHROPIC_API_KEY": "sk-ant-d"})
    assert request.api_key == "sk-ant-d"
    _, request = await run(anthropic, server_env={"ANTHROPIC_API_KEY": "sk-ant-s"})
    assert request.api_key == "sk-ant-s"


async def test_the_servers_key_never_goes_to_a_configs_base_url():
    config = {**OPENAI, "baseUrl": "https://proxy.example.com/v1"}
    with pytest.raises(AgentFailure) as caught:
        await run(config, server_env={"OPENAI_API_KEY": "sk-server-secret"})
    assert caught.value.retryable is False
    assert "not sent to a custom baseUrl" in str(caught.value)
    assert "sk-server-secret" not in str(caught.value)
    compatible = {**config, "provider": "openai-compatible"}
    _, request = await run(compatible, server_env={"OPENAI_API_KEY": "sk-server-secret"})
    assert request.api_key is None
    assert request.base_url == "https://proxy.example.com/v1"
    _, request = await run(compatible, env={"OPENAI_API_KEY": "sk-mine"})
    assert request.api_key == "sk-mine"


async def test_no_key_anywhere_is_a_clear_failure_not_worth_retrying():
    with pytest.raises(AgentFailure) as caught:
        await run(OPENAI, server_env={})
    assert caught.value.retryable is False
    assert "OPENAI_API_KEY" in str(caught.value)


async def test_an_unresolved_key_reference_names_the_variable():
    with pytest.raises(AgentFailure) as caught:
        await run({**OPENAI, "apiKey": "{{env.MY_KEY}}"})
    assert "{{env.MY_KEY}}" in str(caught.value)
    assert caught.value.retryable is False


def test_only_the_key_variables_are_kept_from_the_servers_environment():
    agent = LlmAgent(FakeClient(), {"OPENAI_API_KEY": "a", "DATABASE_PASSWORD": "b", "HOME": "/"})
    assert agent._server_keys == {"OPENAI_API_KEY": "a"}


def test_a_request_never_shows_its_key():
    request = LlmRequest(provider="openai", model="m", prompt="p", api_key="sk-very-secret")
    assert "sk-very-secret" not in repr(request)


# --- JSON answers ------------------------------------------------------------------------


async def test_a_json_answer_is_parsed():
    client = FakeClient('{"name": "Ada", "langs": ["en"]}')
    output, request = await run(
        {**OPENAI, "responseFormat": "json", "prompt": "Answer in JSON"}, client=client
    )
    assert request.json_response is True
    assert request.system_prompt is None  # the prompt mentions JSON already
    assert output["json"] == {"name": "Ada", "langs": ["en"]}
    assert output["text"] == '{"name": "Ada", "langs": ["en"]}'


async def test_json_mode_asks_for_json_when_the_prompt_does_not():
    _, request = await run(
        {**OPENAI, "responseFormat": "json", "systemPrompt": "Be kind."},
        client=FakeClient("{}"),
    )
    assert request.system_prompt == f"Be kind.\n\n{JSON_INSTRUCTION}"
    _, request = await run({**OPENAI, "responseFormat": "json"}, client=FakeClient("{}"))
    assert request.system_prompt == JSON_INSTRUCTION


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        '  ```JSON\n{"a": 1}```  ',
        'Here it is:\n```json\n{"a": 1}\n```\nAnything else?',
        '\n{"a": 1}\n',
    ],
)
def test_fences_are_stripped(text):
    assert parse_json_answer(text) == {"a": 1}


@pytest.mark.parametrize("text", ["not json", "```json\n{oops}\n```", "NaN", '{"a": Infinity}'])
def test_what_is_not_json_is_refused(text):
    with pytest.raises(ValueError):  # noqa: PT011 - the message is json's own
        parse_json_answer(text)


async def test_an_answer_that_is_not_json_fails_the_attempt_clearly():
    client = FakeClient('{"cut": "off', finish_reason="length")
    with pytest.raises(AgentFailure) as caught:
        await run({**OPENAI, "responseFormat": "json"}, client=client)
    message = str(caught.value)
    assert "not valid JSON" in message
    assert "maxTokens" in message
    assert '{"cut": "off' in message
    assert caught.value.kind is FailureKind.ERROR
    assert caught.value.retryable is True  # another answer may be fine


async def test_a_text_answer_has_no_json_key():
    output, _ = await run(OPENAI, client=FakeClient('{"a": 1}'))
    assert "json" not in output


# --- configs -----------------------------------------------------------------------------


async def test_a_config_unusable_once_resolved_fails_without_retries():
    with pytest.raises(AgentFailure) as caught:
        await run({**OPENAI, "temperature": "hot"})
    assert "config.temperature" in str(caught.value)
    assert caught.value.retryable is False
    with pytest.raises(AgentFailure):
        await run({**OPENAI, "prompt": "  "})


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"frequencyPenalty": 0.5}, "config.frequencyPenalty"),
        ({"presencePenalty": -1}, "config.presencePenalty"),
        ({"temperature": 1.5}, "config.temperature"),
    ],
)
def test_anthropic_refuses_what_its_api_lacks(extra, field):
    agent = LlmAgent(FakeClient(), {})
    config = {"provider": "anthropic", "model": "claude", "prompt": "p", **extra}
    with pytest.raises(ValidationFailed) as caught:
        agent.check_config(config)
    assert [problem.field for problem in caught.value.details] == [field]
    agent.check_config({**config, "provider": "openai"})


def test_anthropic_accepts_zero_penalties_and_references():
    agent = LlmAgent(FakeClient(), {})
    agent.check_config(
        {
            "provider": "anthropic",
            "model": "claude",
            "prompt": "Summarise {{inputs.text}}",
            "frequencyPenalty": 0,
            "temperature": "{{inputs.t}}",
            "apiKey": "{{env.ANTHROPIC_API_KEY}}",
        }
    )
