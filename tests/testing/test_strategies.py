"""The shipped workflow strategies: what they draw validates (or fails as they say), runs to
COMPLETED under ``Turbocat()``, and every input they draw survives the store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from dependency_injector import providers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from turbocat_adapters import Turbocat
from turbocat_adapters.container import Container
from turbocat_adapters.embedding import embedded_settings
from turbocat_adapters.testing.strategies import (
    DEFECTS,
    InvalidWorkflow,
    cyclic_workflows,
    inputs,
    invalid_workflows,
    workflows,
)
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.errors import CycleDetected, ValidationFailed

FILES = Container(settings=providers.Object(embedded_settings(None, {}))).workflow_files()
RUNS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def validate(document: dict[str, Any]) -> None:
    """What ``turbocat validate``, ``POST /workflows/import`` and ``Turbocat.run`` check."""
    FILES.blueprint(document, uuid4())


def rotations(cycle: list[str]) -> list[list[str]]:
    return [cycle[i:] + cycle[:i] for i in range(len(cycle))]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(workflows(max_steps=12))
def test_every_drawn_workflow_validates(document):
    validate(document)


@RUNS
@given(workflows(wait_seconds=(0, 0.05)), inputs(max_leaves=8))
def test_every_drawn_workflow_runs_to_completed_with_nothing_registered(document, given_inputs):
    run = Turbocat().run_sync(document, inputs=given_inputs, timeout=60)
    assert run.status is ExecutionStatus.COMPLETED, run.error_message
    states = {r.step_key: r.status for r in run.step_runs}
    assert set(states) == {step["stepKey"] for step in document["steps"]}
    assert set(states.values()) <= {StepStatus.COMPLETED, StepStatus.SKIPPED}


@RUNS
@given(st.data())
def test_drawn_workflows_call_the_registered_functions(data):
    tc = Turbocat()
    calls: list[str] = []

    @tc.function
    def double(inputs, ctx):
        calls.append(ctx.step_key)
        return {"seen": inputs["data"]}

    document = data.draw(workflows(step_types=["AGENT", "LOOP", "PARALLEL"], functions=["double"]))
    run = tc.run_sync(document, timeout=60)
    assert run.status is ExecutionStatus.COMPLETED, run.error_message
    calling = set()
    for step in document["steps"]:
        config = step.get("config", {})
        branches = config.get("branches", {}).values()
        loop = bool(config.get("items")) and "function" in config
        if "function" in step or loop or any("function" in branch for branch in branches):
            calling.add(step["stepKey"])
    assert set(calls) == calling  # without CONDITIONs nothing is skipped


def test_step_types_and_sizes_are_respected():
    @settings(max_examples=40, deadline=None)
    @given(workflows(min_steps=3, max_steps=5, step_types=["WAIT", "CONDITION"]))
    def check(document):
        assert 3 <= len(document["steps"]) <= 5
        assert {step["stepType"] for step in document["steps"]} <= {"WAIT", "CONDITION"}
        assert "agents" not in document
        validate(document)

    check()


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError, match="need DATA agents"):
        workflows(data_agents=False)
    with pytest.raises(ValueError, match="step_types"):
        workflows(step_types=[])
    with pytest.raises(ValueError, match="SLEEP"):
        workflows(step_types=["SLEEP"])
    with pytest.raises(ValueError, match="defects"):
        invalid_workflows(defects=["no_such_defect"])


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cyclic_workflows())
def test_the_planted_cycle_is_the_one_reported(case):
    document, planted = case
    with pytest.raises(CycleDetected) as caught:
        validate(document)
    path = list(caught.value.path)
    assert path[0] == path[-1]
    assert path[:-1] in rotations(planted)


@RUNS
@given(cyclic_workflows())
def test_turbocat_refuses_a_cyclic_workflow_naming_the_planted_cycle(case):
    document, planted = case
    with pytest.raises(ValidationFailed) as caught:
        Turbocat().run_sync(document)
    [detail] = caught.value.details
    assert detail.field == "steps"
    path = detail.message.removeprefix("cycle: ").split(" -> ")
    assert path[:-1] in rotations(planted)


def assert_refused_as_stated(error: ValidationFailed, case: InvalidWorkflow) -> None:
    found = [(detail.field, detail.message) for detail in error.details]
    assert len(found) == 1, found
    assert found[0][0] == case.field, found
    assert case.message in found[0][1], found


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(invalid_workflows())
def test_every_invalid_workflow_fails_with_its_stated_problem(case):
    with pytest.raises(ValidationFailed) as caught:
        validate(case.document)
    assert_refused_as_stated(caught.value, case)


@pytest.mark.parametrize("defect", DEFECTS)
def test_turbocat_refuses_each_defect_as_stated(defect):
    @settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(invalid_workflows(defects=[defect]))
    def check(case):
        assert case.defect == defect
        with pytest.raises(ValidationFailed) as caught:
            Turbocat().run_sync(case.document)
        assert_refused_as_stated(caught.value, case)

    check()


ECHO = {
    "name": "echo",
    "agents": {
        "echo": {"type": "DATA", "config": {"operation": "transform", "template": "{{item}}"}}
    },
    "steps": [{"stepKey": "echo", "agent": "echo", "inputs": {"data": "{{inputs}}"}}],
}


@RUNS
@given(inputs())
def test_inputs_come_back_unchanged_from_the_memory_store(given_inputs):
    run = Turbocat().run_sync(ECHO, inputs=given_inputs, timeout=60)
    assert run.status is ExecutionStatus.COMPLETED, run.error_message
    assert run.input_data == given_inputs
    assert run.output_data == {"echo": given_inputs}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inputs())
def test_inputs_come_back_unchanged_from_sqlite(tmp_path_factory, given_inputs):
    path: Path = tmp_path_factory.mktemp("store") / "runs.db"
    run = Turbocat(f"sqlite:///{path}").run_sync(ECHO, inputs=given_inputs, timeout=60)
    assert run.input_data == given_inputs
    assert run.output_data == {"echo": given_inputs}


def test_inputs_come_back_unchanged_from_postgres(postgres_dsn):
    tc = Turbocat(postgres_dsn)

    @settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(inputs(), min_size=3, max_size=6))
    def check(batch):
        async def main():
            async with tc:
                for given_inputs in batch:
                    run = await tc.run(ECHO, inputs=given_inputs, timeout=60)
                    assert run.input_data == given_inputs
                    assert run.output_data == {"echo": given_inputs}

        asyncio.run(main())

    check()
