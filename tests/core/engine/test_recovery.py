"""Runs a stopped process left PENDING or RUNNING are queued again and finish."""

from __future__ import annotations

import asyncio

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from turbocat_adapters.memory import InProcessQueue
from turbocat_core.domain.execution import ExecutionStatus
from turbocat_core.usecases.executions import StartExecution
from turbocat_core.usecases.recovery import ResumeInterrupted


async def test_interrupted_and_waiting_runs_are_resumed(h: Harness):
    gate = asyncio.Event()

    async def slow_once(config, inputs, ctx):
        if not gate.is_set():  # only the very first call hangs: the process stops during it
            gate.set()
            await asyncio.sleep(30)
        return {"attempt": ctx.attempt}

    quick = await h.agent("echo", echo)
    slow = await h.agent("slow", slow_once)
    wf = await h.workflow([step("a", agent_id=quick.id), step("b", ["a"], agent_id=slow.id)])
    running = await h.start(h.actor, wf.id)
    await gate.wait()
    await h.queue.close()  # the process stops: `running` stays RUNNING
    never_ran = StartExecution(uow=h.store.unit_of_work, clock=h.clock, ids=h.ids, queue=_Nowhere())
    waiting = await never_ran(h.actor, wf.id)  # queued by a process that stopped: PENDING
    assert (await h.execution(running.id)).status is ExecutionStatus.RUNNING

    restarted = InProcessQueue(runner=h.make_engine().run, clock=h.clock)
    assert await ResumeInterrupted(uow=h.store.unit_of_work, queue=restarted)() == 2
    await restarted.drain()
    for execution_id in (running.id, waiting.id):
        done = await h.execution(execution_id)
        assert done.status is ExecutionStatus.COMPLETED
    assert h.scripted.count("echo") == 2  # `a` ran once per execution, never twice


class _Nowhere:
    """A queue whose process stopped before it ran anything."""

    async def enqueue_execution(self, execution_id, *, at=None):
        return None


async def test_runs_handed_back_again_and_again_still_finish(h: Harness):
    """A process stopping cleanly hands its runs back (cancelled tasks, the run left
    RUNNING): that is no failure, however often it happens (the bound is 3)."""
    release = asyncio.Event()
    started = asyncio.Event()

    async def slow(config, inputs, ctx):
        started.set()
        if not release.is_set():
            await asyncio.sleep(3600)
        return {"attempt": ctx.attempt}

    agent = await h.agent("slow", slow)
    wf = await h.workflow([step("a", agent_id=agent.id)])
    execution = await h.start(h.actor, wf.id)
    queue = h.queue
    for _ in range(5):
        await started.wait()
        started.clear()
        await queue.close()  # a clean stop: the run is handed back
        queue = InProcessQueue(runner=h.make_engine().run, clock=h.clock)
        assert await ResumeInterrupted(uow=h.store.unit_of_work, queue=queue)() == 1
    await started.wait()
    release.set()
    await queue.close()
    queue = InProcessQueue(runner=h.make_engine().run, clock=h.clock)
    await ResumeInterrupted(uow=h.store.unit_of_work, queue=queue)()
    await queue.drain()
    done = await h.execution(execution.id)
    assert done.status is ExecutionStatus.COMPLETED, done.error_message
    assert done.recoveries == 0
    assert h.scripted.count("slow") == 7


async def test_resuming_for_one_owner_leaves_the_others_runs_alone(h: Harness):
    """An embedded runtime resumes the local owner's runs only: a server's users' runs in
    the same store are the server's."""
    agent = await h.agent("echo", echo)
    wf = await h.workflow([step("a", agent_id=agent.id)])
    mine_owner, other = h.owner, h.new_actor()
    theirs_agent = await h.agent("echo", echo, owner=other.user_id)
    h.owner = other.user_id  # the next workflow is theirs
    theirs = await h.workflow([step("a", agent_id=theirs_agent.id)])
    h.owner = mine_owner
    queued = StartExecution(uow=h.store.unit_of_work, clock=h.clock, ids=h.ids, queue=_Nowhere())
    mine = await queued(h.actor, wf.id)
    await queued(other, theirs.id)
    resumed = _Recorder()
    assert await ResumeInterrupted(uow=h.store.unit_of_work, queue=resumed, owner=h.owner)() == 1
    assert resumed.ids == [mine.id]
    everyone = _Recorder()
    assert await ResumeInterrupted(uow=h.store.unit_of_work, queue=everyone)() == 2


class _Recorder:
    """A queue that notes what it is given."""

    def __init__(self) -> None:
        self.ids: list = []

    async def enqueue_execution(self, execution_id, *, at=None):
        self.ids.append(execution_id)
