"""A workflow with API steps run by the engine against a real local server: references to
env and inputs, the output shape, a failing status, and the step's own retryOn."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from uuid import uuid4

import pytest

from tests.adapters.http_peer import Peer, running_peer
from tests.core.builders import step
from tests.core.engine.harness import Harness
from turbocat_adapters.http import HttpxClient
from turbocat_adapters.memory import ManualClock
from turbocat_core.agents.api_agent import ApiAgent
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.engine.runner import Engine


@dataclass
class ApiHarness(Harness):
    api: ApiAgent = field(
        default_factory=lambda: ApiAgent(HttpxClient(allow_private=True), ManualClock())
    )

    def make_engine(self) -> Engine:
        executors = AgentExecutors({AgentType.API: self.api, AgentType.DATA: DataAgent()})
        return replace(super().make_engine(), executors=executors)


@pytest.fixture
def peer():
    with running_peer() as running:
        yield running


@pytest.fixture
async def h(peer: Peer):
    harness = ApiHarness(env={"API": peer.url(""), "TOKEN": "tok-secret-1"})
    yield harness
    await harness.queue.close()


async def test_a_workflow_calls_an_api_and_uses_its_answer(h: ApiHarness, peer: Peer):
    post = await h.agent(
        "post",
        agent_type=AgentType.API,
        config={
            "method": "POST",
            "url": "{{env.API}}/echo",
            "auth": {"type": "bearer", "token": "{{env.TOKEN}}"},
            "retry": {"count": 2, "delayMs": 10},
        },
    )
    pick = await h.agent(
        "pick", agent_type=AgentType.DATA, config={"operation": "pick", "fields": ["method"]}
    )
    missing = await h.agent("missing", agent_type=AgentType.API, config={"url": peer.url("/nope")})
    flaky_key = uuid4().hex
    flaky = await h.agent(
        "flaky",
        agent_type=AgentType.API,
        config={"url": f"{{{{env.API}}}}/flaky/{flaky_key}/1/500"},
    )
    wf = await h.workflow(
        [
            step("call", agent_id=post.id, inputs={"body": {"n": "{{inputs.n}}"}}),
            step("use", ["call"], agent_id=pick.id, inputs={"data": "{{call.output.body}}"}),
            step(
                "again",
                agent_id=flaky.id,
                retry_count=1,
                config={"retryOn": ["http_5xx"]},
            ),
        ]
    )
    execution = await h.run(wf, {"n": 5})
    assert execution.status is ExecutionStatus.COMPLETED
    runs = await h.runs(execution.id)
    output = runs["call"].output
    assert output["status"] == 200
    assert set(output) == {"status", "headers", "body", "durationMs"}
    assert output["body"]["body"] == '{"n":5}'
    assert output["body"]["headers"]["authorization"] == "Bearer tok-secret-1"
    assert runs["use"].output == {"method": "POST"}
    assert runs["again"].attempt == 2  # the step's own retry on http_5xx
    assert peer.hits[flaky_key] == 2

    wf = await h.workflow([step("gone", agent_id=missing.id)])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.FAILED
    gone = (await h.runs(execution.id))["gone"]
    assert gone.status is StepStatus.FAILED
    assert gone.error is not None
    assert gone.error.startswith("GET ")  # the base URL is an env value: masked
    assert "/nope answered 404 Not Found" in gone.error
    logs = await h.logs(execution.id)
    assert any(line.metadata.get("errorKind") == "error" for line in logs)
    assert all("tok-secret-1" not in line.message for line in logs)


async def test_the_guard_fails_the_step_without_retries(peer: Peer):
    harness = ApiHarness(api=ApiAgent(HttpxClient(), ManualClock()))
    try:
        agent = await harness.agent(
            "local", agent_type=AgentType.API, config={"url": peer.url("/echo")}
        )
        wf = await harness.workflow([step("call", agent_id=agent.id, retry_count=3)])
        execution = await harness.run(wf)
        run = (await harness.runs(execution.id))["call"]
        assert run.status is StepStatus.FAILED
        assert run.attempt == 1
        assert run.error is not None
        assert run.error.startswith("refused: 127.0.0.1 is a loopback address (SSRF guard)")
    finally:
        await harness.queue.close()
