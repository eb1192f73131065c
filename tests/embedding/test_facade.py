"""`Turbocat` on the in-memory store: register functions, run, start, wait, get, logs, events."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import pytest
import yaml

from tests.embedding.workflows import function_step, workflow
from turbocat_adapters import Turbocat
from turbocat_core import Execution, ExecutionLog, ExecutionStatus, NotFound, ValidationFailed

PIPELINE = workflow(
    "pipeline",
    function_step("total", "total", inputs={"values": "{{inputs.values}}"}),
    function_step("double", "double", inputs={"x": "{{total.output.sum}}"}, dependsOn=["total"]),
)


def pipeline_runtime() -> Turbocat:
    tc = Turbocat()

    @tc.function
    async def total(inputs: dict, ctx) -> dict:
        await ctx.log(f"adding {len(inputs['values'])} values in {ctx.step_key}")
        return {"sum": sum(inputs["values"])}

    @tc.function("double")
    def twice(inputs: dict, ctx) -> int:  # sync: runs in a worker thread
        assert threading.current_thread() is not threading.main_thread()
        return inputs["x"] * 2

    return tc


async def test_run_returns_the_finished_execution_with_its_outputs():
    tc = pipeline_runtime()
    async with tc:
        execution = await tc.run(PIPELINE, inputs={"values": [1, 2, 3]}, metadata={"by": "test"})
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.output_data == {"total": {"sum": 6}, "double": 12}
    assert execution.metadata == {"by": "test"}
    assert [run.step_key for run in execution.step_runs] == ["total", "double"]


async def test_start_returns_at_once_then_wait_and_get_see_the_end():
    tc = pipeline_runtime()
    async with tc:
        started = await tc.start(PIPELINE, inputs={"values": [4]})
        assert started.status is ExecutionStatus.PENDING
        finished = await tc.wait(started.id, timeout=60)
        assert finished.id == started.id
        assert finished.status is ExecutionStatus.COMPLETED
        got = await tc.get(str(started.id))
        assert got.output_data == {"total": {"sum": 4}, "double": 8}
        assert got.status is ExecutionStatus.COMPLETED


async def test_logs_hold_the_functions_lines_attached_to_their_step():
    tc = pipeline_runtime()
    async with tc:
        execution = await tc.run(PIPELINE, inputs={"values": [1, 2]})
        lines = await tc.logs(execution.id)
    messages = [line.message for line in lines]
    assert "adding 2 values in total" in messages
    assert messages[0].startswith("execution queued")
    assert messages[-1].startswith("execution completed")
    mine = next(line for line in lines if line.message == "adding 2 values in total")
    assert mine.step_key == "total"


async def test_events_yield_lines_and_status_changes_until_the_end():
    tc = pipeline_runtime()
    async with tc:
        started = await tc.start(PIPELINE, inputs={"values": [1]})
        seen = [event async for event in tc.events(started.id)]
    statuses = [event.status for event in seen if isinstance(event, Execution)]
    lines = [event.message for event in seen if isinstance(event, ExecutionLog)]
    assert statuses[-1] is ExecutionStatus.COMPLETED
    assert isinstance(seen[-1], Execution)
    assert "adding 1 values in total" in lines
    assert lines[-1].startswith("execution completed")
    seqs = [event.seq for event in seen if isinstance(event, ExecutionLog)]
    assert seqs == sorted(set(seqs))


async def test_wait_times_out_naming_the_execution():
    tc = Turbocat()
    release = asyncio.Event()

    @tc.function
    async def hold(inputs: dict, ctx) -> dict:
        await release.wait()
        return {}

    async with tc:
        started = await tc.start(workflow("held", function_step("hold", "hold")))
        with pytest.raises(TimeoutError, match=str(started.id)):
            await tc.wait(started.id, timeout=0.2)
        release.set()
        assert (await tc.wait(started.id, timeout=60)).status is ExecutionStatus.COMPLETED


async def test_a_workflow_file_in_yaml_or_json_runs_like_its_dict(tmp_path: Path):
    tc = pipeline_runtime()
    (tmp_path / "p.yaml").write_text(yaml.safe_dump(PIPELINE))
    (tmp_path / "p.json").write_text(json.dumps(PIPELINE))
    async with tc:
        for path in (tmp_path / "p.yaml", str(tmp_path / "p.json")):
            execution = await tc.run(path, inputs={"values": [2]})
            assert execution.output_data == {"total": {"sum": 2}, "double": 4}


async def test_a_missing_or_broken_file_is_a_validation_error(tmp_path: Path):
    tc = pipeline_runtime()
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    async with tc:
        with pytest.raises(ValidationFailed, match="no such file"):
            await tc.run(tmp_path / "missing.yaml")
        with pytest.raises(ValidationFailed, match="invalid YAML"):
            await tc.run(tmp_path / "bad.yaml")


async def test_get_of_an_unknown_execution_is_not_found():
    tc = Turbocat()
    async with tc:
        with pytest.raises(NotFound):
            await tc.get("0190d4a0-0000-7000-8000-000000000000")
        with pytest.raises(ValidationFailed, match="not an execution id"):
            await tc.get("nope")


def test_run_sync_opens_and_closes_the_runtime_itself():
    tc = pipeline_runtime()
    first = tc.run_sync(PIPELINE, inputs={"values": [1, 1]})
    second = tc.run_sync(PIPELINE, inputs={"values": [3]})
    assert first.output_data == {"total": {"sum": 2}, "double": 4}
    assert second.output_data == {"total": {"sum": 3}, "double": 6}
    assert not tc.is_open


async def test_an_open_runtime_names_the_loop_it_is_open_in():
    tc = Turbocat()
    assert tc.loop is None
    async with tc:
        assert tc.loop is asyncio.get_running_loop()
    assert tc.loop is None


async def test_run_sync_refuses_inside_a_running_loop():
    tc = pipeline_runtime()
    with pytest.raises(RuntimeError, match="running event loop"):
        tc.run_sync(PIPELINE, inputs={"values": [1]})


async def test_methods_need_the_runtime_open():
    tc = pipeline_runtime()
    with pytest.raises(RuntimeError, match="async with tc"):
        await tc.start(PIPELINE)


async def test_the_environment_is_not_read(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TURBOCAT_MAX_STEP_OUTPUT_BYTES", "10")
    monkeypatch.setenv("TURBOCAT_DATABASE_URL", "postgresql://nowhere.invalid/db")
    tc = pipeline_runtime()
    async with tc:
        execution = await tc.run(PIPELINE, inputs={"values": list(range(100))})
    assert execution.status is ExecutionStatus.COMPLETED
    assert execution.output_data == {"total": {"sum": 4950}, "double": 9900}
