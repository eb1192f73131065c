"""``GET /executions/{id}/stream``: Server-Sent Events of log lines and status changes until
the run ends; late connects replay what they missed; ``Last-Event-ID`` resumes."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from typing import Any

import pytest
from litestar.response import ServerSentEventMessage

from tests.core import builders
from tests.core.engine.harness import T0, Harness
from tests.core.test_workflows import Parked
from tests.http.conftest import assert_error, raw_request
from tests.http.resources import API_STORES, Api, Person
from tests.http.test_workflows_support import (
    EXECUTIONS,
    add_agent,
    create_workflow,
    execute,
    in_app_loop,
    open_flows,
    step,
    wait_step,
    wait_until,
)
from turbocat_core.domain.execution import ExecutionStatus, LogLevel
from turbocat_core.domain.workflow import StepType
from turbocat_core.engine.events import LogBroadcast
from turbocat_core.usecases.executions import (
    Progress,
    StartExecution,
    WatchExecution,
    log_line,
)
from turbocat_http.executions.stream import ExecutionStream


@pytest.fixture(params=API_STORES)
async def flows(request: pytest.FixtureRequest) -> Any:
    async with open_flows(request) as api:
        yield api


def parse_events(text: str) -> list[dict[str, Any]]:
    """SSE text as events ``{"event", "id"?, "data"}`` (comments dropped, data as JSON)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event: dict[str, Any] = {}
        data: list[str] = []
        for line in block.split("\n"):
            name, _, value = line.partition(": ")
            if name == "data":
                data.append(value)
            elif name in ("event", "id"):
                event[name] = value
        if data:
            event["data"] = json.loads("\n".join(data))
            events.append(event)
    return events


async def read_stream(
    api: Api, who: Person, execution_id: str, headers: dict[str, str] | None = None, **params: Any
) -> list[dict[str, Any]]:
    async with api.client.stream(
        "GET",
        f"{EXECUTIONS}/{execution_id}/stream",
        headers={**who.headers, **(headers or {})},
        params=params,
    ) as response:
        assert response.status_code == 200, await response.aread()
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        text = "".join([chunk async for chunk in response.aiter_text()])
    return parse_events(text)


async def _two_steps(api: Api, owner: Person, wait_ms: int = 200) -> dict[str, Any]:
    agent = add_agent(api, owner)
    return await create_workflow(
        api,
        owner,
        [
            wait_step("nap", wait_ms),
            step("pick", agent, dependsOn=["nap"], inputs={"data": {"a": 1, "b": 2}}),
        ],
    )


async def test_a_live_stream_sends_logs_then_the_final_status(flows):
    ada = await flows.user()
    workflow = await _two_steps(flows, ada)
    started = await execute(flows, ada, workflow["id"])
    began = time.monotonic()
    events = await read_stream(flows, ada, started["id"])
    assert time.monotonic() - began < 3.0
    statuses = [event["data"]["status"] for event in events if event["event"] == "status"]
    assert statuses[0] in ("PENDING", "RUNNING")  # it connected while the run was going on
    assert statuses[-1] == "COMPLETED" and events[-1]["event"] == "status"
    assert len(statuses) == len(set(statuses))  # one event per change
    assert events[-1]["data"]["outputData"] == {
        "nap": events[-1]["data"]["outputData"]["nap"],
        "pick": {"a": 1},
    }
    assert "steps" not in events[-1]["data"]
    logs = [event for event in events if event["event"] == "log"]
    assert [int(event["id"]) for event in logs] == list(range(1, len(logs) + 1))
    assert all(int(event["id"]) == event["data"]["seq"] for event in logs)
    assert ("pick", "COMPLETED") in [(e["data"]["stepKey"], e["data"]["stepStatus"]) for e in logs]
    assert logs[-1]["data"]["message"].startswith("execution completed")
    everything = await flows.client.get(
        f"{EXECUTIONS}/{started['id']}/logs", params={"pageSize": 100}, headers=ada.headers
    )
    assert [e["data"] for e in logs] == everything.json()["data"]


async def test_a_late_connect_replays_everything_and_last_event_id_resumes(flows):
    ada = await flows.user()
    workflow = await _two_steps(flows, ada, wait_ms=1)
    done = await wait_until(flows, ada, (await execute(flows, ada, workflow["id"]))["id"])
    events = await read_stream(flows, ada, done["id"])
    logs = [int(e["id"]) for e in events if e["event"] == "log"]
    assert logs == list(range(1, len(logs) + 1)) and len(logs) >= 7
    assert [e["event"] for e in events].count("status") == 1
    assert events[-1]["data"]["status"] == "COMPLETED"

    resumed = await read_stream(flows, ada, done["id"], {"Last-Event-ID": "4"})
    assert [int(e["id"]) for e in resumed if e["event"] == "log"] == logs[4:]
    by_query = await read_stream(flows, ada, done["id"], afterSeq=len(logs))
    assert [e["event"] for e in by_query] == ["status"]
    bad = await flows.client.get(
        f"{EXECUTIONS}/{done['id']}/stream", headers={**ada.headers, "Last-Event-ID": "x1"}
    )
    error = assert_error(bad, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "Last-Event-ID"


async def test_the_stream_of_a_cancelled_run_ends_with_its_interrupted_steps(flows):
    ada = await flows.user()
    workflow = await _two_steps(flows, ada, wait_ms=5000)
    started = await execute(flows, ada, workflow["id"])
    await wait_until(flows, ada, started["id"], {"RUNNING"}, step_status=("nap", "RUNNING"))
    cancelled = await flows.client.post(f"{EXECUTIONS}/{started['id']}/cancel", headers=ada.headers)
    assert cancelled.status_code == 200
    events = await read_stream(flows, ada, started["id"])
    assert events[-1]["event"] == "status" and events[-1]["data"]["status"] == "CANCELLED"
    steps = {
        e["data"]["stepKey"]: e["data"]["stepStatus"]
        for e in events
        if e["event"] == "log" and e["data"]["stepKey"]
    }
    assert steps == {"nap": "FAILED", "pick": "SKIPPED"}


async def test_the_stream_stops_when_the_client_goes_away(request):
    async with open_flows(request, "memory") as flows:  # one store: this is about HTTP
        await _client_goes_away(flows)


async def _client_goes_away(flows: Api) -> None:
    ada = await flows.user()
    workflow = await _two_steps(flows, ada, wait_ms=3000)
    started = await execute(flows, ada, workflow["id"])
    broadcast = flows.container.logs()
    listening = len(broadcast._listeners)
    began = time.monotonic()
    # The raw exchange says "disconnected" as soon as the request has been read.
    response = in_app_loop(
        flows,
        functools.partial(
            raw_request,
            flows.client.app,
            "GET",
            f"{EXECUTIONS}/{started['id']}/stream",
            headers=[(b"authorization", ada.headers["Authorization"].encode())],
        ),
    )
    assert response.status == 200
    assert time.monotonic() - began < 1.0
    assert len(broadcast._listeners) == listening
    status = await flows.client.get(f"{EXECUTIONS}/{started['id']}", headers=ada.headers)
    assert status.json()["data"]["status"] == "RUNNING"


# -- the stream's loop, without HTTP: another process runs the execution ------------------


class CountingWatch:
    """A ``WatchExecution`` that counts its looks (a busy loop would look thousands of times)."""

    def __init__(self, watch: WatchExecution) -> None:
        self.watch = watch
        self.looks = 0

    async def __call__(self, *args: Any, **kwargs: Any) -> Progress:
        self.looks += 1
        return await self.watch(*args, **kwargs)


async def _collect(stream: ExecutionStream) -> list[ServerSentEventMessage]:
    return [event async for event in stream.events()]


async def _parked_execution(h: Harness, *keys: str) -> Any:
    workflow = await h.workflow(
        [builders.step(key, step_type=StepType.WAIT, config={"durationMs": 1}) for key in keys]
    )
    start = StartExecution(uow=h.store.unit_of_work, clock=h.clock, ids=h.ids, queue=Parked())
    return await start(h.actor, workflow.id)


async def test_with_nothing_to_wake_it_the_stream_polls_the_store():
    h = Harness()
    execution = await _parked_execution(h, "a")
    watch = CountingWatch(WatchExecution(uow=h.store.unit_of_work))

    async def elsewhere() -> None:  # a runner in another process: no broadcast here
        for n in range(3):
            await asyncio.sleep(0.05)
            async with h.store.unit_of_work() as uow:
                await uow.logs.append(
                    [log_line(h.ids, h.clock, execution.id, LogLevel.INFO, f"line {n}")]
                )
                await uow.commit()
        async with h.store.unit_of_work() as uow:
            running = execution.moved_to(ExecutionStatus.RUNNING, T0)
            await uow.executions.update(running.moved_to(ExecutionStatus.COMPLETED, T0))
            await uow.commit()

    first = await watch(h.actor, execution.id)
    stream = ExecutionStream(
        watch=watch,  # type: ignore[arg-type]
        broadcast=LogBroadcast(),
        actor=h.actor,
        execution_id=execution.id,
        cursor=0,
        first=first,
        poll_seconds=0.02,
    )
    writer = asyncio.create_task(elsewhere())
    events = await asyncio.wait_for(_collect(stream), 5)
    await writer
    logs = [e for e in events if e.event == "log"]
    assert [e.id for e in logs] == [1, 2, 3, 4]
    assert [json.loads(e.data)["status"] for e in events if e.event == "status"] == [
        "PENDING",
        "COMPLETED",
    ]
    assert events[-1].event == "status"
    assert watch.looks < 40  # about one look per poll interval, not a busy loop


async def test_a_cancelled_run_whose_runner_is_gone_still_ends_the_stream():
    h = Harness()
    execution = await _parked_execution(h, "a")
    async with h.store.unit_of_work() as uow:
        running = execution.moved_to(ExecutionStatus.RUNNING, T0)
        await uow.executions.update(running.moved_to(ExecutionStatus.CANCELLED, T0))
        await uow.commit()
    watch = WatchExecution(uow=h.store.unit_of_work)
    first = await watch(h.actor, execution.id)
    assert first.settled is False  # step "a" was never recorded: a runner could still write
    stream = ExecutionStream(
        watch=watch,
        broadcast=LogBroadcast(),
        actor=h.actor,
        execution_id=execution.id,
        cursor=0,
        first=first,
        poll_seconds=0.02,
        settle_seconds=0.1,
    )
    began = time.monotonic()
    events = await asyncio.wait_for(_collect(stream), 5)
    assert 0.1 <= time.monotonic() - began < 1.0
    assert events[-1].event == "status"
    assert json.loads(events[-1].data)["status"] == "CANCELLED"
