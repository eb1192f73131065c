"""Child executions through HTTP (the WORKFLOW agent): a parent's children are normal
executions, linked by ``parentExecutionId`` and listed by ``/executions/{id}/children``."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.http.conftest import assert_error
from tests.http.resources import API_STORES
from tests.http.test_workflows_support import (
    EXECUTIONS,
    add_agent,
    create_workflow,
    execute,
    open_flows,
    step,
    wait_until,
)
from turbocat_core.domain.agent import AgentType


@pytest.fixture(params=API_STORES)
async def flows(request: pytest.FixtureRequest) -> Any:
    async with open_flows(request) as api:
        yield api


async def test_a_parent_runs_its_child_and_lists_it(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    picker = add_agent(flows, ada)
    child_wf = await create_workflow(
        flows, ada, [step("pick", picker, inputs={"data": "{{inputs.item}}"})]
    )
    runner = add_agent(
        flows,
        ada,
        {"workflowId": child_wf["id"]},
        name="run child",
        agent_type=AgentType.WORKFLOW,
    )
    parent_wf = await create_workflow(
        flows, ada, [step("call", runner, inputs={"item": "{{inputs.item}}"})]
    )

    started = await execute(flows, ada, parent_wf["id"], {"inputs": {"item": {"a": 3, "b": 4}}})
    parent = await wait_until(flows, ada, started["id"])
    assert parent["status"] == "COMPLETED", parent
    assert parent["outputData"] == {"call": {"pick": {"a": 3}}}
    assert parent["parentExecutionId"] is None and parent["depth"] == 0

    response = await flows.client.get(f"{EXECUTIONS}/{parent['id']}/children", headers=ada.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["meta"]["total"] == 1
    [listed] = body["data"]
    assert listed["parentExecutionId"] == parent["id"] and listed["depth"] == 1
    assert listed["workflowId"] == child_wf["id"] and listed["status"] == "COMPLETED"
    assert listed["triggerType"] == "EVENT"
    assert listed["triggerData"]["parentStepKey"] == "call"

    child = (await flows.client.get(f"{EXECUTIONS}/{listed['id']}", headers=ada.headers)).json()
    assert child["data"]["parentExecutionId"] == parent["id"]
    assert child["data"]["inputData"] == {"item": {"a": 3, "b": 4}}

    filtered = await flows.client.get(
        f"{EXECUTIONS}/{parent['id']}/children?status=FAILED", headers=ada.headers
    )
    assert filtered.json()["meta"]["total"] == 0
    assert_error(
        await flows.client.get(f"{EXECUTIONS}/{parent['id']}/children", headers=bob.headers),
        404,
        "NOT_FOUND",
    )
    assert_error(
        await flows.client.get(f"{EXECUTIONS}/{uuid4()}/children", headers=ada.headers),
        404,
        "NOT_FOUND",
    )
    assert_error(
        await flows.client.get(
            f"{EXECUTIONS}/{parent['id']}/children?status=NOPE", headers=ada.headers
        ),
        400,
        "VALIDATION_ERROR",
    )
