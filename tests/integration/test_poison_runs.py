"""A run whose processing keeps failing for a reason that is not a step's own ends FAILED
after TURBOCAT_MAX_RUN_RECOVERIES (2) failures, on every store, instead of looping."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from tests.core.engine.test_queued_runs import queued
from tests.databases import STORE_KINDS
from tests.integration.stores import harness_on
from turbocat_adapters.memory import InProcessQueue
from turbocat_core.domain.execution import Execution, ExecutionStatus, StepStatus
from turbocat_core.usecases.recovery import ResumeInterrupted

STOPPED = "; the run was stopped so it does not loop"


async def _harness(request, tmp_path: Path) -> AsyncIterator[Harness]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with harness_on(request.param, tmp_path, dsn, Harness) as harness:
        yield harness


h = pytest.fixture(params=STORE_KINDS, name="h")(_harness)
sql_h = pytest.fixture(params=["sqlite", "postgres"], name="sql_h")(_harness)


@contextlib.asynccontextmanager
async def refusing_completion(h: Harness, step_key: str) -> AsyncIterator[None]:
    """A trigger in the store's own database refusing to record ``step_key`` COMPLETED: a
    real storage failure, hit after the step has done its work."""
    kind = h.store.kind
    if kind == "sqlite":
        path = h.store.path  # type: ignore[attr-defined]
        with sqlite3.connect(path) as conn:
            for event in ("INSERT", "UPDATE"):
                conn.execute(
                    f"CREATE TRIGGER refuse_{event} BEFORE {event} ON step_runs "
                    f"WHEN NEW.step_key = '{step_key}' AND NEW.status = 'COMPLETED' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
        yield
        return
    assert kind == "postgres", kind
    import psycopg

    dsn = h.store._conninfo  # type: ignore[attr-defined]
    name = f"refuse_{uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        await conn.execute(
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "  # type: ignore[arg-type]
            f"IF NEW.step_key = '{step_key}' AND NEW.status = 'COMPLETED' THEN "
            "RAISE EXCEPTION 'refused by the test'; END IF; RETURN NEW; END $$"
        )
        await conn.execute(
            f"CREATE TRIGGER {name} BEFORE INSERT OR UPDATE ON step_runs "  # type: ignore[arg-type]
            f"FOR EACH ROW EXECUTE FUNCTION {name}()"
        )
        try:
            yield
        finally:
            await conn.execute(f"DROP TRIGGER {name} ON step_runs")  # type: ignore[arg-type]
            await conn.execute(f"DROP FUNCTION {name}()")  # type: ignore[arg-type]


async def restart(h: Harness) -> None:
    """What a restarted single-process server does: queue what was left, run it."""
    queue = InProcessQueue(runner=h.make_engine().run, clock=h.clock)
    await ResumeInterrupted(uow=h.store.unit_of_work, queue=queue)()
    await queue.drain()


async def until_finished(h: Harness, execution_id, restarts: int = 10) -> Execution:
    for _ in range(restarts):
        await restart(h)
        execution = await h.execution(execution_id)
        if execution.status.finished:
            return execution
    raise AssertionError(f"still {execution.status} after {restarts} restarts")


async def test_a_run_whose_writes_keep_failing_ends_failed_after_the_bound(sql_h: Harness):
    h = sql_h
    key = f"call_{uuid4().hex[:8]}"
    first = await h.agent("echo", echo)
    wf = await h.workflow(
        [
            step("before", agent_id=first.id, inputs={"v": 1}),
            step(key, ["before"], agent_id=first.id, inputs={"v": 2}),
            step("after", [key], agent_id=first.id, inputs={"v": 3}),
        ]
    )
    async with refusing_completion(h, key):
        started = await h.start(h.actor, wf.id)
        await h.queue.drain()  # the first processing: its step's completion is refused
        done = await until_finished(h, started.id)
    assert done.status is ExecutionStatus.FAILED
    assert done.error_message is not None
    assert done.error_message.startswith("processing failed 2 times (last: ")
    assert done.error_message.endswith(STOPPED)
    assert "the process running it stopped" not in done.error_message  # the store's reason
    # The step ran once per processing (the bound), "before" once, "after" never.
    assert [name for name, inputs, _ in h.scripted.calls] == ["echo"] + ["echo"] * 2
    assert [inputs["v"] for _, inputs, _ in h.scripted.calls] == [1, 2, 2]
    runs = await h.runs(started.id)
    assert runs["before"].status is StepStatus.COMPLETED
    assert runs[key].status is StepStatus.FAILED
    assert runs[key].error == "interrupted: the run's processing failed 2 times"
    assert runs["after"].status is StepStatus.SKIPPED
    assert done.output_data == {"before": {"v": 1}}
    messages = [line.message for line in await h.logs(started.id)]
    assert sum("its processing failed" in m for m in messages) == 1  # the one resume
    assert messages[-1].startswith("execution failed") and messages[-1].endswith(STOPPED)


async def test_runs_whose_processes_died_end_failed_without_running_again(h: Harness):
    hold = asyncio.Event()

    async def hangs(config, inputs, ctx):
        hold.set()
        await asyncio.sleep(3600)

    quick = await h.agent("echo", echo)
    slow = await h.agent("hangs", hangs)
    wf = await h.workflow(
        [
            step("a", agent_id=quick.id, inputs={"v": 1}),
            step("b", ["a"], agent_id=slow.id),
            step("c", ["b"], agent_id=quick.id),
        ]
    )
    started = await h.start(h.actor, wf.id)
    await hold.wait()
    await h.queue.close()  # handed back: "b" stays RUNNING, nothing counted
    assert (await h.execution(started.id)).recoveries == 0
    # Two processes then died while running it, each leaving its processing unended.
    async with h.store.unit_of_work() as uow:
        for dead in ("dead-1", "dead-2"):
            await uow.executions.begin_processing(started.id, dead)
        await uow.commit()
    calls = len(h.scripted.calls)
    done = await until_finished(h, started.id, restarts=1)
    assert done.status is ExecutionStatus.FAILED
    assert done.error_message == (
        "processing failed 2 times (last: the process running it stopped before it finished)"
        + STOPPED
    )
    assert len(h.scripted.calls) == calls  # nothing ran again
    runs = await h.runs(started.id)
    assert [runs[k].status for k in "abc"] == [
        StepStatus.COMPLETED,
        StepStatus.FAILED,
        StepStatus.SKIPPED,
    ]
    assert done.output_data == {"a": {"v": 1}}


async def test_a_queue_tries_a_failed_processing_again_until_the_bound(sql_h: Harness):
    """Under ``RunQueued`` (every queue: a server's, a worker's) a processing that raised is
    queued again shortly, without waiting for a reaper or a restart, up to the bound."""
    h = sql_h
    runner = queued(h)
    key = f"call_{uuid4().hex[:8]}"
    agent = await h.agent("echo", echo)
    wf = await h.workflow([step(key, agent_id=agent.id, inputs={"v": 1})])
    async with refusing_completion(h, key):
        started = await h.start(h.actor, wf.id)
        await h.queue.drain()
    done = await h.execution(started.id)
    assert done.status is ExecutionStatus.FAILED
    assert done.error_message is not None and done.error_message.startswith(
        "processing failed 2 times (last: "
    )
    assert h.scripted.count("echo") == 2
    assert await runner(started.id) is not None  # finished: running it again is harmless
    assert h.scripted.count("echo") == 2
