"""Property tests: on random DAGs every ready step runs exactly once, and skips and failures
propagate as SPEC §2 says (checked against a plain sequential oracle)."""

from __future__ import annotations

import asyncio

from hypothesis import given
from hypothesis import strategies as st

from tests.core.builders import step
from tests.core.engine.harness import Harness
from turbocat_adapters.testing.strategies import dags
from turbocat_core.agents.failures import AgentFailure
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.domain.workflow import OnError, StepType
from turbocat_core.engine.dag import build_graph

OK, CONTINUE, FAIL, TRUE, FALSE = "ok", "continue", "fail", "true", "false"


@st.composite
def scenarios(draw: st.DrawFn, *, allow_fail: bool):
    graph = draw(dags(max_size=9))
    keys = list(graph)
    kinds = [OK, CONTINUE, TRUE, FALSE] + ([FAIL] if allow_fail else [])
    plan = []
    for i, (key, deps) in enumerate(graph.items()):
        kind = draw(st.sampled_from(kinds))
        branches: tuple[list[str], list[str]] = ([], [])
        if kind in (TRUE, FALSE) and i < len(keys) - 1:
            later = draw(st.lists(st.sampled_from(keys[i + 1 :]), unique=True, max_size=3))
            cut = draw(st.integers(0, len(later)))
            branches = (later[:cut], later[cut:])
        plan.append((key, deps, kind, branches, draw(st.integers(0, 2))))
    return plan


def oracle(plan, order):
    """Run the plan one step at a time in ``order`` (what maxConcurrency=1 does)."""
    info = {key: (kind, branches) for key, _, kind, branches, _ in plan}
    deps_of = {key: set(deps) for key, deps, *_ in plan}
    for key, _, _, (on_true, on_false), _ in plan:
        for target in on_true + on_false:
            deps_of[target].add(key)
    status: dict[str, StepStatus] = {}
    skip: set[str] = set()
    failed = False
    for key in order:
        kind, (on_true, on_false) = info[key]
        if failed:
            status[key] = StepStatus.SKIPPED
            continue
        dependencies = deps_of[key]
        if key in skip or (
            dependencies and all(status[d] is StepStatus.SKIPPED for d in dependencies)
        ):
            status[key] = StepStatus.SKIPPED
            skip.update(on_true + on_false)  # a condition that never ran decides no branch
            continue
        if kind in (CONTINUE, FAIL):
            status[key] = StepStatus.FAILED
            failed = kind == FAIL
        else:
            status[key] = StepStatus.COMPLETED
            if kind == TRUE:
                skip.update(on_false)
            elif kind == FALSE:
                skip.update(on_true)
    return status, ExecutionStatus.FAILED if failed else ExecutionStatus.COMPLETED


async def play(plan, max_concurrency):
    h = Harness()

    async def behave(config, inputs, ctx):
        await asyncio.sleep(0)
        if inputs["kind"] in (CONTINUE, FAIL):
            raise AgentFailure("planned failure", retryable=False)
        return ctx.step_key

    agent = await h.agent("prop", behave)
    steps = []
    for key, deps, kind, (on_true, on_false), position in plan:
        if kind in (TRUE, FALSE):
            steps.append(
                step(
                    key,
                    deps,
                    step_type=StepType.CONDITION,
                    agent_id=None,
                    position=position,
                    config={"condition": kind == TRUE, "onTrue": on_true, "onFalse": on_false},
                )
            )
        else:
            steps.append(
                step(
                    key,
                    deps,
                    agent_id=agent.id,
                    position=position,
                    inputs={"kind": kind},
                    on_error=OnError.CONTINUE if kind == CONTINUE else OnError.FAIL,
                )
            )
    wf = await h.workflow(steps, max_concurrency=max_concurrency)
    # Harness.workflow keeps explicit positions; the graph order is what the engine uses.
    async with h.store.unit_of_work() as uow:
        stored = await uow.steps.for_workflow(wf.id)
    order = build_graph(stored).order
    execution = await h.run(wf)
    runs = await h.runs(execution.id)
    await h.queue.close()
    return execution, runs, h.scripted.calls, order


@given(scenarios(allow_fail=False), st.integers(1, 8))
def test_without_fail_every_ready_step_runs_once_whatever_the_concurrency(plan, max_concurrency):
    execution, runs, calls, order = asyncio.run(play(plan, max_concurrency))
    expected, final = oracle(plan, order)
    assert {key: run.status for key, run in runs.items()} == expected
    assert execution.status is final
    ran = [inputs_key for inputs_key in (c[1]["kind"] for c in calls)]
    agent_steps = [
        k
        for k, _, kind, _, _ in plan
        if kind in (OK, CONTINUE) and expected[k] is not StepStatus.SKIPPED
    ]
    assert len(ran) == len(agent_steps)  # each ran exactly once, none of the skipped ones
    assert all(run.attempt <= 1 for run in runs.values())
    assert execution.steps_completed == sum(s is StepStatus.COMPLETED for s in expected.values())
    assert execution.steps_failed == sum(s is StepStatus.FAILED for s in expected.values())


@given(scenarios(allow_fail=True))
def test_a_failing_step_fails_the_run_and_nothing_after_it_runs(plan):
    execution, runs, _, order = asyncio.run(play(plan, 1))
    expected, final = oracle(plan, order)
    assert {key: run.status for key, run in runs.items()} == expected
    assert execution.status is final
    if final is ExecutionStatus.FAILED:
        failing = next(
            k
            for k in order
            if expected[k] is StepStatus.FAILED and dict((p[0], p[2]) for p in plan)[k] == FAIL
        )
        assert execution.error_message == f"step {failing!r} failed: planned failure"
