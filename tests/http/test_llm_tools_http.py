"""An LLM agent with tools over HTTP, on each store: an API agent as the model's tool (through
the SSRF guard, as a step's would be), and the error envelope for a bad ``tools`` config."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from tests.adapters.http_peer import running_peer
from tests.fakes.llm_servers import FakeOpenAI
from tests.http.conftest import API
from tests.http.resources import Api, make_api
from tests.http.test_executions_stream import read_stream

QUERY = {
    "type": "object",
    "properties": {
        "query": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        }
    },
    "required": ["query"],
}


@pytest.fixture(params=["memory", "postgres"])
async def world(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Api, str, FakeOpenAI]]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with running_peer() as peer, FakeOpenAI() as openai:
        async with make_api(
            request.param,
            postgres_dsn=dsn,
            http_allowed_hosts=("127.0.0.1",),
            openai_base_url=openai.url,
        ) as api:
            yield api, peer.url("/echo"), openai


async def test_a_model_calls_an_api_agent_as_its_tool(world):
    api, echo_url, openai = world
    ada = await api.user()

    async def agent(body: dict) -> str:
        created = await api.client.post(f"{API}/agents", json=body, headers=ada.headers)
        assert created.status_code == 201, created.text
        return str(created.json()["data"]["id"])

    fetch = await agent(
        {"name": "city echo", "type": "API", "config": {"url": echo_url}, "parameters": QUERY}
    )
    ask = await agent(
        {
            "name": "ask",
            "type": "LLM",
            "config": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "prompt": "Look up Paris.",
                "tools": [{"agentId": fetch, "description": "Echoes a query"}],
            },
        }
    )
    openai.script(
        openai.tool_calls(("city_echo", {"query": {"city": "Paris"}})),
        openai.ok("Paris echoed."),
    )
    body = {"name": "tools", "status": "ACTIVE", "steps": [{"stepKey": "ask", "agentId": ask}]}
    created = await api.client.post(f"{API}/workflows", json=body, headers=ada.headers)
    workflow_id = created.json()["data"]["id"]
    started = await api.client.post(
        f"{API}/workflows/{workflow_id}/execute", json={"inputs": {}}, headers=ada.headers
    )
    execution_id = started.json()["data"]["id"]
    for _ in range(600):
        execution = (
            await api.client.get(f"{API}/executions/{execution_id}", headers=ada.headers)
        ).json()["data"]
        if execution["status"] not in ("PENDING", "RUNNING"):
            break
        await asyncio.sleep(0.05)
    assert execution["status"] == "COMPLETED", execution
    output = execution["outputData"]["ask"]
    assert output["text"] == "Paris echoed."
    result = json.loads(output["transcript"][1]["content"])
    assert result["status"] == 200
    assert result["body"]["query"] == {"city": "Paris"}
    sent = openai.requests[0].json["tools"][0]["function"]
    assert sent == {"name": "city_echo", "description": "Echoes a query", "parameters": QUERY}
    found = await api.client.get(f"{API}/agents/{fetch}", headers=ada.headers)
    assert found.json()["data"]["totalExecutions"] == 1


async def test_a_bad_tools_config_is_a_validation_error(world):
    api, _, _ = world
    ada = await api.user()
    body = {
        "name": "ask",
        "type": "LLM",
        "config": {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "prompt": "hi",
            "tools": [{"agentId": "not-an-id", "parameters": {"type": "object", "required": 1}}],
            "maxTurns": 0,
        },
    }
    answer = await api.client.post(f"{API}/agents", json=body, headers=ada.headers)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert error["code"] == "VALIDATION_ERROR"
    fields = [detail["field"] for detail in error["details"]]
    assert fields == ["config.maxTurns", "config.tools.0.agentId"]
    body["config"] = {**body["config"], "maxTurns": 3, "tools": [{"agentId": ask_id()}]}
    body["config"]["tools"][0]["parameters"] = {"type": "object", "required": 1}
    answer = await api.client.post(f"{API}/agents", json=body, headers=ada.headers)
    assert answer.status_code == 400, answer.text
    (detail,) = answer.json()["error"]["details"]
    assert detail["field"] == "config.tools.0.parameters"
    assert detail["message"].startswith("not a valid JSON Schema")


def ask_id() -> str:
    return "0190b3a4-7c1e-7000-8000-0000000000aa"


async def test_a_streamed_answer_comes_as_token_events(world):
    api, _, openai = world
    ada = await api.user()
    body = {
        "name": "talk",
        "type": "LLM",
        "config": {"provider": "openai", "model": "gpt-4o-mini", "prompt": "hi", "stream": True},
    }
    agent = (await api.client.post(f"{API}/agents", json=body, headers=ada.headers)).json()
    answer = "Streaming answers arrive piece by piece, and the stream shows each batch of them."
    openai.script(openai.ok(answer))
    workflow = {
        "name": "talk",
        "status": "ACTIVE",
        "steps": [{"stepKey": "talk", "agentId": agent["data"]["id"]}],
    }
    created = await api.client.post(f"{API}/workflows", json=workflow, headers=ada.headers)
    started = await api.client.post(
        f"{API}/workflows/{created.json()['data']['id']}/execute",
        json={"inputs": {}},
        headers=ada.headers,
    )
    events = await read_stream(api, ada, started.json()["data"]["id"])
    tokens = [event["data"]["message"] for event in events if event.get("event") == "token"]
    assert "".join(tokens) == answer
    assert len(tokens) >= 2
    assert events[-1]["event"] == "status"
    assert events[-1]["data"]["status"] == "COMPLETED"
