"""Workflow files: the ``"function": name`` shorthand for FUNCTION agents, in and out."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.core.builders import T0
from turbocat_adapters.memory import ManualClock, MemoryStore
from turbocat_adapters.system import UuidV7Generator
from turbocat_core.agents.contract import AgentExecutors
from turbocat_core.agents.data_agent import DataAgent
from turbocat_core.agents.function_agent import FunctionExecutor, FunctionRegistry
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.common import UserId
from turbocat_core.domain.user import LOCAL_OWNER_ID, UserRole
from turbocat_core.errors import ValidationFailed
from turbocat_core.usecases.workflow_files import ImportWorkflow, WorkflowFiles


def _total(inputs: dict, ctx: Any) -> dict:
    return {"sum": sum(inputs["values"])}


def _double(inputs: dict, ctx: Any) -> dict:
    return {"value": inputs["value"] * 2}


@pytest.fixture
def files() -> WorkflowFiles:
    registry = FunctionRegistry()
    registry.register("total", _total)
    registry.register("double", _double)
    executors = AgentExecutors(
        {AgentType.DATA: DataAgent(), AgentType.FUNCTION: FunctionExecutor(registry)}
    )
    return WorkflowFiles(clock=ManualClock(T0), ids=UuidV7Generator(), executors=executors)


OWNER = UserId(uuid4())
DATA = {"type": "DATA", "config": {"operation": "transform", "template": {"x": 1}}}

FILE: dict[str, Any] = {
    "name": "sums",
    "agents": {
        # A declared agent whose local name is a function's name: the shorthand steps aside.
        "double": DATA,
    },
    "steps": [
        {"stepKey": "add", "function": "total", "inputs": {"values": [1, 2, 3]}},
        {"stepKey": "again", "function": "total", "dependsOn": ["add"]},
        {
            "stepKey": "each",
            "stepType": "LOOP",
            "config": {"function": "double", "items": [1, 2]},
            "dependsOn": ["add"],
        },
        {
            "stepKey": "fan",
            "stepType": "PARALLEL",
            "config": {
                "branches": {"a": {"function": "total"}, "b": {"agent": "double"}},
            },
            "dependsOn": ["add"],
        },
    ],
}


def test_a_function_step_becomes_one_function_agent_per_name(files: WorkflowFiles):
    blueprint = files.blueprint(FILE, OWNER)
    functions = {
        local: agent
        for local, agent in blueprint.agents.items()
        if agent.type is AgentType.FUNCTION
    }
    assert sorted(functions) == ["double_2", "total"]  # "double" is the file's DATA agent
    assert {agent.config["function"] for agent in functions.values()} == {"total", "double"}
    assert {agent.name for agent in functions.values()} == {"total", "double"}
    assert all(agent.user_id == OWNER for agent in blueprint.agents.values())
    steps = {step.step_key: step for step in blueprint.steps}
    total = functions["total"].id
    assert steps["add"].agent_id == steps["again"].agent_id == total
    assert steps["each"].config == {"agentId": str(functions["double_2"].id), "items": [1, 2]}
    branches = steps["fan"].config["branches"]
    assert branches["a"] == {"agentId": str(total)}
    assert branches["b"] == {"agentId": str(blueprint.agents["double"].id)}


def test_an_unregistered_function_is_refused_naming_the_step_and_the_function(
    files: WorkflowFiles,
):
    document = {
        "name": "bad",
        "steps": [
            {"stepKey": "add", "function": "total"},
            {"stepKey": "mystery", "function": "nowhere", "dependsOn": ["add"]},
            {
                "stepKey": "each",
                "stepType": "LOOP",
                "config": {"function": "nowhere", "items": []},
            },
        ],
    }
    with pytest.raises(ValidationFailed) as caught:
        files.blueprint(document, OWNER)
    found = {detail.field: detail.message for detail in caught.value.details}
    assert found == {
        "steps.1.function": "step 'mystery': function 'nowhere' is not registered in this process",
        "steps.2.config.function": (
            "step 'each': function 'nowhere' is not registered in this process"
        ),
    }
    assert "mystery" in str(caught.value) and "nowhere" in str(caught.value)


@pytest.mark.parametrize(
    ("step", "field"),
    [
        ({"stepKey": "s", "agent": "d", "function": "total"}, "steps.0.function"),
        ({"stepKey": "s", "function": ""}, "steps.0.function"),
        ({"stepKey": "s", "function": 3}, "steps.0.function"),
        (
            {"stepKey": "s", "stepType": "LOOP", "config": {"agent": "d", "function": "total"}},
            "steps.0.config.function",
        ),
        (
            {"stepKey": "s", "stepType": "CONDITION", "function": "total", "config": {}},
            "steps.0.function",
        ),
    ],
)
def test_a_bad_function_shorthand_is_a_validation_failure_on_that_step(
    files: WorkflowFiles, step: dict[str, Any], field: str
):
    document = {
        "name": "bad",
        "agents": {"d": DATA},
        "steps": [step],
    }
    with pytest.raises(ValidationFailed) as caught:
        files.blueprint(document, OWNER)
    assert field in {detail.field for detail in caught.value.details}


def test_the_export_writes_the_shorthand_back_and_the_round_trip_holds(files: WorkflowFiles):
    blueprint = files.blueprint(FILE, OWNER)
    by_id = {agent.id: agent for agent in blueprint.agents.values()}
    exported = files.export(blueprint.workflow, blueprint.steps, by_id)
    steps = {step["stepKey"]: step for step in exported["steps"]}
    assert steps["add"]["function"] == "total" and "agent" not in steps["add"]
    assert steps["each"]["config"] == {"function": "double", "items": [1, 2]}
    assert steps["fan"]["config"]["branches"] == {
        "a": {"function": "total"},
        "b": {"agent": "double"},
    }
    assert list(exported["agents"]) == ["double"]  # function agents are not listed

    again = files.blueprint(exported, OWNER)
    assert sorted((a.type, a.name, str(a.config)) for a in again.agents.values()) == sorted(
        (a.type, a.name, str(a.config)) for a in blueprint.agents.values()
    )


def test_a_function_agent_the_shorthand_cannot_recreate_is_exported_in_full(
    files: WorkflowFiles,
):
    document = {
        "name": "described",
        "agents": {
            "sum": {
                "type": "FUNCTION",
                "name": "Sum of values",
                "description": "adds",
                "config": {"function": "total"},
            }
        },
        "steps": [{"stepKey": "add", "agent": "sum"}],
    }
    blueprint = files.blueprint(document, OWNER)
    by_id = {agent.id: agent for agent in blueprint.agents.values()}
    exported = files.export(blueprint.workflow, blueprint.steps, by_id)
    assert exported["steps"][0]["agent"] == "sum_of_values"
    assert exported["agents"]["sum_of_values"]["type"] == "FUNCTION"


async def test_importing_stores_the_function_agents_with_the_workflow(files: WorkflowFiles):
    store = MemoryStore()
    actor = Actor(user_id=LOCAL_OWNER_ID, role=UserRole.USER)
    blueprint = await ImportWorkflow(uow=store.unit_of_work, files=files)(actor, FILE)
    async with store.unit_of_work() as uow:
        stored = [await uow.agents.get(agent.id) for agent in blueprint.agents.values()]
        steps = await uow.steps.for_workflow(blueprint.workflow.id)
    assert [agent for agent in stored if agent is not None] == list(blueprint.agents.values())
    assert {step.step_key for step in steps} == {"add", "again", "each", "fan"}


async def test_an_unregistered_function_stores_nothing(files: WorkflowFiles):
    store = MemoryStore()
    actor = Actor(user_id=LOCAL_OWNER_ID, role=UserRole.USER)
    document = {"name": "bad", "steps": [{"stepKey": "s", "function": "nowhere"}]}
    with pytest.raises(ValidationFailed, match="nowhere"):
        await ImportWorkflow(uow=store.unit_of_work, files=files)(actor, document)
    async with store.unit_of_work() as uow:
        assert (await uow.workflows.list(_everything())).items == []
        assert (await uow.agents.list(_everything())).items == []


def _everything() -> Any:
    from turbocat_core.domain.common import ListQuery

    return ListQuery(page_size=100)
