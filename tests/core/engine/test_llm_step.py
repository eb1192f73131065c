"""A workflow with an LLM step, run by the engine against the fake OpenAI server."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from tests.fakes.llm_servers import FakeOpenAI, Scripted
from turbocat_adapters.llm import HttpLlmClient
from turbocat_adapters.memory import InProcessQueue
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.agents.llm_agent import LlmAgent
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.execution import ExecutionStatus, StepStatus

KEY = "sk-deployment-0123456789"


@pytest.fixture
def openai():
    with FakeOpenAI(api_key=KEY) as server:
        yield server


@pytest.fixture
def llm_harness(h: Harness, openai: FakeOpenAI) -> Harness:
    """The harness's engine with an LLM executor on the fake (no server key of its own)."""
    client = HttpLlmClient(openai_base_url=openai.url, backoff=0.01)
    executors = AgentExecutors(
        {
            AgentType.CODE: h.scripted,
            AgentType.DATA: DataAgent(),
            AgentType.LLM: LlmAgent(client, server_env={}),
        }
    )
    h.engine = replace(h.engine, executors=executors)
    h.queue = InProcessQueue(runner=h.engine.run, clock=h.clock)
    h.env = {"OPENAI_API_KEY": KEY}
    return h


async def summariser(h: Harness, **config):
    return await h.agent(
        "summariser",
        agent_type=AgentType.LLM,
        config={
            "provider": "openai",
            "model": "gpt-4o-mini",
            "systemPrompt": "You summarise text as JSON.",
            "prompt": "Summarise: {{inputs.text}}",
            "apiKey": "{{env.OPENAI_API_KEY}}",
            "responseFormat": "json",
            "temperature": 0,
            **config,
        },
    )


async def test_an_llm_step_feeds_the_next_one(llm_harness: Harness, openai: FakeOpenAI):
    h = llm_harness
    openai.script(openai.ok('```json\n{"title": "Cats", "words": 2}\n```'))
    llm = await summariser(h)
    after = await h.agent("after", echo)
    wf = await h.workflow(
        [
            step("ask", agent_id=llm.id),
            step("use", ["ask"], agent_id=after.id, inputs={"title": "{{ask.output.json.title}}"}),
        ]
    )
    execution = await h.run(wf, {"text": "Cats sleep a lot."})

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    runs = await h.runs(execution.id)
    assert runs["ask"].output == {
        "text": '```json\n{"title": "Cats", "words": 2}\n```',
        "json": {"title": "Cats", "words": 2},
        "model": "gpt-4o-mini-2024-07-18",
        "finishReason": "stop",
        "usage": {"promptTokens": 12, "completionTokens": 5, "totalTokens": 17},
    }
    assert runs["use"].output == {"title": "Cats"}
    sent = openai.last
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.json["messages"] == [
        {"role": "system", "content": "You summarise text as JSON."},
        {"role": "user", "content": "Summarise: Cats sleep a lot."},
    ]
    assert sent.json["response_format"] == {"type": "json_object"}
    assert sent.json["temperature"] == 0
    logged = json.dumps([(line.message, line.metadata) for line in await h.logs(execution.id)])
    assert KEY not in logged


async def test_a_refused_key_fails_the_step_once_with_the_providers_message(
    llm_harness: Harness, openai: FakeOpenAI
):
    h = llm_harness
    h.env = {"OPENAI_API_KEY": "sk-wrong-key-999999"}
    llm = await summariser(h)
    wf = await h.workflow([step("ask", agent_id=llm.id, retry_count=3, retry_delay_ms=1)])
    execution = await h.run(wf, {"text": "x"})

    assert execution.status is ExecutionStatus.FAILED
    runs = await h.runs(execution.id)
    assert runs["ask"].status is StepStatus.FAILED
    assert "OpenAI API answered HTTP 401: Incorrect API key provided" in (runs["ask"].error or "")
    assert "sk-wrong-key" not in (execution.error_message or "")
    assert len(openai.requests) == 1  # not retryable: the engine does not try again


async def test_an_answer_that_is_not_json_fails_and_is_retried(
    llm_harness: Harness, openai: FakeOpenAI
):
    h = llm_harness
    openai.script(openai.ok("Sure! The title is Cats."), openai.ok('{"title": "Cats"}'))
    llm = await summariser(h)
    wf = await h.workflow([step("ask", agent_id=llm.id, retry_count=1, retry_delay_ms=1)])
    execution = await h.run(wf, {"text": "x"})

    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    runs = await h.runs(execution.id)
    assert runs["ask"].output["json"] == {"title": "Cats"}
    assert runs["ask"].attempt == 2
    assert len(openai.requests) == 2


async def test_a_base_url_to_an_internal_address_fails_the_step_at_the_guard(
    llm_harness: Harness,
):
    """Issue 11: the step fails with the guard's message alone, and nothing is sent."""
    h = llm_harness
    with FakeOpenAI(api_key=None) as internal:
        internal.script(Scripted(200, FakeOpenAI.completion("internal-secret-answer")))
        llm = await h.agent(
            "local",
            agent_type=AgentType.LLM,
            config={
                "provider": "openai-compatible",
                "baseUrl": f"{internal.url}/v1",
                "model": "llama3.2",
                "prompt": "hi",
            },
        )
        wf = await h.workflow([step("ask", agent_id=llm.id, retry_count=3, retry_delay_ms=1)])
        execution = await h.run(wf)
        assert internal.requests == []
    assert execution.status is ExecutionStatus.FAILED
    run = (await h.runs(execution.id))["ask"]
    assert run.attempt == 1  # not retryable
    assert run.error == (
        "refused: 127.0.0.1 is a loopback address (SSRF guard); set "
        "TURBOCAT_HTTP_ALLOW_PRIVATE=true or list the host in TURBOCAT_HTTP_ALLOWED_HOSTS "
        "to allow it"
    )
