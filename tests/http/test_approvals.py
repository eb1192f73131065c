"""Tool calls that need a person's approval: the run waits, the owner approves or rejects
over HTTP, another user cannot see the call, a cancel ends the wait (each store)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from tests.fakes.llm_servers import FakeOpenAI
from tests.http.conftest import API
from tests.http.resources import Api, Person, make_api
from tests.http.test_executions_stream import read_stream

REFUND = {
    "type": "object",
    "properties": {"data": {"type": "object", "properties": {"amount": {"type": "number"}}}},
    "required": ["data"],
}


@pytest.fixture(params=["memory", "postgres"])
async def world(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[Api, FakeOpenAI]]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    monkeypatch.setenv("OPENAI_API_KEY", "test-key")
    with FakeOpenAI() as openai:
        async with make_api(request.param, postgres_dsn=dsn, openai_base_url=openai.url) as api:
            yield api, openai


class Run:
    def __init__(self, api: Api, who: Person, execution_id: str) -> None:
        self.api, self.who, self.id = api, who, execution_id

    async def get(self) -> dict[str, Any]:
        answer = await self.api.client.get(f"{API}/executions/{self.id}", headers=self.who.headers)
        assert answer.status_code == 200, answer.text
        return dict(answer.json()["data"])

    async def until(self, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
        for _ in range(1200):  # an upper bound only
            execution = await self.get()
            if done(execution):
                return execution
            await asyncio.sleep(0.05)
        raise AssertionError(f"not there: {execution}")

    async def decide(self, call_id: str, by: Person, **body: Any) -> Any:
        return await self.api.client.post(
            f"{API}/executions/{self.id}/approvals/{call_id}", json=body, headers=by.headers
        )


async def start(api: Api, openai: FakeOpenAI, ada: Person) -> tuple[Run, str]:
    """A run whose model asks for the refund tool (approval required); the refund agent."""

    async def agent(body: dict) -> str:
        created = await api.client.post(f"{API}/agents", json=body, headers=ada.headers)
        assert created.status_code == 201, created.text
        return str(created.json()["data"]["id"])

    refund = await agent(
        {
            "name": "refund",
            "type": "DATA",
            "config": {"operation": "pick", "fields": ["amount"]},
            "parameters": REFUND,
        }
    )
    ask = await agent(
        {
            "name": "support",
            "type": "LLM",
            "config": {
                "provider": "openai",
                "model": "gpt-4o-mini",
                "prompt": "Refund order 7.",
                "tools": [{"agentId": refund, "requiresApproval": True}],
            },
        }
    )
    openai.script(openai.tool_calls(("refund", {"data": {"amount": 30}})), openai.ok("Done."))
    body = {"name": "support", "status": "ACTIVE", "steps": [{"stepKey": "ask", "agentId": ask}]}
    created = await api.client.post(f"{API}/workflows", json=body, headers=ada.headers)
    workflow_id = created.json()["data"]["id"]
    started = await api.client.post(
        f"{API}/workflows/{workflow_id}/execute", json={"inputs": {}}, headers=ada.headers
    )
    run = Run(api, ada, started.json()["data"]["id"])
    waiting = await run.until(lambda e: bool(e["pendingApprovals"]))
    (pending,) = waiting["pendingApprovals"]
    assert pending["tool"] == "refund"
    assert pending["arguments"] == {"data": {"amount": 30}}
    assert pending["stepKey"] == "ask"
    assert pending["status"] == "PENDING"
    return run, refund


async def runs_of(api: Api, who: Person, agent_id: str) -> int:
    found = await api.client.get(f"{API}/agents/{agent_id}", headers=who.headers)
    return int(found.json()["data"]["totalExecutions"])


async def test_an_approved_call_runs_and_the_model_gets_its_result(world):
    api, openai = world
    ada = await api.user()
    bob = await api.user("bob@example.com")
    run, refund = await start(api, openai, ada)
    call_id = (await run.get())["pendingApprovals"][0]["callId"]
    assert len(openai.requests) == 1

    stranger = await run.decide(call_id, bob, approve=True)
    assert stranger.status_code == 404, stranger.text
    unknown = await run.decide("call_nope", ada, approve=True)
    assert unknown.status_code == 404
    bad = await run.decide(call_id, ada, approve="yes")
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "VALIDATION_ERROR"

    decided = await run.decide(call_id, ada, approve=True, comment="fine")
    assert decided.status_code == 200, decided.text
    assert decided.json()["data"]["status"] == "APPROVED"
    again = await run.decide(call_id, ada, approve=False)
    assert again.status_code in (404, 409)  # decided (or the run already finished)

    done = await run.until(lambda e: e["status"] not in ("PENDING", "RUNNING"))
    assert done["status"] == "COMPLETED", done
    assert done["pendingApprovals"] == []
    output = done["outputData"]["ask"]
    assert output["text"] == "Done."
    assert output["approvals"][0]["status"] == "APPROVED"
    result = openai.requests[1].json["messages"][-1]
    assert result == {"role": "tool", "tool_call_id": call_id, "content": '{"amount":30}'}
    assert await runs_of(api, ada, refund) == 1
    logs = await api.client.get(f"{API}/executions/{run.id}/logs?pageSize=100", headers=ada.headers)
    lines = [line["message"] for line in logs.json()["data"]]
    assert any(line.startswith("turn 1: waiting for approval of refund") for line in lines)
    assert f"tool call {call_id} (refund) approved" in lines
    events = await read_stream(api, ada, run.id)
    announced = [
        event["data"]["metadata"]["approvals"]
        for event in events
        if event.get("event") == "log" and "approvals" in event["data"]["metadata"]
    ]
    assert [[item["callId"] for item in calls] for calls in announced] == [[call_id]]


async def test_a_rejected_call_goes_back_to_the_model_and_never_runs(world):
    api, openai = world
    ada = await api.user()
    run, refund = await start(api, openai, ada)
    call_id = (await run.get())["pendingApprovals"][0]["callId"]

    decided = await run.decide(call_id, ada, approve=False, comment="over the limit")
    assert decided.status_code == 200, decided.text

    done = await run.until(lambda e: e["status"] not in ("PENDING", "RUNNING"))
    assert done["status"] == "COMPLETED", done
    result = openai.requests[1].json["messages"][-1]
    assert result["content"] == "rejected: the user did not approve this call: over the limit"
    assert await runs_of(api, ada, refund) == 0


async def test_cancelling_a_run_that_waits_for_an_approval(world):
    api, openai = world
    ada = await api.user()
    run, refund = await start(api, openai, ada)
    call_id = (await run.get())["pendingApprovals"][0]["callId"]

    cancelled = await api.client.post(f"{API}/executions/{run.id}/cancel", headers=ada.headers)
    assert cancelled.status_code == 200, cancelled.text
    done = await run.until(
        lambda e: e["status"] == "CANCELLED" and e["stepRuns"][0]["status"] != "RUNNING"
    )
    assert done["pendingApprovals"] == []
    late = await run.decide(call_id, ada, approve=True)
    assert late.status_code == 404
    assert await runs_of(api, ada, refund) == 0
    assert len(openai.requests) == 1
