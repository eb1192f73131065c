"""The bound on what a step's references resolve to (issue 11, reference amplification): a
small workflow repeating a reference to a big output fails early, in bounded memory."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.core.builders import step
from tests.core.engine.harness import Harness, echo
from turbocat_core.agents.contract import RunContext
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.domain.workflow import StepType
from turbocat_core.engine.deps import EngineSettings

BLOB = "x" * (900 * 1024)
LIMIT = 4 * 1024 * 1024


async def big(config: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> Any:
    return {"blob": BLOB}  # about 900 KB: under the 1 MiB output limit


def failure(limit: int, what: str = "its inputs") -> str:
    return (
        f"references resolve to more than {limit} bytes, stopped in {what} "
        "(TURBOCAT_MAX_RESOLVED_INPUT_BYTES); reference the parts the step needs rather than "
        "whole outputs many times"
    )


async def run_in_bounded_memory(h: Harness, wf: Any) -> Any:
    """Run ``wf`` and check that Python's allocations peaked under 50 MiB meanwhile."""
    tracemalloc.start()
    try:
        execution = await h.run(wf)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 50 * 1024 * 1024, f"peak {peak / 2**20:.0f} MiB"
    return execution


async def test_a_reference_repeated_1500_times_fails_early_in_bounded_memory(h: Harness):
    """The attack of issue 11: a workflow of about 30 KB whose step inputs repeat a reference
    to a 900 KB output 1,500 times made the server allocate 1.4 GB."""
    assert h.settings.max_resolved_input_bytes == LIMIT  # the default
    source = await h.agent("big", big)
    sink = await h.agent("sink", echo)
    inputs = {f"k{i}": "={{big.output.blob}}" for i in range(1500)}
    wf = await h.workflow(
        [
            step("big", agent_id=source.id),
            step("amplify", ["big"], agent_id=sink.id, inputs=inputs, retry_count=3),
        ]
    )
    execution = await run_in_bounded_memory(h, wf)

    assert execution.status is ExecutionStatus.FAILED
    run = (await h.runs(execution.id))["amplify"]
    assert run.status is StepStatus.FAILED
    assert run.attempt == 1  # not retryable: the same inputs resolve the same way
    assert run.error == f"step 'amplify': {failure(LIMIT)}"
    assert h.scripted.count("sink") == 0


async def test_whole_value_references_count_too(h: Harness):
    """A reference that is a whole string keeps the value (no copy is made here), but the
    agent may copy it (a request body, a child process's stdin): it counts all the same."""
    source = await h.agent("big", big)
    sink = await h.agent("sink", echo)
    inputs = {"many": ["{{big.output}}"] * 1500}
    wf = await h.workflow(
        [step("big", agent_id=source.id), step("amplify", ["big"], agent_id=sink.id, inputs=inputs)]
    )
    execution = await h.run(wf)
    assert (await h.runs(execution.id))["amplify"].error == f"step 'amplify': {failure(LIMIT)}"
    assert h.scripted.count("sink") == 0


@pytest.fixture
async def small() -> AsyncIterator[Harness]:
    """A 2 KB bound, to reach it with small values."""
    harness = Harness(settings=EngineSettings(max_resolved_input_bytes=2048))
    yield harness
    await harness.queue.close()


async def test_within_the_bound_a_step_runs_as_before(small: Harness):
    h = small
    sink = await h.agent("sink", echo)
    wf = await h.workflow(
        [step("a", agent_id=sink.id, inputs={"t": "{{inputs.t}}-{{inputs.t}}", "n": 1})]
    )
    execution = await h.run(wf, {"t": "y" * 900})
    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message
    assert (await h.runs(execution.id))["a"].output == {"t": "y" * 900 + "-" + "y" * 900, "n": 1}

    execution = await h.run(wf, {"t": "y" * 1100})
    assert execution.status is ExecutionStatus.FAILED
    assert (await h.runs(execution.id))["a"].error == f"step 'a': {failure(2048)}"


async def test_an_agent_config_counts_once_resolved(small: Harness):
    h = small
    agent = await h.agent("templated", echo, config={"prompt": "{{inputs.t}} {{inputs.t}}"})
    wf = await h.workflow([step("a", agent_id=agent.id)])
    execution = await h.run(wf, {"t": "z" * 1500})
    error = (await h.runs(execution.id))["a"].error
    assert error == "step 'a': " + failure(2048, "the config of agent 'templated'")


async def test_loop_items_conditions_and_waits_are_bounded(small: Harness):
    h = small
    sink = await h.agent("sink", echo)
    text = {"t": "w" * 1500}
    steps = {
        "its LOOP items": step(
            "s",
            step_type=StepType.LOOP,
            config={"items": ["{{inputs.t}}", "{{inputs.t}}"], "agentId": str(sink.id)},
        ),
        "its condition": step(
            "s",
            step_type=StepType.CONDITION,
            config={
                "condition": {"left": "{{inputs.t}}{{inputs.t}}", "operator": "eq", "right": 1}
            },
        ),
        "its WAIT config": step(
            "s",
            step_type=StepType.WAIT,
            config={"durationMs": 0, "note": ["{{inputs.t}}", "{{inputs.t}}"]},
        ),
    }
    for what, only in steps.items():
        execution = await h.run(await h.workflow([only]), text)
        assert (await h.runs(execution.id))["s"].error == f"step 's': {failure(2048, what)}"


async def test_loop_iterations_and_branches_running_together_share_the_bound(small: Harness):
    """What is resolved for a call is held until it returns: concurrent iterations (and
    PARALLEL branches) add up; sequential ones each have the whole bound."""
    h = small

    async def hold(config: dict[str, Any], inputs: dict[str, Any], ctx: RunContext) -> Any:
        await asyncio.sleep(0)  # let the other iterations or branches start meanwhile
        return inputs

    sink = await h.agent("sink", hold)

    def loop(concurrency: int) -> Any:
        return step(
            "s",
            step_type=StepType.LOOP,
            config={
                "items": [1, 2, 3],
                "agentId": str(sink.id),
                "inputs": {"t": "{{inputs.t}}", "i": "{{loop.item}}"},
                "concurrency": concurrency,
            },
        )

    inputs = {"t": "v" * 800}
    one_at_a_time = await h.run(await h.workflow([loop(1)]), inputs)
    assert one_at_a_time.status is ExecutionStatus.COMPLETED, one_at_a_time.error_message
    all_at_once = await h.run(await h.workflow([loop(3)]), inputs)
    error = (await h.runs(all_at_once.id))["s"].error or ""
    assert error == "iteration 2 failed: step 's': " + failure(2048)

    branches = {name: {"agentId": str(sink.id), "inputs": {"t": "{{inputs.t}}"}} for name in "ab"}
    parallel = await h.workflow(
        [step("s", step_type=StepType.PARALLEL, config={"branches": branches})]
    )
    execution = await h.run(parallel, {"t": "v" * 1100})
    error = (await h.runs(execution.id))["s"].error or ""
    assert error == "branch 'b' failed: step 's': " + failure(2048)
    execution = await h.run(parallel, {"t": "v" * 900})
    assert execution.status is ExecutionStatus.COMPLETED, execution.error_message


async def test_a_data_transform_template_is_bounded_as_it_is_filled_in(h: Harness):
    """The DATA agent's own references (``{{item}}``) are bounded the same way (the
    harness's DATA agent has the default bound)."""
    source = await h.agent("big", big)
    transform = await h.agent(
        "shape",
        agent_type=AgentType.DATA,
        config={"operation": "transform", "template": {f"k{i}": "{{item}}!" for i in range(1500)}},
    )
    wf = await h.workflow(
        [
            step("big", agent_id=source.id),
            step("shape", ["big"], agent_id=transform.id, inputs={"data": "{{big.output}}"}),
        ]
    )
    execution = await run_in_bounded_memory(h, wf)
    assert (await h.runs(execution.id))["shape"].error == (
        f"transform: the result is over {LIMIT} bytes as the template is filled in "
        "(TURBOCAT_MAX_RESOLVED_INPUT_BYTES)"
    )
