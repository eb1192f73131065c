"""`Turbocat.wait`: it returns once the run has ended and every step's last state is stored."""

from __future__ import annotations

import asyncio
from uuid import uuid4

import pytest

from turbocat_adapters import Turbocat
from turbocat_core import ExecutionStatus, NotFound, StepStatus


def chain(steps: int) -> dict:
    return {
        "name": f"chain of {steps}",
        "inputs": {"value": 0},
        "steps": [
            {
                "stepKey": f"s{i}",
                "function": "add_one",
                "inputs": {"value": f"{{{{s{i - 1}.output}}}}" if i else "{{inputs.value}}"},
                **({"dependsOn": [f"s{i - 1}"]} if i else {}),
            }
            for i in range(steps)
        ],
    }


@pytest.mark.slow
@pytest.mark.parametrize("store", ["memory", "sqlite"])
async def test_run_and_wait_for_a_long_chain_return_it_finished_with_every_step(store, tmp_path):
    tc = Turbocat(f"sqlite:///{tmp_path / 'runs.db'}" if store == "sqlite" else None)

    @tc.function
    async def add_one(inputs: dict, ctx) -> int:
        return inputs["value"] + 1

    async with tc:
        execution = await tc.start(chain(300))
        waited = await tc.wait(execution.id, timeout=60)
        ran = await tc.run(chain(300), inputs={"value": 1}, timeout=60)
    assert waited.status is ExecutionStatus.COMPLETED
    assert waited.output_data["s299"] == 300
    assert len(waited.step_runs) == 300
    assert all(run.status is StepStatus.COMPLETED for run in waited.step_runs)
    assert ran.status is ExecutionStatus.COMPLETED
    assert ran.output_data["s299"] == 301
    assert len(ran.step_runs) == 300


async def test_wait_for_a_cancelled_run_returns_once_its_steps_are_stopped():
    tc = Turbocat()
    started = asyncio.Event()

    @tc.function
    async def block(inputs: dict, ctx) -> None:
        started.set()
        await asyncio.Event().wait()  # until cancelled

    blocked = {
        "name": "blocked",
        "steps": [
            {"stepKey": "a", "function": "block"},
            {"stepKey": "b", "function": "block", "dependsOn": ["a"]},
        ],
    }
    async with tc:
        execution = await tc.start(blocked)
        waiting = asyncio.create_task(tc.wait(execution.id, timeout=60))
        await asyncio.wait_for(started.wait(), 60)
        await tc.cancel(execution.id)
        finished = await waiting
    assert finished.status is ExecutionStatus.CANCELLED
    states = {run.step_key: run.status for run in finished.step_runs}
    assert states == {"a": StepStatus.FAILED, "b": StepStatus.SKIPPED}


async def test_wait_for_an_unknown_execution_is_not_found():
    async with Turbocat() as tc:
        with pytest.raises(NotFound):
            await tc.wait(uuid4(), timeout=60)
