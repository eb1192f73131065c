"""`Turbocat.wait`: it returns once the run has ended and every step's last state is stored."""

from __future__ import annotations

import asyncio

from turbocat_adapters import Turbocat
from turbocat_core import ExecutionStatus, StepStatus


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


async def test_wait_for_a_long_chain_returns_it_finished_with_every_step():
    tc = Turbocat()

    @tc.function
    async def add_one(inputs: dict, ctx) -> int:
        return inputs["value"] + 1

    async with tc:
        execution = await tc.start(chain(300))
        finished = await tc.wait(execution.id, timeout=60)
    assert finished.status is ExecutionStatus.COMPLETED
    assert finished.output_data["s299"] == 300
    assert len(finished.step_runs) == 300
    assert all(run.status is StepStatus.COMPLETED for run in finished.step_runs)


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
