"""The in-process job queue and cancellation signals."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from turbocat_adapters.memory import InProcessCancellation, InProcessQueue, ManualClock
from turbocat_core.domain.common import ExecutionId

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def new_id() -> ExecutionId:
    return ExecutionId(uuid4())


class Recorder:
    def __init__(self, clock: ManualClock) -> None:
        self.clock = clock
        self.ran: list[tuple[ExecutionId, datetime]] = []

    async def __call__(self, execution_id: ExecutionId) -> None:
        self.ran.append((execution_id, self.clock.now()))


async def test_a_job_runs_now_as_a_task():
    clock = ManualClock(T0)
    runner = Recorder(clock)
    queue = InProcessQueue(runner, clock)
    job = new_id()
    await queue.enqueue_execution(job)
    assert queue.pending == 1  # the queue holds the task
    await queue.drain()
    assert runner.ran == [(job, T0)]
    assert queue.pending == 0
    assert clock.sleeps == []


async def test_a_job_for_later_sleeps_on_the_clock_first():
    clock = ManualClock(T0)
    runner = Recorder(clock)
    queue = InProcessQueue(runner, clock)
    later, past = new_id(), new_id()
    await queue.enqueue_execution(past, at=T0 - timedelta(seconds=5))
    await queue.drain()
    assert clock.sleeps == []  # due already: runs now
    await queue.enqueue_execution(later, at=T0 + timedelta(seconds=30))
    await queue.drain()
    assert clock.sleeps == [30]
    assert runner.ran == [(past, T0), (later, T0 + timedelta(seconds=30))]


async def test_drain_waits_for_jobs_that_jobs_enqueue():
    clock = ManualClock(T0)
    seen: list[ExecutionId] = []
    follow_up = new_id()

    async def runner(execution_id: ExecutionId) -> None:
        seen.append(execution_id)
        if execution_id != follow_up:
            await asyncio.sleep(0)
            await queue.enqueue_execution(follow_up)

    queue = InProcessQueue(runner, clock)
    first = new_id()
    await queue.enqueue_execution(first)
    await queue.drain()
    assert seen == [first, follow_up]


async def test_a_failing_job_is_logged_not_lost(caplog: pytest.LogCaptureFixture):
    async def runner(execution_id: ExecutionId) -> None:
        raise RuntimeError("boom")

    queue = InProcessQueue(runner, ManualClock(T0))
    job = new_id()
    with caplog.at_level(logging.ERROR, logger="turbocat_adapters.memory.tasks"):
        await queue.enqueue_execution(job)
        await queue.drain()
    [record] = caplog.records
    assert str(job) in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)


async def test_close_cancels_running_and_waiting_jobs():
    started = asyncio.Event()
    cancelled: list[ExecutionId] = []

    async def runner(execution_id: ExecutionId) -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            cancelled.append(execution_id)
            raise

    clock = ManualClock(T0)
    queue = InProcessQueue(runner, clock)
    running = new_id()
    await queue.enqueue_execution(running)
    await started.wait()
    await queue.close()
    assert cancelled == [running]
    assert queue.pending == 0


async def test_cancellation_wakes_waiters():
    signal = InProcessCancellation()
    execution = new_id()
    waiter = asyncio.create_task(signal.wait(execution))
    await asyncio.sleep(0)
    assert not waiter.done()
    assert not signal.requested(execution)
    await signal.request(execution)
    await asyncio.wait_for(waiter, 1)
    assert signal.requested(execution)


async def test_waiting_after_a_request_returns_at_once():
    signal = InProcessCancellation()
    execution = new_id()
    await signal.request(execution)
    await asyncio.wait_for(signal.wait(execution), 1)
    other = asyncio.create_task(signal.wait(new_id()))
    await asyncio.sleep(0)
    assert not other.done()  # another execution is not affected
    other.cancel()


async def test_forget_drops_the_request():
    signal = InProcessCancellation()
    execution = new_id()
    await signal.request(execution)
    signal.forget(execution)
    signal.forget(execution)  # twice is fine
    assert not signal.requested(execution)
    waiter = asyncio.create_task(signal.wait(execution))
    await asyncio.sleep(0)
    assert not waiter.done()
    waiter.cancel()
