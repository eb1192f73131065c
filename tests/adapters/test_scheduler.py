"""The in-process scheduler: every tick fired once per deployment, late ticks caught up
within the window, older ones skipped with a log line, a failed read retried."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import pytest

from tests.core.builders import step
from tests.core.engine.harness import T0, Harness
from turbocat_adapters.crypto import AesGcmSecretBox
from turbocat_adapters.memory import MemoryStore
from turbocat_adapters.scheduler import Scheduler
from turbocat_adapters.system import SystemClock
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.common import DeploymentId, ExecutionId, ListQuery, utc_text
from turbocat_core.domain.execution import EXECUTION_QUERY, Execution, TriggerType
from turbocat_core.errors import ExternalServiceError
from turbocat_core.usecases.deployment_lifecycle import StartDeployment
from turbocat_core.usecases.deployments import CreateDeployment
from turbocat_core.usecases.executions import StartExecution
from turbocat_core.usecases.scheduling import FireDueSchedules


class RecordingQueue:
    """Queues nothing: the executions stay PENDING (their runs are not under test)."""

    def __init__(self) -> None:
        self.queued: list[ExecutionId] = []

    async def enqueue_execution(self, execution_id: ExecutionId, *, at: datetime | None = None):
        self.queued.append(execution_id)


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()  # its owner's row made
    yield harness
    await harness.queue.close()


async def scheduled(h: Harness, cron: str) -> DeploymentId:
    agent = await h.agent("d", agent_type=AgentType.DATA, config={"operation": "unique"})
    workflow = await h.workflow(
        [step("a", agent_id=agent.id, inputs={"data": [1]})],
        schedule_enabled=True,
        schedule_cron=cron,
    )
    ports = {"uow": h.store.unit_of_work, "clock": h.clock, "ids": h.ids}
    deployment, _ = await CreateDeployment(
        **ports, random=h.random, secrets=AesGcmSecretBox(bytes(32))
    )(h.actor, name="scheduled", workflow_id=workflow.id)
    await StartDeployment(**ports)(h.actor, deployment.id)
    return deployment.id


def scheduler(h: Harness, clock=None, queue=None) -> tuple[Scheduler, RecordingQueue]:
    queue = queue or RecordingQueue()
    clock = clock or h.clock
    start = StartExecution(uow=h.store.unit_of_work, clock=clock, ids=h.ids, queue=queue)
    fire = FireDueSchedules(uow=h.store.unit_of_work, clock=clock, ids=h.ids, start=start)
    return Scheduler(fire, clock), queue


async def executions(store: MemoryStore) -> list[Execution]:
    async with store.unit_of_work() as uow:
        page = await uow.executions.list(
            ListQuery.build(EXECUTION_QUERY, page_size=100, sort_order="asc")
        )
    return page.items


def scheduled_for(runs: list[Execution]) -> list[str]:
    return sorted(run.trigger_data["scheduledFor"] for run in runs)


async def test_each_tick_fires_once_however_the_rounds_fall(h: Harness):
    first, second = await scheduled(h, "*/1 * * * * *"), await scheduled(h, "*/2 * * * * *")
    sched, queue = scheduler(h)
    assert await sched.run_once() is None  # the first round only sets where time starts
    start = h.clock.now()
    for step_seconds in (0.4, 0.4, 0.4, 1.7, 0.0, 0.1, 3.0):
        h.clock.advance(step_seconds)
        await sched.run_once()
    end = h.clock.now()
    runs = await executions(h.store)
    per_second = [r for r in runs if r.deployment_id == first]
    every_two = [r for r in runs if r.deployment_id == second]
    seconds = range(int(start.timestamp()) + 1, int(end.timestamp()) + 1)
    assert scheduled_for(per_second) == [
        utc_text(datetime.fromtimestamp(s, T0.tzinfo)) for s in seconds
    ]
    assert scheduled_for(every_two) == [
        utc_text(datetime.fromtimestamp(s, T0.tzinfo)) for s in seconds if s % 2 == 0
    ]
    assert all(r.trigger_type is TriggerType.SCHEDULED for r in runs)
    assert sorted(queue.queued) == sorted(r.id for r in runs)
    assert sched.handled_until == end


async def test_ticks_before_the_scheduler_started_never_fire(h: Harness):
    await scheduled(h, "*/1 * * * * *")
    h.clock.advance(30)
    sched, _ = scheduler(h)
    await sched.run_once()
    h.clock.advance(1)
    await sched.run_once()
    assert len(await executions(h.store)) == 1


async def test_late_ticks_within_the_window_catch_up_older_ones_are_skipped(h: Harness, caplog):
    deployment_id = await scheduled(h, "*/30 * * * * *")
    sched, _ = scheduler(h)
    await sched.run_once()
    h.clock.advance(600)  # the process stalled for ten minutes
    with caplog.at_level(logging.WARNING, logger="turbocat.scheduler"):
        result = await sched.run_once()
    assert result is not None
    assert len(result.skipped) == 9 and len(result.fired) == 11
    assert len(await executions(h.store)) == 11
    assert f"skipped 9 missed tick(s) of deployment {deployment_id}" in caplog.text


async def test_a_failed_read_is_retried_without_losing_ticks(h: Harness, caplog):
    await scheduled(h, "*/1 * * * * *")
    inner = scheduler(h)[0]._fire

    class Flaky:
        """The store cannot be read the first time."""

        catch_up = inner.catch_up
        calls = 0

        async def targets(self):
            self.calls += 1
            if self.calls == 1:
                raise ExternalServiceError("database down", service="postgres")
            return await inner.targets()

        async def fire(self, *args, **kwargs):
            return await inner.fire(*args, **kwargs)

    sched = Scheduler(Flaky(), h.clock)
    await sched.run_once()
    before = sched.handled_until
    h.clock.advance(2)
    with caplog.at_level(logging.ERROR, logger="turbocat.scheduler"):
        assert await sched.run_once() is None
    assert sched.handled_until == before and "will try again" in caplog.text
    h.clock.advance(1)
    await sched.run_once()
    assert len(await executions(h.store)) == 3


async def test_a_bad_schedule_is_logged_once(h: Harness, caplog):
    deployment_id = await scheduled(h, "*/1 * * * * *")
    async with h.store.unit_of_work() as uow:
        deployment = await uow.deployments.get(deployment_id)
        assert deployment is not None and deployment.workflow_id is not None
        workflow = await uow.workflows.get(deployment.workflow_id)
        assert workflow is not None
        await uow.workflows.update(dataclasses.replace(workflow, schedule_cron="61 * * * *"))
        await uow.commit()
    sched, _ = scheduler(h)
    await sched.run_once()
    with caplog.at_level(logging.ERROR, logger="turbocat.scheduler"):
        for _ in range(3):
            h.clock.advance(1)
            await sched.run_once()
    assert caplog.text.count("has a bad schedule") == 1
    assert await executions(h.store) == []


async def test_the_loop_runs_in_real_time_until_stopped(h: Harness):
    await scheduled(h, "*/1 * * * * *")
    sched, _ = scheduler(h, clock=SystemClock())
    async with sched.running():
        assert sched.running_now
        sched.start()  # idempotent
        await asyncio.sleep(1.3)
    assert not sched.running_now
    runs = await executions(h.store)
    assert 1 <= len(runs) <= 2
    assert len(set(scheduled_for(runs))) == len(runs)
    await sched.stop()  # stopping twice is harmless
    assert timedelta(0) <= datetime.now(T0.tzinfo) - sched.handled_until < timedelta(seconds=3)
