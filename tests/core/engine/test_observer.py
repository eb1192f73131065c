"""The engine's observer port (``engine.observer``): what it is told, in order, with the
begin/end pairs a tracer relies on (each attempt ended once, each processing ended once)."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from tests.core.engine.test_failures import flaky
from turbocat_adapters.memory import InProcessQueue
from turbocat_core.domain.execution import Execution, ExecutionStatus
from turbocat_core.engine.observer import RunObserver


class Recorder:
    """A RunObserver writing down every call (a tracer would open and close spans)."""

    def __init__(self) -> None:
        self.events: list[tuple[Any, ...]] = []

    def processing(self, execution: Execution) -> Recorder:
        self.events.append(("processing", execution.status.value))
        return self

    def started(self, execution: Execution) -> None:
        self.events.append(("started", execution.trigger_type.value))

    def resumed(self, execution: Execution, *, after_wait: bool) -> None:
        self.events.append(("resumed", after_wait))

    def attempt(self, step_key: str, step_type: str, agent_type: str | None, attempt: int) -> Any:
        self.events.append(("attempt", step_key, step_type, agent_type, attempt))
        recorder = self

        class Ending:
            def ended(self, outcome: str, error_kind: str | None = None) -> None:
                recorder.events.append(("attempt ended", step_key, outcome, error_kind))

        return Ending()

    def retry_scheduled(self, step_key: str, attempt: int, delay_ms: float) -> None:
        self.events.append(("retry", step_key, attempt))

    def parked(self, until: datetime) -> None:
        self.events.append(("parked",))

    def finished(self, execution: Execution) -> None:
        self.events.append(("finished", execution.status.value))

    def ended(self, error: BaseException | None = None) -> None:
        self.events.append(("ended", type(error).__name__ if error else None))


def observed(h: Harness) -> Recorder:
    recorder = Recorder()
    port: RunObserver = recorder
    h.engine = dataclasses.replace(h.engine, observer=port)
    h.queue = InProcessQueue(runner=h.engine.run, clock=h.clock)  # runs the observed engine
    return recorder


async def test_a_run_with_a_retry_is_told_in_order(h: Harness):
    recorder = observed(h)
    agent, other = await h.agent("flaky", flaky(1)), await h.agent("echo", echo)
    wf = await h.workflow(
        [
            step("a", agent_id=agent.id, retry_count=1, retry_delay_ms=10),
            step("b", ["a"], agent_id=other.id),
        ]
    )
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.COMPLETED
    assert recorder.events == [
        ("processing", "PENDING"),
        ("started", "MANUAL"),
        ("attempt", "a", "AGENT", "CODE", 1),
        ("attempt ended", "a", "retried", "network"),
        ("retry", "a", 1),
        ("attempt", "a", "AGENT", "CODE", 2),
        ("attempt ended", "a", "completed", None),
        ("attempt", "b", "AGENT", "CODE", 1),
        ("attempt ended", "b", "completed", None),
        ("finished", "COMPLETED"),
        ("ended", None),
    ]


async def test_a_cancel_ends_the_attempt_in_flight_as_interrupted(h: Harness):
    recorder = observed(h)

    async def slow(config, inputs, ctx):
        await asyncio.sleep(30)

    agent = await h.agent("slow", slow)
    wf = await h.workflow([step("a", agent_id=agent.id)])
    execution = await h.start(h.actor, wf.id)
    while not h.scripted.calls:
        await asyncio.sleep(0.001)
    await h.cancel(h.actor, execution.id)
    await h.queue.drain()
    assert ("attempt ended", "a", "interrupted", None) in recorder.events
    assert recorder.events[-1] == ("ended", None)
    assert sum(1 for event in recorder.events if event[0] == "attempt ended") == 1
