"""``/workflows`` through HTTP on the in-memory and PostgreSQL stores: CRUD with steps in one
transaction, the DAG validated, PATCH items (update, create, ``_delete``), listing, soft
delete, ownership, API-key scopes (SPEC §2, §3)."""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest

from tests.http.conftest import assert_error
from tests.http.resources import API_STORES, Api, Person
from tests.http.test_workflows_support import (
    ADULTS,
    WORKFLOWS,
    add_agent,
    audit_entries,
    create_workflow,
    in_app_loop,
    open_flows,
    step,
    wait_step,
)


@pytest.fixture(params=API_STORES)
async def flows(request: pytest.FixtureRequest) -> Any:
    async with open_flows(request) as api:
        yield api


async def _get(api: Api, who: Person | dict[str, str], workflow_id: str) -> Any:
    headers = who.headers if isinstance(who, Person) else who
    return await api.client.get(f"{WORKFLOWS}/{workflow_id}", headers=headers)


async def _patch(api: Api, who: Person, workflow_id: str, body: dict[str, Any]) -> Any:
    return await api.client.patch(f"{WORKFLOWS}/{workflow_id}", json=body, headers=who.headers)


async def _three_steps(api: Api, owner: Person) -> dict[str, Any]:
    agent = add_agent(api, owner)
    return await create_workflow(
        api,
        owner,
        [
            step("a", agent, inputs={"data": {"a": 1}}),
            step("b", agent, inputs={"data": "{{a.output}}"}, dependsOn=["a"]),
            wait_step("c", 1),
        ],
    )


def _deleted_at(api: Api, table: str, row_id: str) -> Any:
    """The stored row's ``deleted_at``, read past the repositories (soft-deleted rows stay)."""
    if api.kind == "memory":
        return in_app_loop(api, _peek, api, table, row_id)
    dsn = api.container.settings().database_url
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            f"SELECT deleted_at FROM {table} WHERE id = %s",
            (UUID(row_id),),
        ).fetchone()
    assert row is not None, "the row is gone from the table"
    return row[0]


async def _peek(api: Api, table: str, row_id: str) -> Any:
    row = api.container.store().peek(table, UUID(row_id))
    assert row is not None, "the row is gone from the store"
    return row.deleted_at


# -- create and read ---------------------------------------------------------------------


async def test_create_answers_201_with_the_workflow_and_its_steps_in_order(flows):
    ada = await flows.user()
    agent = add_agent(flows, ada)
    body = {
        "name": "  Nightly  ",
        "description": "d",
        "definition": {"inputs": {"n": 1}},
        "triggerConfig": {"k": "v"},
        "scheduleEnabled": True,
        "scheduleCron": "0 3 * * *",
        "scheduleTimezone": "Europe/Paris",
        "timeoutSeconds": 120,
        "maxConcurrency": 4,
        "concurrencyLimit": 2,
        "tags": ["etl", "nightly"],
        "isPublic": True,
        "steps": [
            step("late", agent, position=5, inputs={"data": {"a": 1}}),
            step("early", agent, stepName="First", inputs={"data": {"a": 2}}),
            wait_step("pause", 10, dependsOn=["early"], retryCount=2, onError="CONTINUE"),
        ],
    }
    created = await flows.client.post(WORKFLOWS, json=body, headers=ada.headers)
    assert created.status_code == 201, created.text
    data = created.json()["data"]
    assert data["name"] == "Nightly"
    assert data["userId"] == str(ada.id)
    assert data["status"] == "DRAFT" and data["version"] == 1
    assert data["scheduleCron"] == "0 3 * * *" and data["concurrencyLimit"] == 2
    assert data["tags"] == ["etl", "nightly"] and data["isPublic"] is True
    # Ordered by position (defaulting to the list order), then key.
    assert [s["stepKey"] for s in data["steps"]] == ["early", "pause", "late"]
    early, pause, late = data["steps"]
    assert (early["position"], early["stepName"]) == (1, "First")
    assert (pause["stepName"], pause["stepType"], pause["agentId"]) == ("pause", "WAIT", None)
    assert (pause["retryCount"], pause["onError"], pause["dependsOn"]) == (2, "CONTINUE", ["early"])
    assert late["position"] == 5 and late["agentId"] == agent
    assert all(s["workflowId"] == data["id"] for s in data["steps"])

    read = await _get(flows, ada, data["id"])
    assert read.status_code == 200
    assert read.json()["data"] == data
    [entry] = audit_entries(flows, data["id"])
    assert entry.action == "workflow.created" and entry.user_id == ada.id


async def test_create_refusals_name_the_field_and_store_nothing(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    mine = add_agent(flows, ada)
    bobs = add_agent(flows, bob)
    wait = wait_step("w", 1)
    cases: list[tuple[dict[str, Any], str]] = [
        ({"steps": []}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x", "maxConcurrency": 0}, "maxConcurrency"),
        ({"name": "x", "maxConcurrency": 65}, "maxConcurrency"),
        ({"name": "x", "timeoutSeconds": 0}, "timeoutSeconds"),
        ({"name": "x", "timeoutSeconds": 86_401}, "timeoutSeconds"),
        ({"name": "x", "concurrencyLimit": 0}, "concurrencyLimit"),
        ({"name": "x", "status": "RUNNING"}, "status"),
        ({"name": "x", "colour": "red"}, "colour"),
        ({"name": "x", "definition": {"inputs": [1]}}, "definition.inputs"),
        ({"name": "x", "scheduleEnabled": True}, "scheduleCron"),
        ({"name": "x", "scheduleCron": "61 * * * *"}, "scheduleCron"),
        ({"name": "x", "scheduleTimezone": "Mars/Olympus"}, "scheduleTimezone"),
        ({"name": "x", "tags": [" "]}, "tags"),
        ({"name": "x", "steps": [wait, {**wait, "retryCount": 11}]}, "steps.1.retryCount"),
        ({"name": "x", "steps": [{**wait, "retryDelayMs": 300_001}]}, "steps.0.retryDelayMs"),
        ({"name": "x", "steps": [{**wait, "stepKey": "9lives"}]}, "steps.0.stepKey"),
        ({"name": "x", "steps": [wait, wait]}, "steps.1.stepKey"),
        ({"name": "x", "steps": [{**wait, "dependsOn": ["nope"]}]}, "steps.0.dependsOn"),
        ({"name": "x", "steps": [{**wait, "dependsOn": ["w"]}]}, "steps.0.dependsOn"),
        ({"name": "x", "steps": [{**wait, "agentId": mine}]}, "steps.0.agentId"),
        ({"name": "x", "steps": [{**wait, "config": {}}]}, "steps.0.config"),
        ({"name": "x", "steps": [{**wait, "stepType": "SLEEP"}]}, "steps.0.stepType"),
        ({"name": "x", "steps": [{**wait, "colour": 1}]}, "steps.0.colour"),
        ({"name": "x", "steps": [step("a")]}, "steps.0.agentId"),
        ({"name": "x", "steps": [step("a", bobs)]}, "steps.0.agentId"),
        ({"name": "x", "steps": [step("a", str(uuid4()))]}, "steps.0.agentId"),
        (
            {"name": "x", "steps": [wait, step("a", mine, inputs={"d": "{{w2.output}}"})]},
            "steps.1.inputs",
        ),
    ]
    for body, field in cases:
        response = await flows.client.post(WORKFLOWS, json=body, headers=ada.headers)
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert field in [d["field"] for d in error["details"]], (body, error)
    listed = await flows.client.get(WORKFLOWS, headers=ada.headers)
    assert listed.json()["meta"]["total"] == 0


async def test_a_cycle_is_400_with_the_cycle_path(flows):
    ada = await flows.user()
    steps = [
        wait_step("a", 1, dependsOn=["c"]),
        wait_step("b", 1, dependsOn=["a"]),
        wait_step("c", 1, dependsOn=["b"]),
        wait_step("d", 1),
    ]
    response = await flows.client.post(
        WORKFLOWS, json={"name": "loop", "steps": steps}, headers=ada.headers
    )
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert "a -> b -> c -> a" in error["message"]
    assert error["details"] == [{"field": "steps", "message": "cycle: a -> b -> c -> a"}]
    listed = await flows.client.get(WORKFLOWS, headers=ada.headers)
    assert listed.json()["meta"]["total"] == 0


async def test_a_public_agent_of_another_user_may_be_used(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    shared = add_agent(flows, bob, is_public=True)
    workflow = await create_workflow(flows, ada, [step("a", shared)])
    assert workflow["steps"][0]["agentId"] == shared


# -- patch -------------------------------------------------------------------------------


async def test_patch_changes_only_what_is_sent_and_bumps_version_for_run_settings(flows):
    ada = await flows.user()
    workflow = await _three_steps(flows, ada)
    renamed = await _patch(flows, ada, workflow["id"], {"name": "renamed", "description": None})
    assert renamed.status_code == 200, renamed.text
    data = renamed.json()["data"]
    assert (data["name"], data["description"], data["version"]) == ("renamed", None, 1)
    assert data["steps"] == workflow["steps"]

    tuned = await _patch(flows, ada, workflow["id"], {"maxConcurrency": 2, "isPublic": True})
    assert tuned.json()["data"]["version"] == 2
    same = await _patch(flows, ada, workflow["id"], {"maxConcurrency": 2})
    assert same.json()["data"]["version"] == 2  # nothing changed
    entries = [e for e in audit_entries(flows, workflow["id"]) if e.action == "workflow.updated"]
    assert entries[0].changes == {"name": {"from": "flow", "to": "renamed"}}
    assert entries[1].changes["maxConcurrency"] == {"from": 8, "to": 2}
    assert entries[1].changes["version"] == {"from": 1, "to": 2}

    refused = await _patch(flows, ada, workflow["id"], {"scheduleEnabled": True})
    assert_error(refused, 400, "VALIDATION_ERROR")
    assert refused.json()["error"]["details"][0]["field"] == "scheduleCron"


async def test_patch_steps_update_create_and_delete_in_one_request(flows):
    ada = await flows.user()
    workflow = await _three_steps(flows, ada)
    a, b, c = workflow["steps"]
    body = {
        "steps": [
            {"id": b["id"], "inputs": {"data": {"a": 9}}, "dependsOn": [], "retryCount": 3},
            step("d", a["agentId"], dependsOn=["b"], inputs={"data": "{{b.output}}"}),
            {"id": c["id"], "_delete": True},
        ]
    }
    patched = await _patch(flows, ada, workflow["id"], body)
    assert patched.status_code == 200, patched.text
    data = patched.json()["data"]
    assert data["version"] == 2
    assert [s["stepKey"] for s in data["steps"]] == ["a", "b", "d"]
    new_a, new_b, new_d = data["steps"]
    assert new_a == a  # not mentioned: unchanged
    assert new_b["id"] == b["id"] and new_b["inputs"] == {"data": {"a": 9}}
    assert new_b["retryCount"] == 3 and new_b["dependsOn"] == []
    assert new_b["stepType"] == "AGENT" and new_b["agentId"] == a["agentId"]
    assert new_d["position"] == 3 and new_d["dependsOn"] == ["b"]
    assert (await _get(flows, ada, workflow["id"])).json()["data"] == data
    [entry] = [e for e in audit_entries(flows, workflow["id"]) if e.action == "workflow.updated"]
    assert entry.changes["steps"] == {"added": ["d"], "updated": ["b"], "removed": ["c"]}


async def test_a_patch_with_one_bad_item_changes_nothing(flows):
    ada = await flows.user()
    workflow = await _three_steps(flows, ada)
    other = await _three_steps(flows, ada)
    a, b, _ = workflow["steps"]
    good = {"id": a["id"], "inputs": {"data": {"a": 5}}}
    bad_bodies: list[tuple[dict[str, Any], str]] = [
        (
            {"name": "new", "steps": [good, wait_step("x", 1, dependsOn=["zz"])]},
            "steps.1.dependsOn",
        ),
        ({"steps": [good, {"id": str(uuid4()), "retryCount": 1}]}, "steps.1.id"),
        ({"steps": [good, {"id": other["steps"][0]["id"], "retryCount": 1}]}, "steps.1.id"),
        ({"steps": [good, {"id": a["id"], "retryCount": 1}]}, "steps.1.id"),
        ({"steps": [good, {"retryCount": 1}]}, "steps.1.stepKey"),
        ({"steps": [good, {"_delete": True}]}, "steps.1.id"),
        ({"steps": [good, {"id": b["id"], "retryCount": 99}]}, "steps.1.retryCount"),
        ({"steps": [good, {"id": b["id"], "stepKey": "a"}]}, "steps.1.stepKey"),
        ({"steps": [good, {"id": b["id"], "agentId": str(uuid4())}]}, "steps.1.agentId"),
        (
            {"maxConcurrency": 3, "steps": [good, {"id": b["id"], "stepType": "WAIT"}]},
            "steps.1.agentId",
        ),
        # Deleting a step another one depends on names the untouched dependent by its key.
        ({"steps": [good, {"id": a["id"], "_delete": True}]}, "steps.1.id"),
        ({"steps": [{"id": a["id"], "_delete": True}]}, "steps.b.dependsOn"),
    ]
    for body, field in bad_bodies:
        response = await _patch(flows, ada, workflow["id"], body)
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert field in [d["field"] for d in error["details"]], (body, error)
    cycle = await _patch(
        flows, ada, workflow["id"], {"steps": [good, {"id": a["id"], "dependsOn": ["b"]}]}
    )
    assert cycle.status_code == 400
    cycle = await _patch(
        flows, ada, workflow["id"], {"steps": [{"id": a["id"], "dependsOn": ["b"]}]}
    )
    error = assert_error(cycle, 400, "VALIDATION_ERROR")
    assert "a -> b -> a" in error["message"]
    after = await _get(flows, ada, workflow["id"])
    assert after.json()["data"] == workflow
    assert [e.action for e in audit_entries(flows, workflow["id"])] == ["workflow.created"]


async def test_patch_steps_may_swap_keys_and_reuse_a_deleted_key(flows):
    ada = await flows.user()
    workflow = await create_workflow(flows, ada, [wait_step("a", 1), wait_step("b", 2)])
    a, b = workflow["steps"]
    swapped = await _patch(
        flows,
        ada,
        workflow["id"],
        {"steps": [{"id": a["id"], "stepKey": "b"}, {"id": b["id"], "stepKey": "a"}]},
    )
    assert swapped.status_code == 200, swapped.text
    keys = {s["id"]: (s["stepKey"], s["stepName"]) for s in swapped.json()["data"]["steps"]}
    assert keys == {a["id"]: ("b", "b"), b["id"]: ("a", "a")}
    recreated = await _patch(
        flows,
        ada,
        workflow["id"],
        {"steps": [{"id": a["id"], "_delete": True}, wait_step("b", 3)]},
    )
    assert recreated.status_code == 200, recreated.text
    steps = recreated.json()["data"]["steps"]
    assert sorted(s["stepKey"] for s in steps) == ["a", "b"]
    assert a["id"] not in {s["id"] for s in steps}


# -- list --------------------------------------------------------------------------------


async def test_list_pages_filters_sorts_and_refuses_unknown_sort_fields(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    for i in range(5):
        await create_workflow(
            flows,
            ada,
            [],
            name=f"flow {i}",
            status="ACTIVE" if i % 2 else "DRAFT",
            tags=["even"] if i % 2 == 0 else ["odd"],
            isPublic=i == 4,
            **({"scheduleEnabled": True, "scheduleCron": "0 3 * * *"} if i == 2 else {}),
        )
    await create_workflow(flows, bob, [], name="bob's", isPublic=True)
    page = await flows.client.get(
        WORKFLOWS,
        params={"pageSize": 2, "page": 3, "sortBy": "name", "sortOrder": "asc"},
        headers=ada.headers,
    )
    assert page.status_code == 200, page.text
    body = page.json()
    assert [w["name"] for w in body["data"]] == ["flow 4"]
    assert body["meta"] == {
        "page": 3,
        "pageSize": 2,
        "total": 5,
        "totalPages": 3,
        "hasNext": False,
        "hasPrev": True,
    }
    beyond = await flows.client.get(WORKFLOWS, params={"page": 9}, headers=ada.headers)
    assert beyond.json()["data"] == [] and beyond.json()["meta"]["total"] == 5

    async def names(**params: Any) -> list[str]:
        got = await flows.client.get(
            WORKFLOWS, params={"sortBy": "name", "sortOrder": "asc", **params}, headers=ada.headers
        )
        assert got.status_code == 200, got.text
        return [w["name"] for w in got.json()["data"]]

    assert await names(status="ACTIVE") == ["flow 1", "flow 3"]
    assert await names(isPublic="true") == ["flow 4"]
    assert await names(scheduleEnabled="true") == ["flow 2"]
    assert len(await names(scheduleEnabled="false")) == 4
    assert await names(tags="even") == ["flow 0", "flow 2", "flow 4"]
    assert await names(search="FLOW 3") == ["flow 3"]
    for params, field in [
        ({"sortBy": "colour"}, "sortBy"),
        ({"status": "RUNNING"}, "status"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"page": 0}, "page"),
    ]:
        refused = await flows.client.get(WORKFLOWS, params=params, headers=ada.headers)
        error = assert_error(refused, 400, "VALIDATION_ERROR")
        assert error["details"][0]["field"] == field
    other = await flows.client.get(WORKFLOWS, params={"userId": str(bob.id)}, headers=ada.headers)
    assert_error(other, 403, "FORBIDDEN")


async def test_an_admin_lists_everyones_workflows_and_filters_by_user(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    root = await flows.admin()
    await create_workflow(flows, ada, [], name="ada's")
    await create_workflow(flows, bob, [], name="bob's")
    everything = await flows.client.get(WORKFLOWS, headers=root.headers)
    assert {w["name"] for w in everything.json()["data"]} == {"ada's", "bob's"}
    only_bob = await flows.client.get(
        WORKFLOWS, params={"userId": str(bob.id)}, headers=root.headers
    )
    assert [w["name"] for w in only_bob.json()["data"]] == ["bob's"]
    mine = await flows.client.get(WORKFLOWS, headers=ada.headers)
    assert [w["name"] for w in mine.json()["data"]] == ["ada's"]


# -- delete, ownership -------------------------------------------------------------------


async def test_delete_is_soft(flows):
    ada = await flows.user()
    workflow = await _three_steps(flows, ada)
    deleted = await flows.client.delete(f"{WORKFLOWS}/{workflow['id']}", headers=ada.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(await _get(flows, ada, workflow["id"]), 404, "NOT_FOUND")
    assert_error(await _patch(flows, ada, workflow["id"], {"name": "x"}), 404, "NOT_FOUND")
    again = await flows.client.delete(f"{WORKFLOWS}/{workflow['id']}", headers=ada.headers)
    assert_error(again, 404, "NOT_FOUND")
    listed = await flows.client.get(WORKFLOWS, headers=ada.headers)
    assert listed.json()["meta"]["total"] == 0
    assert _deleted_at(flows, "workflows", workflow["id"]) is not None
    assert audit_entries(flows, workflow["id"])[-1].action == "workflow.deleted"


async def test_another_users_private_workflow_is_404_on_every_route(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    workflow = await _three_steps(flows, ada)
    wid = workflow["id"]
    client = flows.client
    for response in [
        await client.get(f"{WORKFLOWS}/{wid}", headers=bob.headers),
        await client.patch(f"{WORKFLOWS}/{wid}", json={"name": "x"}, headers=bob.headers),
        await client.delete(f"{WORKFLOWS}/{wid}", headers=bob.headers),
        await client.post(f"{WORKFLOWS}/{wid}/execute", json={}, headers=bob.headers),
        await client.get(f"{WORKFLOWS}/{wid}/executions", headers=bob.headers),
        await client.get(f"{WORKFLOWS}/{wid}/export", headers=bob.headers),
        await client.get(f"{WORKFLOWS}/not-a-uuid", headers=bob.headers),
        await client.get(f"{WORKFLOWS}/{uuid4()}", headers=ada.headers),
    ]:
        assert_error(response, 404, "NOT_FOUND")
    assert (await _get(flows, ada, wid)).json()["data"] == workflow


async def test_a_public_workflow_is_readable_but_only_its_owner_changes_it(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    workflow = await create_workflow(flows, ada, [wait_step("w", 1)], isPublic=True)
    wid = workflow["id"]
    assert (await _get(flows, bob, wid)).status_code == 200
    assert (
        await flows.client.get(f"{WORKFLOWS}/{wid}/export", headers=bob.headers)
    ).status_code == 200
    for response in [
        await _patch(flows, bob, wid, {"name": "mine"}),
        await flows.client.delete(f"{WORKFLOWS}/{wid}", headers=bob.headers),
        await flows.client.post(f"{WORKFLOWS}/{wid}/execute", headers=bob.headers),
    ]:
        assert_error(response, 403, "FORBIDDEN")
    run = await flows.client.post(f"{WORKFLOWS}/{wid}/execute", headers=bob.headers)
    assert assert_error(run, 403, "FORBIDDEN")["message"] == "only the owner may run this workflow"
    listed = await flows.client.get(f"{WORKFLOWS}/{wid}/executions", headers=bob.headers)
    assert listed.status_code == 200 and listed.json()["data"] == []


async def test_an_admin_reads_changes_and_deletes_any_workflow(flows):
    ada = await flows.user()
    root = await flows.admin()
    workflow = await _three_steps(flows, ada)
    wid = workflow["id"]
    assert (await _get(flows, root, wid)).status_code == 200
    patched = await _patch(flows, root, wid, {"steps": [wait_step("z", 1)]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["data"]["userId"] == str(ada.id)
    # The owner's agents are the ones that count, whoever edits.
    bad = await _patch(flows, root, wid, {"steps": [step("y", add_agent(flows, root))]})
    assert_error(bad, 400, "VALIDATION_ERROR")
    assert (
        await flows.client.delete(f"{WORKFLOWS}/{wid}", headers=root.headers)
    ).status_code == 204
    assert_error(await _get(flows, ada, wid), 404, "NOT_FOUND")


async def test_api_key_scopes(flows):
    ada = await flows.user()
    workflow = await _three_steps(flows, ada)
    wid = workflow["id"]
    reader = await flows.key(ada, ["workflows:read"])
    writer = await flows.key(ada, ["workflows:write"])
    runs_only = await flows.key(ada, ["executions:write"])
    client = flows.client
    assert (await client.get(WORKFLOWS, headers=reader)).status_code == 200
    assert (await _get(flows, reader, wid)).status_code == 200
    assert (await client.get(f"{WORKFLOWS}/{wid}/export", headers=reader)).status_code == 200
    for response in [
        await client.post(WORKFLOWS, json={"name": "x"}, headers=reader),
        await client.patch(f"{WORKFLOWS}/{wid}", json={"name": "x"}, headers=reader),
        await client.delete(f"{WORKFLOWS}/{wid}", headers=reader),
        await client.post(f"{WORKFLOWS}/import", json={"name": "x"}, headers=reader),
        await client.post(f"{WORKFLOWS}/{wid}/execute", headers=writer),
        await client.get(f"{WORKFLOWS}/{wid}/executions", headers=writer),
        await client.get(WORKFLOWS, headers=runs_only),
    ]:
        assert_error(response, 403, "FORBIDDEN")
    created = await client.post(WORKFLOWS, json={"name": "by key"}, headers=writer)
    assert created.status_code == 201, created.text  # write implies read
    patched = await client.patch(f"{WORKFLOWS}/{wid}", json={"name": "k"}, headers=writer)
    assert patched.status_code == 200
    assert (await client.get(WORKFLOWS)).status_code == 401


async def test_malformed_bodies_are_400_not_500(flows):
    ada = await flows.user()
    workflow = await _three_steps(flows, ada)
    for body in [[], "x", {"steps": {}}, {"steps": [1]}, {"steps": [{"id": "nope"}]}]:
        response = await _patch(flows, ada, workflow["id"], body)  # type: ignore[arg-type]
        assert_error(response, 400, "VALIDATION_ERROR")
    bad_agent = await flows.client.post(
        WORKFLOWS, json={"name": "x", "steps": [step("a", "not-a-uuid")]}, headers=ada.headers
    )
    error = assert_error(bad_agent, 400, "VALIDATION_ERROR")
    assert error["details"][0]["field"] == "steps.0.agentId"
    adult = add_agent(flows, ada, ADULTS)
    ok = await flows.client.post(
        WORKFLOWS, json={"name": "x", "steps": [step("a", adult)]}, headers=ada.headers
    )
    assert ok.status_code == 201
