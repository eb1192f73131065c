"""Runs under a queue: leases, parking on long WAITs, and workflows' concurrencyLimit."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace

from tests.core.builders import step
from tests.core.engine.harness import Harness, sleeper
from turbocat_adapters.memory import InProcessQueue, MemoryClaims
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.domain.workflow import StepType
from turbocat_core.usecases.running import RunQueued, lease_name


class HoldingQueue(InProcessQueue):
    """Runs jobs due now; keeps the ones for later (as RQ's scheduler would, until due)."""

    def __init__(self, runner, clock) -> None:
        super().__init__(runner, clock)
        self.later: list[tuple[object, object]] = []

    async def enqueue_execution(self, execution_id, *, at=None):
        if at is not None:
            self.later.append((execution_id, at))
            return
        await super().enqueue_execution(execution_id)


def queued(
    h: Harness,
    *,
    park_over: float | None = None,
    holder: str = "w1",
    lease_ttl: float = 1e6,
    queue_type: type[InProcessQueue] = InProcessQueue,
) -> RunQueued:
    """Rewire the harness like a fleet worker: claims, parking, RunQueued as the runner."""
    claims = MemoryClaims(h.clock)
    h.settings = replace(h.settings, park_waits_over=park_over)
    h.engine = replace(h.make_engine(), claims=claims)
    # The queue runs ``runner``, which hands follow-ups to the queue: looked up per job.
    queue = queue_type(lambda execution_id: runner(execution_id), h.clock)
    runner = RunQueued(
        engine=h.engine,
        queue=queue,
        claims=claims,
        clock=h.clock,
        holder=holder,
        lease_ttl=lease_ttl,
    )
    h.queue = queue
    return runner


def wait(key: str, ms: int, deps: tuple[str, ...] = ()):
    return step(key, deps, step_type=StepType.WAIT, agent_id=None, config={"durationMs": ms})


async def until(condition: Callable[[], bool | Awaitable[bool]], deadline: float = 120.0) -> None:
    """Wait for a state (not for a time): ``condition`` looked at every 10 ms, failing
    only after ``deadline`` seconds, which a loaded machine never needs."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + deadline
    while True:
        result = condition()
        if result if isinstance(result, bool) else await result:
            return
        assert loop.time() < give_up, "the state never came"
        await asyncio.sleep(0.01)


async def test_a_long_wait_parks_the_run_and_it_resumes_when_due(h: Harness):
    queued(h, park_over=5.0)
    wf = await h.workflow([wait("short", 1000), wait("long", 60_000, ("short",))])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.output_data == {"short": {"waitedMs": 1000}, "long": {"waitedMs": 60_000}}
    messages = [line.message for line in h.lines]
    parked = [m for m in messages if m.startswith("waiting until")]
    assert len(parked) == 1  # the 1 s wait is slept through; the 60 s one parks
    assert "without holding a worker" in parked[0]
    # Parked = the run let go of its task and was queued again for the due time.
    assert "execution resumed after waiting (1 steps done)" in messages
    assert not any("interruption" in m for m in messages)


async def test_a_wait_beside_running_work_does_not_park(h: Harness):
    queued(h, park_over=5.0)
    await h.agent("busy", sleeper(0.05))
    agent_id = (await h.agent("slow", sleeper(0.05))).id
    wf = await h.workflow([wait("long", 60_000), step("work", agent_id=agent_id)])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.COMPLETED
    # "work" ran beside the wait when it began: parking would have cut it off.
    assert execution.output_data["long"] == {"waitedMs": 60_000}


async def test_without_a_queue_setting_waits_are_slept_through(h: Harness):
    queued(h, park_over=None)
    wf = await h.workflow([wait("long", 60_000)])
    execution = await h.run(wf)
    assert execution.status is ExecutionStatus.COMPLETED
    assert not any(line.message.startswith("waiting until") for line in h.lines)


async def test_another_holder_of_the_lease_keeps_the_run(h: Harness):
    runner = queued(h)
    agent = await h.agent("slow", sleeper(0.01))
    wf = await h.workflow([step("a", agent_id=agent.id)])
    execution = await h.start(h.actor, wf.id)
    await h.queue.drain()  # type: ignore[attr-defined]
    assert (await h.execution(execution.id)).status is ExecutionStatus.COMPLETED
    second = await h.start(h.actor, wf.id)
    await h.queue.close()  # type: ignore[attr-defined]
    assert await runner.claims.claim(lease_name(second.id), "w2", 10)
    assert await runner(second.id) is None  # w2 holds it: w1 does not run it
    assert (await h.execution(second.id)).status is ExecutionStatus.PENDING


async def test_losing_the_lease_stops_the_run_without_recording_anything(h: Harness):
    runner = queued(h, lease_ttl=0.2)  # renewed every 0.05 s of real time
    started = asyncio.Event()

    async def endless(config, inputs, ctx):
        started.set()
        await asyncio.sleep(3600)

    agent = await h.agent("endless", endless)
    wf = await h.workflow([step("a", agent_id=agent.id)])
    execution = await h.start(h.actor, wf.id)
    await h.queue.close()  # type: ignore[attr-defined]
    task = asyncio.create_task(runner(execution.id))
    await started.wait()
    # Another worker took the lease over (this one looked dead): the next renewal notices.
    runner.claims._held[lease_name(execution.id)] = ("w2", h.clock.monotonic() + 60)
    assert await asyncio.wait_for(task, 5) is None
    stored = await h.execution(execution.id)
    assert stored.status is ExecutionStatus.RUNNING  # for the new holder to resume
    async with h.store.unit_of_work() as uow:
        runs = await uow.step_runs.for_execution(execution.id)
    assert [run.status for run in runs] == [StepStatus.RUNNING]


async def test_concurrency_limit_holds_runs_pending_and_starts_them_in_order(h: Harness):
    queued(h)
    gate = asyncio.Event()
    order: list[int] = []

    async def held(config, inputs, ctx):
        order.append(inputs["n"])
        await gate.wait()
        return inputs["n"]

    agent = await h.agent("held", held)
    wf = await h.workflow(
        [step("a", agent_id=agent.id, inputs={"n": "{{inputs.n}}"})], concurrency_limit=2
    )
    ids = [(await h.start(h.actor, wf.id, inputs={"n": n})).id for n in range(5)]
    await until(lambda: len(order) == 2)  # a loaded machine may take a while
    for _ in range(20):  # and the others keep trying meanwhile, and stay held back
        await asyncio.sleep(0.01)
    statuses = [(await h.execution(i)).status for i in ids]
    assert statuses.count(ExecutionStatus.RUNNING) == 2
    assert statuses[2:] == [ExecutionStatus.PENDING] * 3
    assert order == [0, 1]
    gate.set()

    async def all_finished() -> bool:
        return all([(await h.execution(i)).status.finished for i in ids])

    await until(all_finished)
    assert [(await h.execution(i)).status for i in ids] == [ExecutionStatus.COMPLETED] * 5
    assert order == [0, 1, 2, 3, 4]
    assert h.scripted.max_running <= 2


async def test_cancelling_a_parked_run_ends_its_waiting_step(h: Harness):
    queued(h, park_over=5.0, queue_type=HoldingQueue)
    holding = h.queue
    assert isinstance(holding, HoldingQueue)
    wf = await h.workflow([wait("long", 3_600_000)])
    execution = await h.start(h.actor, wf.id)
    for _ in range(20):  # let it start and park (its job is queued for an hour from now)
        await asyncio.sleep(0)
    assert any(line.message.startswith("waiting until") for line in h.lines)
    assert [execution_id for execution_id, _ in holding.later] == [execution.id]
    cancel = replace(h.cancel, queue=h.queue)
    await cancel(h.actor, execution.id)
    for _ in range(20):
        await asyncio.sleep(0)
    async with h.store.unit_of_work() as uow:
        runs = await uow.step_runs.for_execution(execution.id)
    assert [(run.status, run.error) for run in runs] == [
        (StepStatus.FAILED, "interrupted: the execution was cancelled")
    ]
    assert (await h.execution(execution.id)).status is ExecutionStatus.CANCELLED


async def test_parking_and_waiting_for_a_place_never_count_as_failed_processings(h: Harness):
    """Each park and each admission retry ends a processing without finishing the run: a
    hand-back, not a failure, however often it happens (the bound is 3)."""
    queued(h, park_over=5.0)
    waits = [wait(f"w{i}", 60_000, (f"w{i - 1}",) if i else ()) for i in range(5)]
    wf = await h.workflow(waits, concurrency_limit=1)
    ids = [(await h.start(h.actor, wf.id)).id for _ in range(2)]
    await h.queue.drain()
    for execution_id in ids:
        done = await h.execution(execution_id)
        assert done.status is ExecutionStatus.COMPLETED, done.error_message
        assert done.recoveries == 0
    parks = [line for line in h.lines if line.message.startswith("waiting until")]
    held = [line for line in h.lines if "resumed after waiting" in line.message]
    assert len(parks) == len(held) == 10
    assert not any("interruption" in line.message for line in h.lines)
