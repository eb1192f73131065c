"""One workflow through every kind of agent, over HTTP: API -> DATA -> LLM -> CODE, against a
real HTTP server and a fake OpenAI that answers in OpenAI's own format, on each store."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tests.adapters.http_peer import running_peer
from tests.fakes.llm_servers import FakeOpenAI
from tests.http.conftest import API
from tests.http.resources import Api, make_api


@pytest.fixture(params=["memory", "postgres"])
async def world(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Api, str, FakeOpenAI]]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")  # the server's own key
    with running_peer() as peer, FakeOpenAI() as openai:
        async with make_api(
            request.param,
            postgres_dsn=dsn,
            http_allowed_hosts=("127.0.0.1",),  # the SSRF guard stays on for everything else
            openai_base_url=openai.url,
        ) as api:
            yield api, peer.url("/echo"), openai


async def test_api_data_llm_and_code_agents_chain_through_http(world):
    api, echo_url, openai = world
    ada = await api.user()

    async def agent(name: str, kind: str, config: dict) -> str:
        body = {"name": name, "type": kind, "config": config}
        created = await api.client.post(f"{API}/agents", json=body, headers=ada.headers)
        assert created.status_code == 201, created.text
        return str(created.json()["data"]["id"])

    fetch = await agent("fetch", "API", {"method": "GET", "url": echo_url})
    shape = await agent("shape", "DATA", {"operation": "pick", "fields": ["query"]})
    describe = await agent(
        "describe",
        "LLM",
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "systemPrompt": "You describe cities in one word.",
            "prompt": "Describe {{shape.output.query.city}}.",
            "maxTokens": 20,
        },
    )
    count = await agent(
        "count",
        "CODE",
        {
            "runtime": "python",
            "code": "result = {'city': inputs['city'], 'words': len(inputs['text'].split())}",
            "timeoutSeconds": 10,
        },
    )
    steps = [
        {"stepKey": "fetch", "agentId": fetch, "inputs": {"query": {"city": "{{inputs.city}}"}}},
        {
            "stepKey": "shape",
            "agentId": shape,
            "inputs": {"data": "{{fetch.output.body}}"},
            "dependsOn": ["fetch"],
        },
        {"stepKey": "describe", "agentId": describe, "dependsOn": ["shape"]},
        {
            "stepKey": "count",
            "agentId": count,
            "inputs": {
                "text": "{{describe.output.text}}",
                "city": "{{shape.output.query.city}}",
            },
            "dependsOn": ["describe"],
        },
    ]
    workflow = await api.client.post(
        f"{API}/workflows",
        json={"name": "tour", "status": "ACTIVE", "steps": steps},
        headers=ada.headers,
    )
    assert workflow.status_code == 201, workflow.text
    workflow_id = workflow.json()["data"]["id"]
    started = await api.client.post(
        f"{API}/workflows/{workflow_id}/execute",
        json={"inputs": {"city": "Paris"}},
        headers=ada.headers,
    )
    assert started.status_code == 202, started.text
    execution_id = started.json()["data"]["id"]
    for _ in range(300):
        execution = (
            await api.client.get(f"{API}/executions/{execution_id}", headers=ada.headers)
        ).json()["data"]
        if execution["status"] not in ("PENDING", "RUNNING"):
            break
        await asyncio.sleep(0.05)
    assert execution["status"] == "COMPLETED", execution
    output = execution["outputData"]
    assert output["fetch"]["status"] == 200
    assert output["fetch"]["body"]["query"] == {"city": "Paris"}
    assert output["shape"] == {"query": {"city": "Paris"}}
    assert output["describe"]["text"] == "Hello!"
    assert output["describe"]["usage"]["totalTokens"] > 0
    assert output["count"]["result"] == {"city": "Paris", "words": 1}
    assert output["count"]["exitCode"] == 0
    # The model was asked in OpenAI's format, with the DATA step's answer in the prompt.
    (request,) = openai.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer test-key"
    messages = request.json["messages"]
    assert messages[-1] == {"role": "user", "content": "Describe Paris."}
    # Every agent was counted once.
    for agent_id in (fetch, shape, describe, count):
        found = await api.client.get(f"{API}/agents/{agent_id}", headers=ada.headers)
        assert found.json()["data"]["totalExecutions"] == 1
