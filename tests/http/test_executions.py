"""Running workflows through HTTP on the in-memory and PostgreSQL stores: execute, the
workflow's executions, ``/executions/{id}`` (read, logs, cancel, retry), ownership and
API-key scopes (SPEC §2, §3). The live stream has its own module."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from tests.http.conftest import assert_error
from tests.http.resources import API_STORES, Api, Person
from tests.http.test_workflows_support import (
    EXECUTIONS,
    WORKFLOWS,
    add_agent,
    audit_entries,
    create_workflow,
    execute,
    open_flows,
    step,
    wait_step,
    wait_until,
)
from turbocat_core.domain.agent import AgentType


@pytest.fixture(params=API_STORES)
async def flows(request: pytest.FixtureRequest) -> Any:
    async with open_flows(request) as api:
        yield api


async def _pick_flow(api: Api, owner: Person, **fields: Any) -> dict[str, Any]:
    """``first`` picks ``a`` from the input ``item``; ``second`` picks ``a`` again from it."""
    agent = add_agent(api, owner)
    return await create_workflow(
        api,
        owner,
        [
            step("first", agent, inputs={"data": "{{inputs.item}}"}),
            step("second", agent, dependsOn=["first"], inputs={"data": "{{first.output}}"}),
        ],
        definition={"inputs": {"item": {"a": 1, "b": 2}, "other": True}},
        **fields,
    )


async def _failing_flow(api: Api, owner: Person) -> dict[str, Any]:
    """``ok`` completes; ``broken`` calls an API agent on loopback, which the SSRF guard
    refuses (no network needed, never retried)."""
    data = add_agent(api, owner)
    remote = add_agent(
        api, owner, {"method": "GET", "url": "http://127.0.0.1:9/"}, agent_type=AgentType.API
    )
    return await create_workflow(
        api,
        owner,
        [
            step("ok", data, inputs={"data": {"a": 1}}),
            step("broken", remote, dependsOn=["ok"]),
        ],
    )


# -- execute -----------------------------------------------------------------------------


async def test_execute_answers_202_pending_then_runs_to_completion(flows):
    ada = await flows.user()
    workflow = await _pick_flow(flows, ada)
    started = await execute(
        flows, ada, workflow["id"], {"inputs": {"item": {"a": 7}}, "metadata": {"ticket": 42}}
    )
    assert started["status"] == "PENDING"
    assert started["triggerType"] == "MANUAL" and started["userId"] == str(ada.id)
    assert started["inputData"] == {"item": {"a": 7}, "other": True}
    assert started["metadata"] == {"ticket": 42}
    assert started["stepsTotal"] == 2 and started["workflowVersion"] == 1
    assert [s["stepKey"] for s in started["steps"]] == ["first", "second"]

    done = await wait_until(flows, ada, started["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputData"] == {"first": {"a": 7}, "second": {"a": 7}}
    assert (done["stepsCompleted"], done["stepsFailed"]) == (2, 0)
    assert done["startedAt"] and done["completedAt"] and done["durationMs"] >= 0
    assert [(r["stepKey"], r["status"], r["attempt"]) for r in done["stepRuns"]] == [
        ("first", "COMPLETED", 1),
        ("second", "COMPLETED", 1),
    ]
    assert done["stepRuns"][1]["output"] == {"a": 7}
    counted = await flows.client.get(f"{WORKFLOWS}/{workflow['id']}", headers=ada.headers)
    assert counted.json()["data"]["totalExecutions"] == 1
    assert counted.json()["data"]["successfulExecutions"] == 1
    [entry] = audit_entries(flows, started["id"])
    assert entry.action == "execution.started" and entry.metadata["trigger"] == "MANUAL"


async def test_execute_without_a_body_takes_the_default_inputs(flows):
    ada = await flows.user()
    workflow = await _pick_flow(flows, ada)
    response = await flows.client.post(f"{WORKFLOWS}/{workflow['id']}/execute", headers=ada.headers)
    assert response.status_code == 202, response.text
    done = await wait_until(flows, ada, response.json()["data"]["id"])
    assert done["outputData"]["second"] == {"a": 1}


async def test_execute_needs_an_active_workflow_with_steps(flows):
    ada = await flows.user()
    draft = await _pick_flow(flows, ada, status="DRAFT")
    empty = await create_workflow(flows, ada, [])
    for workflow in (draft, empty):
        response = await flows.client.post(
            f"{WORKFLOWS}/{workflow['id']}/execute", json={}, headers=ada.headers
        )
        assert_error(response, 409, "INVALID_STATE")
    for body, field in [
        ({"inputs": [1]}, "inputs"),
        ({"metadata": "x"}, "metadata"),
        ({"input": {}}, "input"),
    ]:
        response = await flows.client.post(
            f"{WORKFLOWS}/{draft['id']}/execute", json=body, headers=ada.headers
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert error["details"][0]["field"] == field


async def test_a_pinned_execution_keeps_its_steps_when_the_workflow_changes(flows):
    ada = await flows.user()
    workflow = await create_workflow(flows, ada, [wait_step("slow", 300)])
    started = await execute(flows, ada, workflow["id"])
    patched = await flows.client.patch(
        f"{WORKFLOWS}/{workflow['id']}",
        json={"steps": [{"id": workflow["steps"][0]["id"], "config": {"durationMs": 1}}]},
        headers=ada.headers,
    )
    assert patched.json()["data"]["version"] == 2
    done = await wait_until(flows, ada, started["id"])
    assert done["status"] == "COMPLETED"
    assert done["workflowVersion"] == 1
    assert done["steps"][0]["config"] == {"durationMs": 300}
    assert done["outputData"]["slow"]["waitedMs"] >= 300


# -- a workflow's executions -------------------------------------------------------------


async def test_a_workflows_executions_newest_first_paged_and_filtered(flows):
    ada = await flows.user()
    workflow = await _pick_flow(flows, ada)
    failing = await _failing_flow(flows, ada)
    ids = [(await execute(flows, ada, workflow["id"]))["id"] for _ in range(3)]
    for execution_id in ids:
        await wait_until(flows, ada, execution_id)
    await wait_until(flows, ada, (await execute(flows, ada, failing["id"]))["id"])
    url = f"{WORKFLOWS}/{workflow['id']}/executions"
    page = await flows.client.get(url, params={"pageSize": 2}, headers=ada.headers)
    assert page.status_code == 200, page.text
    assert [e["id"] for e in page.json()["data"]] == ids[::-1][:2]
    assert page.json()["meta"] == {
        "page": 1,
        "pageSize": 2,
        "total": 3,
        "totalPages": 2,
        "hasNext": True,
        "hasPrev": False,
    }
    last = await flows.client.get(url, params={"pageSize": 2, "page": 2}, headers=ada.headers)
    assert [e["id"] for e in last.json()["data"]] == ids[:1]
    oldest = await flows.client.get(url, params={"sortOrder": "asc"}, headers=ada.headers)
    assert [e["id"] for e in oldest.json()["data"]] == ids
    completed = await flows.client.get(url, params={"status": "COMPLETED"}, headers=ada.headers)
    assert completed.json()["meta"]["total"] == 3
    failed = await flows.client.get(url, params={"status": "FAILED"}, headers=ada.headers)
    assert failed.json()["meta"]["total"] == 0
    by_duration = await flows.client.get(url, params={"sortBy": "durationMs"}, headers=ada.headers)
    assert by_duration.status_code == 200
    for params, field in [
        ({"sortBy": "name"}, "sortBy"),
        ({"status": "DONE"}, "status"),
        ({"tags": "x"}, "tags"),
        ({"pageSize": 101}, "pageSize"),
    ]:
        refused = await flows.client.get(url, params=params, headers=ada.headers)
        error = assert_error(refused, 400, "VALIDATION_ERROR")
        assert error["details"][0]["field"] == field


# -- reading one, and its logs -----------------------------------------------------------


async def test_logs_are_ordered_filtered_and_paged(flows):
    ada = await flows.user()
    workflow = await _pick_flow(flows, ada)
    done = await wait_until(flows, ada, (await execute(flows, ada, workflow["id"]))["id"])
    url = f"{EXECUTIONS}/{done['id']}/logs"

    async def lines(**params: Any) -> dict[str, Any]:
        response = await flows.client.get(url, params=params, headers=ada.headers)
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    everything = await lines(pageSize=100)
    seqs = [line["seq"] for line in everything["data"]]
    total = everything["meta"]["total"]
    assert seqs == list(range(1, total + 1)) and total >= 7
    assert everything["data"][0]["message"].startswith("execution queued")
    assert everything["data"][-1]["message"].startswith("execution completed")
    second = await lines(stepKey="second")
    assert [(x["stepStatus"], x["attempt"]) for x in second["data"]] == [
        ("RUNNING", 1),
        ("COMPLETED", 1),
    ]
    assert {x["level"] for x in (await lines(level="INFO"))["data"]} == {"INFO"}
    assert (await lines(level="ERROR"))["meta"]["total"] == 0
    after = await lines(afterSeq=total - 2)
    assert [x["seq"] for x in after["data"]] == [total - 1, total]
    paged = await lines(pageSize=3, page=2)
    assert [x["seq"] for x in paged["data"]] == [4, 5, 6]
    assert paged["meta"]["hasPrev"] is True
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await lines(since=future))["meta"]["total"] == 0
    past = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await lines(since=past))["meta"]["total"] == total
    for params, field in [
        ({"level": "LOUD"}, "level"),
        ({"pageSize": 0}, "pageSize"),
        ({"page": 0}, "page"),
        ({"afterSeq": -1}, "afterSeq"),
        ({"since": "yesterday"}, "since"),
    ]:
        refused = await flows.client.get(url, params=params, headers=ada.headers)
        error = assert_error(refused, 400, "VALIDATION_ERROR")
        assert error["details"][0]["field"] == field


# -- cancel ------------------------------------------------------------------------------


async def test_cancel_stops_a_running_execution_within_a_second(flows):
    ada = await flows.user()
    workflow = await create_workflow(
        flows, ada, [wait_step("nap", 5000), wait_step("after", 1, dependsOn=["nap"])]
    )
    started = await execute(flows, ada, workflow["id"])
    await wait_until(flows, ada, started["id"], {"RUNNING"}, step_status=("nap", "RUNNING"))
    asked = time.monotonic()
    cancelled = await flows.client.post(f"{EXECUTIONS}/{started['id']}/cancel", headers=ada.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["data"]["status"] == "CANCELLED"
    done = await wait_until(
        flows, ada, started["id"], {"CANCELLED"}, timeout=1.0, step_status=("after", "SKIPPED")
    )
    assert time.monotonic() - asked < 1.0
    runs = {run["stepKey"]: run for run in done["stepRuns"]}
    assert runs["nap"]["status"] == "FAILED"
    assert "cancelled" in runs["nap"]["error"]
    assert done["errorMessage"] == "execution was cancelled"
    warned = await flows.client.get(
        f"{EXECUTIONS}/{started['id']}/logs", params={"level": "WARN"}, headers=ada.headers
    )
    assert any("cancelled" in line["message"] for line in warned.json()["data"])
    again = await flows.client.post(f"{EXECUTIONS}/{started['id']}/cancel", headers=ada.headers)
    assert_error(again, 409, "INVALID_STATE")
    assert [e.action for e in audit_entries(flows, started["id"])] == [
        "execution.started",
        "execution.cancelled",
    ]


# -- retry -------------------------------------------------------------------------------


async def test_retry_after_a_failure_reuses_the_completed_steps(flows):
    ada = await flows.user()
    workflow = await _failing_flow(flows, ada)
    failed = await wait_until(flows, ada, (await execute(flows, ada, workflow["id"]))["id"])
    assert failed["status"] == "FAILED"
    assert "refused: 127.0.0.1 is a loopback address" in failed["errorMessage"]
    assert failed["outputData"] == {"ok": {"a": 1}}

    again = await flows.client.post(f"{EXECUTIONS}/{failed['id']}/retry", headers=ada.headers)
    assert again.status_code == 202, again.text
    assert again.json()["data"]["retryOf"] == failed["id"]
    assert again.json()["data"]["status"] == "PENDING"
    second = await wait_until(flows, ada, again.json()["data"]["id"])
    assert second["status"] == "FAILED"
    runs = {run["stepKey"]: run for run in second["stepRuns"]}
    assert runs["ok"]["reusedFrom"] == failed["id"] and runs["ok"]["output"] == {"a": 1}
    assert runs["broken"]["reusedFrom"] is None and runs["broken"]["status"] == "FAILED"

    # Fix the broken step, then take the workflow's latest steps: "ok" is still reused,
    # from the original execution across the chain of retries.
    broken = workflow["steps"][1]
    fixed = await flows.client.patch(
        f"{WORKFLOWS}/{workflow['id']}",
        json={
            "steps": [
                {
                    "id": broken["id"],
                    "agentId": workflow["steps"][0]["agentId"],
                    "inputs": {"data": "{{ok.output}}"},
                }
            ]
        },
        headers=ada.headers,
    )
    assert fixed.status_code == 200, fixed.text
    latest = await flows.client.post(
        f"{EXECUTIONS}/{second['id']}/retry",
        json={"useLatestVersion": True},
        headers=ada.headers,
    )
    assert latest.status_code == 202, latest.text
    third = await wait_until(flows, ada, latest.json()["data"]["id"])
    assert third["status"] == "COMPLETED", third
    assert third["workflowVersion"] == 2
    runs = {run["stepKey"]: run for run in third["stepRuns"]}
    assert runs["ok"]["reusedFrom"] == failed["id"]
    assert runs["broken"]["reusedFrom"] is None and runs["broken"]["output"] == {"a": 1}

    fresh = await flows.client.post(
        f"{EXECUTIONS}/{failed['id']}/retry", json={"fromStart": True}, headers=ada.headers
    )
    fourth = await wait_until(flows, ada, fresh.json()["data"]["id"])
    assert all(run["reusedFrom"] is None for run in fourth["stepRuns"])

    done = await flows.client.post(f"{EXECUTIONS}/{third['id']}/retry", headers=ada.headers)
    assert_error(done, 409, "INVALID_STATE")
    bad = await flows.client.post(
        f"{EXECUTIONS}/{failed['id']}/retry", json={"fromStart": "yes"}, headers=ada.headers
    )
    error = assert_error(bad, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "fromStart"
    assert "execution.retried" in [e.action for e in audit_entries(flows, third["id"])]


# -- who sees what -----------------------------------------------------------------------


async def test_another_users_execution_is_404_on_every_route(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    workflow = await _failing_flow(flows, ada)
    failed = await wait_until(flows, ada, (await execute(flows, ada, workflow["id"]))["id"])
    eid = failed["id"]
    client = flows.client
    for response in [
        await client.get(f"{EXECUTIONS}/{eid}", headers=bob.headers),
        await client.get(f"{EXECUTIONS}/{eid}/logs", headers=bob.headers),
        await client.post(f"{EXECUTIONS}/{eid}/cancel", headers=bob.headers),
        await client.post(f"{EXECUTIONS}/{eid}/retry", json={}, headers=bob.headers),
        await client.get(f"{EXECUTIONS}/{eid}/stream", headers=bob.headers),
        await client.get(f"{EXECUTIONS}/{uuid4()}", headers=ada.headers),
        await client.get(f"{EXECUTIONS}/{uuid4()}/stream", headers=ada.headers),
        await client.get(f"{EXECUTIONS}/12345", headers=ada.headers),
    ]:
        assert_error(response, 404, "NOT_FOUND")


async def test_admins_and_the_workflows_owner_see_executions_others_started(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    root = await flows.admin()
    workflow = await _pick_flow(flows, ada)
    by_admin = await execute(flows, root, workflow["id"])
    assert by_admin["userId"] == str(root.id)
    done = await wait_until(flows, ada, by_admin["id"])  # the owner sees it
    assert done["status"] == "COMPLETED"
    listed = await flows.client.get(f"{WORKFLOWS}/{workflow['id']}/executions", headers=ada.headers)
    assert [e["id"] for e in listed.json()["data"]] == [by_admin["id"]]
    by_owner = await wait_until(flows, ada, (await execute(flows, ada, workflow["id"]))["id"])
    seen = await flows.client.get(f"{EXECUTIONS}/{by_owner['id']}", headers=root.headers)
    assert seen.status_code == 200
    logs = await flows.client.get(f"{EXECUTIONS}/{by_owner['id']}/logs", headers=root.headers)
    assert logs.status_code == 200
    retried = await flows.client.post(f"{EXECUTIONS}/{by_owner['id']}/retry", headers=root.headers)
    assert_error(retried, 409, "INVALID_STATE")  # visible, but COMPLETED
    hidden = await flows.client.get(f"{EXECUTIONS}/{by_owner['id']}", headers=bob.headers)
    assert_error(hidden, 404, "NOT_FOUND")


async def test_api_key_scopes_and_the_api_trigger(flows):
    ada = await flows.user()
    workflow = await create_workflow(flows, ada, [wait_step("nap", 3000)])
    runner = await flows.key(ada, ["executions:write"])
    reader = await flows.key(ada, ["executions:read"])
    flows_only = await flows.key(ada, ["workflows:write"])
    started = await execute(flows, runner, workflow["id"])
    assert started["triggerType"] == "API"
    eid = started["id"]
    client = flows.client
    assert (await client.get(f"{EXECUTIONS}/{eid}", headers=reader)).status_code == 200
    assert (await client.get(f"{EXECUTIONS}/{eid}/logs", headers=reader)).status_code == 200
    assert (
        await client.get(f"{WORKFLOWS}/{workflow['id']}/executions", headers=reader)
    ).status_code == 200
    for response in [
        await client.post(f"{EXECUTIONS}/{eid}/cancel", headers=reader),
        await client.post(f"{EXECUTIONS}/{eid}/retry", headers=reader),
        await client.post(f"{WORKFLOWS}/{workflow['id']}/execute", headers=reader),
        await client.get(f"{EXECUTIONS}/{eid}", headers=flows_only),
        await client.get(f"{EXECUTIONS}/{eid}/logs", headers=flows_only),
        await client.get(f"{EXECUTIONS}/{eid}/stream", headers=flows_only),
        await client.post(f"{EXECUTIONS}/{eid}/cancel", headers=flows_only),
    ]:
        assert_error(response, 403, "FORBIDDEN")
    cancelled = await client.post(f"{EXECUTIONS}/{eid}/cancel", headers=runner)
    assert cancelled.json()["data"]["status"] == "CANCELLED"
    assert (await client.get(f"{EXECUTIONS}/{eid}")).status_code == 401
