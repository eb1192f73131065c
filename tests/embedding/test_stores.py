"""The same program on every store: memory, a SQLite file, PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.embedding.workflows import function_step, workflow
from turbocat_adapters import Turbocat
from turbocat_core import Execution, ExecutionLog, ExecutionStatus, FunctionContext, StepStatus


def runtime(url: str) -> tuple[Turbocat, asyncio.Event]:
    tc = Turbocat(url)
    release = asyncio.Event()

    @tc.function
    async def total(inputs: dict, ctx) -> dict:
        await ctx.log(f"attempt {ctx.attempt} of {ctx.step_key} in {ctx.execution_id}")
        return {"sum": sum(inputs["values"])}

    @tc.function
    def square(inputs: dict, ctx) -> int:
        return inputs["n"] ** 2

    @tc.function
    async def hold(inputs: dict, ctx) -> dict:
        await release.wait()
        return {}

    return tc, release


PIPELINE = workflow(
    "pipeline",
    function_step("total", "total", inputs={"values": "{{inputs.values}}"}),
    function_step("square", "square", inputs={"n": "{{total.output.sum}}"}, dependsOn=["total"]),
)
HELD = workflow("held", function_step("hold", "hold"))


async def test_run_logs_and_events_on_every_store(store_url: str):
    tc, _ = runtime(store_url)
    async with tc:
        execution = await tc.run(PIPELINE, inputs={"values": [1, 2]})
        assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
        assert execution.output_data == {"total": {"sum": 3}, "square": 9}
        assert [run.status for run in execution.step_runs] == [StepStatus.COMPLETED] * 2
        lines = [line.message for line in await tc.logs(execution.id)]
        assert f"attempt 1 of total in {execution.id}" in lines
        events = [event async for event in tc.events(execution.id)]
        assert isinstance(events[-1], Execution)
        assert events[-1].status is ExecutionStatus.COMPLETED
        assert [e.message for e in events if isinstance(e, ExecutionLog)] == lines


async def test_start_cancel_and_retry_on_every_store(store_url: str):
    tc, release = runtime(store_url)
    async with tc:
        started = await tc.start(HELD)
        assert (await tc.get(started.id)).status in (
            ExecutionStatus.PENDING,
            ExecutionStatus.RUNNING,
        )
        await tc.cancel(started.id)
        cancelled = await tc.wait(started.id, timeout=60)
        assert cancelled.status is ExecutionStatus.CANCELLED
        release.set()
        retried = await tc.wait((await tc.retry(started.id)).id, timeout=60)
        assert retried.status is ExecutionStatus.COMPLETED
        assert retried.retry_of == started.id


async def test_sqlite_with_three_slashes_is_a_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tc = Turbocat("sqlite:///runs.db")

    @tc.function
    def one(inputs: dict[str, Any], ctx: FunctionContext) -> int:
        return 1

    async with tc:
        execution = await tc.run({"name": "here", "steps": [{"stepKey": "a", "function": "one"}]})
    assert execution.status is ExecutionStatus.COMPLETED
    assert (tmp_path / "runs.db").is_file()
