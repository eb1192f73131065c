"""``POST /workflows/import`` and ``GET /workflows/{id}/export`` (SPEC §5): a workflow file
moves between accounts and runs the same there."""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.conftest import API, assert_error
from tests.http.resources import API_STORES
from tests.http.test_workflows_support import (
    SUM_AGES,
    WORKFLOWS,
    add_agent,
    audit_entries,
    create_workflow,
    execute,
    open_flows,
    step,
    wait_until,
)

PEOPLE = [{"name": "a", "age": 30}, {"name": "b", "age": 12}, {"name": "c", "age": 40}]
FILE: dict[str, Any] = {
    "name": "Adults",
    "description": "who is grown up",
    "inputs": {"people": PEOPLE},
    "tags": ["demo"],
    "maxConcurrency": 2,
    "agents": {
        "adults": {
            "type": "DATA",
            "config": {"operation": "filter", "field": "age", "operator": "gte", "value": 18},
        },
        "total": {
            "type": "DATA",
            "config": {"operation": "aggregate", "field": "age", "function": "sum"},
        },
    },
    "steps": [
        {"stepKey": "grown", "agent": "adults", "inputs": {"data": "{{inputs.people}}"}},
        {
            "stepKey": "sum",
            "agent": "total",
            "dependsOn": ["grown"],
            "inputs": {"data": "{{grown.output}}"},
        },
    ],
}


@pytest.fixture(params=API_STORES)
async def flows(request: pytest.FixtureRequest) -> Any:
    async with open_flows(request) as api:
        yield api


async def test_import_answers_201_with_the_workflow_and_its_steps(flows):
    ada = await flows.user()
    response = await flows.client.post(f"{WORKFLOWS}/import", json=FILE, headers=ada.headers)
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    assert (data["name"], data["status"], data["userId"]) == ("Adults", "DRAFT", str(ada.id))
    assert data["definition"] == {"inputs": {"people": PEOPLE}}
    assert data["maxConcurrency"] == 2 and data["tags"] == ["demo"]
    assert [s["stepKey"] for s in data["steps"]] == ["grown", "sum"]
    assert all(s["agentId"] for s in data["steps"])
    assert (await flows.client.get(f"{WORKFLOWS}/{data['id']}", headers=ada.headers)).json()[
        "data"
    ] == data
    [entry] = audit_entries(flows, data["id"])
    assert entry.action == "workflow.imported" and len(entry.metadata["agents"]) == 2

    active = await flows.client.post(
        f"{WORKFLOWS}/import", params={"status": "ACTIVE"}, json=FILE, headers=ada.headers
    )
    assert active.json()["data"]["status"] == "ACTIVE"
    run = await execute(flows, ada, active.json()["data"]["id"])
    done = await wait_until(flows, ada, run["id"])
    assert done["status"] == "COMPLETED", done
    assert done["outputData"]["sum"] == 70


async def test_import_errors_name_the_files_paths(flows):
    ada = await flows.user()
    cases: list[tuple[Any, str]] = [
        ({**FILE, "name": 3}, "name"),
        ({**FILE, "colour": "red"}, "colour"),
        ({**FILE, "steps": []}, "steps"),
        ({**FILE, "steps": [{**FILE["steps"][0], "agent": "adultz"}]}, "steps.0.agent"),
        (
            {**FILE, "agents": {"adults": {"type": "DATA", "config": {"operation": "nope"}}}},
            "agents.adults.config.operation",
        ),
        ({**FILE, "agents": {"adults": {"type": "ROBOT", "config": {}}}}, "agents.adults.type"),
        ({**FILE, "steps": [{**FILE["steps"][1], "dependsOn": ["ghost"]}]}, "steps.0.dependsOn"),
    ]
    for document, field in cases:
        response = await flows.client.post(
            f"{WORKFLOWS}/import", json=document, headers=ada.headers
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert field in [d["field"] for d in error["details"]], (field, error)
    not_an_object = await flows.client.post(f"{WORKFLOWS}/import", json=[1], headers=ada.headers)
    assert_error(not_an_object, 400, "VALIDATION_ERROR")
    bad_status = await flows.client.post(
        f"{WORKFLOWS}/import", params={"status": "ON"}, json=FILE, headers=ada.headers
    )
    assert_error(bad_status, 400, "VALIDATION_ERROR")
    listed = await flows.client.get(WORKFLOWS, headers=ada.headers)
    assert listed.json()["meta"]["total"] == 0


async def test_export_imports_into_another_account_and_runs_the_same(flows):
    ada = await flows.user()
    bob = await flows.user("bob@example.com")
    carol = await flows.user("carol@example.com")
    adults = add_agent(
        flows,
        ada,
        {"operation": "filter", "field": "age", "operator": "gte", "value": 18},
        name="Adults only",
    )
    shared = add_agent(flows, carol, SUM_AGES, name="Sum (shared)", is_public=True)
    workflow = await create_workflow(
        flows,
        ada,
        [
            step("grown", adults, inputs={"data": "{{inputs.people}}"}),
            step("sum", shared, dependsOn=["grown"], inputs={"data": "{{grown.output}}"}),
            {
                "stepKey": "each",
                "stepType": "LOOP",
                "dependsOn": ["grown"],
                "config": {
                    "items": "{{grown.output}}",
                    "agentId": adults,
                    "inputs": {"data": ["{{loop.item}}"]},
                },
            },
        ],
        definition={"inputs": {"people": PEOPLE}},
        isPublic=True,
    )
    first = await wait_until(flows, ada, (await execute(flows, ada, workflow["id"]))["id"])
    assert first["status"] == "COMPLETED", first

    exported = await flows.client.get(f"{WORKFLOWS}/{workflow['id']}/export", headers=bob.headers)
    assert exported.status_code == 200, exported.text
    document = exported.json()["data"]
    assert set(document["agents"]) == {"adults_only", "sum_shared"}
    assert document["agents"]["sum_shared"]["config"] == SUM_AGES
    assert document["inputs"] == {"people": PEOPLE}
    assert document["steps"][2]["config"]["agent"] == "adults_only"
    assert "agentId" not in document["steps"][2]["config"]

    imported = await flows.client.post(
        f"{WORKFLOWS}/import", params={"status": "ACTIVE"}, json=document, headers=bob.headers
    )
    assert imported.status_code == 201, imported.text
    copy = imported.json()["data"]
    assert copy["userId"] == str(bob.id) and copy["id"] != workflow["id"]
    assert {s["agentId"] for s in copy["steps"]}.isdisjoint({adults, shared})
    second = await wait_until(flows, bob, (await execute(flows, bob, copy["id"]))["id"])
    assert second["status"] == "COMPLETED", second
    assert second["outputData"] == first["outputData"]
    assert second["outputData"]["sum"] == 70


PAUSE_FILE: dict[str, Any] = {
    "name": "Pause",
    "steps": [{"stepKey": "pause", "stepType": "WAIT", "config": {"durationMs": 1}}],
}


async def _names(flows: Any, owner: Any, resource: str) -> list[str]:
    listing = await flows.client.get(f"{API}/{resource}", headers=owner.headers)
    assert listing.status_code == 200, listing.text
    return sorted(item["name"] for item in listing.json()["data"])


async def test_importing_a_file_with_agents_needs_agents_write_too(flows):
    """Issue 11, item 8: a key scoped workflows:write created the file's agents."""
    ada = await flows.user()
    workflows_only = await flows.key(ada, ["workflows:write"])
    refused = await flows.client.post(f"{WORKFLOWS}/import", json=FILE, headers=workflows_only)
    error = assert_error(refused, 403, "FORBIDDEN")
    assert "agents:write" in error["message"]
    assert await _names(flows, ada, "agents") == []
    assert await _names(flows, ada, "workflows") == []

    # A file without agents creates none: workflows:write is enough.
    paused = await flows.client.post(f"{WORKFLOWS}/import", json=PAUSE_FILE, headers=workflows_only)
    assert paused.status_code == 201, paused.text
    assert await _names(flows, ada, "agents") == []

    both = await flows.key(ada, ["workflows:write", "agents:write"])
    imported = await flows.client.post(f"{WORKFLOWS}/import", json=FILE, headers=both)
    assert imported.status_code == 201, imported.text
    assert len(await _names(flows, ada, "agents")) == 2
    assert await _names(flows, ada, "workflows") == ["Adults", "Pause"]
