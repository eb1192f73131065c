"""``/deployments`` through HTTP on the in-memory and PostgreSQL stores: create (webhook
secret shown once, variables encrypted and masked), read (health), list, update, delete
(soft), start/stop, the event log, visibility and API-key scopes (SPEC §1, §3)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import msgspec
import pytest

from tests.http.conftest import API, assert_error
from tests.http.resources import API_STORES, Api, Person, make_api
from turbocat_adapters.crypto import AesGcmSecretBox
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, ExecutionId, StepId, UserId, WorkflowId
from turbocat_core.domain.execution import Execution, ExecutionStatus
from turbocat_core.domain.workflow import StepType, Workflow, WorkflowStatus, WorkflowStep
from turbocat_http.deployments import routes as deployment_routes
from turbocat_http.deployments.schemas import DeploymentOut
from turbocat_http.hooks import routes as hook_routes
from turbocat_http.routes import API_ROUTERS

DEPLOYMENTS = f"{API}/deployments"
ROUTERS = [r for r in (deployment_routes.router, hook_routes.router) if r not in API_ROUTERS]
WIRE_FIELDS = {field.encode_name for field in msgspec.structs.fields(DeploymentOut)}
T0 = datetime(2026, 1, 1, tzinfo=UTC)
T = TypeVar("T")


@contextlib.asynccontextmanager
async def open_dapi(kind: str, dsn: str | None) -> AsyncIterator[Api]:
    """An app on a fresh ``kind`` store with the deployments and hooks routers."""
    async with make_api(kind, postgres_dsn=dsn, routers=ROUTERS) as started:
        yield started
        in_app(started, started.container.queue().drain)


@pytest.fixture(params=API_STORES)
async def dapi(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with open_dapi(request.param, dsn) as started:
        yield started


# --- helpers (test_hooks.py uses them too) ---------------------------------------------


def in_app(api: Api, function: Callable[[], Awaitable[T]]) -> T:
    return api.in_app(function)


async def add(api: Api, repository: str, *entities: Any) -> None:
    async def write() -> None:
        async with api.container.uow()() as uow:
            for entity in entities:
                await getattr(uow, repository).add(entity)
            await uow.commit()

    in_app(api, write)


async def read(api: Api, repository: str, entity_id: Any) -> Any:
    async def get() -> Any:
        async with api.container.uow()() as uow:
            return await getattr(uow, repository).get(UUID(str(entity_id)))

    return in_app(api, get)


async def change(api: Api, repository: str, entity: Any) -> None:
    async def write() -> None:
        async with api.container.uow()() as uow:
            await getattr(uow, repository).update(entity)
            await uow.commit()

    in_app(api, write)


async def make_workflow(api: Api, owner: Person, *, steps: bool = True, **fields: Any) -> Workflow:
    """An ACTIVE workflow of ``owner`` with one DATA step (``unique`` over ``inputs.items``)."""
    workflow = Workflow(
        id=WorkflowId(uuid4()),
        created_at=T0,
        updated_at=T0,
        user_id=UserId(owner.id),
        name="wf",
        status=WorkflowStatus.ACTIVE,
        **fields,
    )
    await add(api, "workflows", workflow)
    if steps:
        agent = await make_agent(api, owner)
        step = WorkflowStep(
            id=StepId(uuid4()),
            created_at=T0,
            updated_at=T0,
            workflow_id=workflow.id,
            step_key="dedupe",
            step_name="dedupe",
            step_type=StepType.AGENT,
            agent_id=agent.id,
            inputs={"data": "{{inputs.items}}"},
        )
        await add(api, "steps", step)
    return workflow


async def make_agent(api: Api, owner: Person, **fields: Any) -> Agent:
    values: dict[str, Any] = {
        "name": "dedupe",
        "type": AgentType.DATA,
        "status": AgentStatus.ACTIVE,
        "config": {"operation": "unique"},
        **fields,
    }
    agent = Agent(
        id=AgentId(uuid4()), created_at=T0, updated_at=T0, user_id=UserId(owner.id), **values
    )
    await add(api, "agents", agent)
    return agent


async def create(
    api: Api, owner: Person, *, headers: dict[str, str] | None = None, **body: Any
) -> dict[str, Any]:
    """``POST /deployments`` (of a new workflow of ``owner`` unless a target is given)."""
    if "workflowId" not in body and "agentId" not in body:
        body["workflowId"] = str((await make_workflow(api, owner)).id)
    body.setdefault("name", "my deployment")
    response = await api.client.post(DEPLOYMENTS, json=body, headers=headers or owner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def act(api: Api, person: Person, deployment_id: str, action: str) -> Any:
    return await api.client.post(f"{DEPLOYMENTS}/{deployment_id}/{action}", headers=person.headers)


async def stored(api: Api, deployment_id: str) -> Any:
    """The deployment's stored row, soft-deleted or not (``deleted_at``,
    ``environment_variables``, ``webhook_secret``)."""
    store = api.container.store()
    if api.kind == "memory":
        row = store.peek("deployments", UUID(deployment_id))
        return {
            "deleted_at": row.deleted_at,
            "environment_variables": row.environment_variables,
            "webhook_secret": row.webhook_secret,
        }

    async def select() -> Any:
        async with store.pool.connection() as conn:
            cursor = await conn.execute(
                "SELECT deleted_at, environment_variables, webhook_secret"
                " FROM deployments WHERE id = %s",
                (UUID(deployment_id),),
            )
            return await cursor.fetchone()

    found = in_app(api, select)
    if isinstance(found, dict):
        return found
    return {"deleted_at": found[0], "environment_variables": found[1]}


def box(api: Api) -> AesGcmSecretBox:
    return AesGcmSecretBox.from_settings(api.container.settings().encryption_key)


async def events(api: Api, person: Person, deployment_id: str, query: str = "") -> Any:
    response = await api.client.get(
        f"{DEPLOYMENTS}/{deployment_id}/logs{query}", headers=person.headers
    )
    assert response.status_code == 200, response.text
    return response.json()


# --- create ----------------------------------------------------------------------------


async def test_create_returns_the_secret_once_and_masks_the_variables(dapi: Api):
    ada = await dapi.user()
    created = await create(
        dapi,
        ada,
        description="prod hook",
        environment="PRODUCTION",
        config={"region": "eu"},
        environmentVariables={"API_TOKEN": "tok-123456", "_x": ""},
        allocatedMemoryMb=256,
        allocatedCpu=0.5,
    )
    deployment, secret = created["deployment"], created["webhookSecret"]
    assert set(created) == {"deployment", "webhookSecret"}
    assert len(secret) >= 43
    assert set(deployment) == WIRE_FIELDS
    assert deployment["environmentVariables"] == {"API_TOKEN": "********", "_x": "********"}
    assert deployment["status"] == "STOPPED" and deployment["healthStatus"] == "UNKNOWN"
    assert deployment["environment"] == "PRODUCTION" and deployment["config"] == {"region": "eu"}
    assert deployment["allocatedMemoryMb"] == 256 and deployment["allocatedCpu"] == 0.5
    assert deployment["userId"] == str(ada.id) and deployment["agentId"] is None

    read = await dapi.client.get(f"{DEPLOYMENTS}/{deployment['id']}", headers=ada.headers)
    assert read.status_code == 200, read.text
    assert "tok-123456" not in read.text and secret not in read.text
    assert read.json()["data"]["environmentVariables"] == deployment["environmentVariables"]
    logs = await dapi.client.get(f"{DEPLOYMENTS}/{deployment['id']}/logs", headers=ada.headers)
    assert "tok-123456" not in logs.text and secret not in logs.text

    # At rest: ciphertexts under the current key, the webhook secret in its own column.
    row = await stored(dapi, deployment["id"])
    variables = row["environment_variables"]
    assert set(variables) == {"API_TOKEN", "_x"}
    assert all(value.startswith("v1.") for value in variables.values())
    assert box(dapi).decrypt(variables["API_TOKEN"]) == "tok-123456"
    assert row["webhook_secret"].startswith("v1.") and secret not in row["webhook_secret"]
    assert box(dapi).decrypt(row["webhook_secret"]) == secret


async def test_create_an_agent_deployment_of_a_public_agent(dapi: Api):
    ada, bob = await dapi.user(), await dapi.user("bob@example.com")
    public = await make_agent(dapi, bob, is_public=True)
    created = await create(dapi, ada, agentId=str(public.id))
    assert created["deployment"]["agentId"] == str(public.id)
    assert created["deployment"]["workflowId"] is None


CREATE_REFUSALS = [
    ({}, "workflowId"),  # neither target
    ({"name": ""}, "name"),
    ({"name": "x", "unknown": 1}, "unknown"),
    ({"environment": "MOON"}, "environment"),
    ({"allocatedCpu": 0}, "allocatedCpu"),
    ({"allocatedMemoryMb": -1}, "allocatedMemoryMb"),
    ({"environmentVariables": {"1BAD": "v"}}, "environmentVariables.1BAD"),
    ({"environmentVariables": {"A-B": "v"}}, "environmentVariables.A-B"),
    ({"environmentVariables": {"BIG": "x" * (32 * 1024 + 1)}}, "environmentVariables.BIG"),
    ({"environmentVariables": {"N": None}}, "environmentVariables"),
    ({"config": [1]}, "config"),
]


async def test_create_refuses_bad_input_naming_the_field(dapi: Api):
    ada = await dapi.user()
    for body, field in CREATE_REFUSALS:
        target = {"workflowId": str(uuid4())} if field != "workflowId" else {}
        sent = {"name": "d", **target, **body}
        response = await dapi.client.post(DEPLOYMENTS, json=sent, headers=ada.headers)
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert any(d["field"].startswith(field) for d in error["details"]), (body, error)


async def test_create_needs_exactly_one_usable_target_and_reveals_no_foreign_one(dapi: Api):
    ada, bob = await dapi.user(), await dapi.user("bob@example.com")
    mine = await make_workflow(dapi, ada, steps=False)
    bobs = await make_workflow(dapi, bob, steps=False)
    bobs_public = await make_workflow(dapi, bob, steps=False, is_public=True)
    bobs_agent = await make_agent(dapi, bob)
    archived = await make_agent(dapi, ada, status=AgentStatus.ARCHIVED)

    async def refused(body: dict[str, Any], field: str) -> str:
        response = await dapi.client.post(
            DEPLOYMENTS, json={"name": "d", **body}, headers=ada.headers
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == [field], error
        return str(error["details"][0]["message"]).replace(body.get(field, ""), "<id>")

    await refused({"workflowId": str(mine.id), "agentId": str(archived.id)}, "workflowId")
    unknown = await refused({"workflowId": str(uuid4())}, "workflowId")
    # Someone else's private workflow reads exactly like an unknown one; public is not
    # enough to deploy (running a workflow needs ownership).
    assert await refused({"workflowId": str(bobs.id)}, "workflowId") == unknown
    assert await refused({"workflowId": str(bobs_public.id)}, "workflowId") == unknown
    agent_unknown = await refused({"agentId": str(uuid4())}, "agentId")
    assert await refused({"agentId": str(bobs_agent.id)}, "agentId") == agent_unknown
    assert "ARCHIVED" in await refused({"agentId": str(archived.id)}, "agentId")
    # An ADMIN may deploy anyone's workflow.
    root = await dapi.admin()
    assert (await create(dapi, root, workflowId=str(bobs.id)))["deployment"]["userId"] == str(
        root.id
    )


# --- read, health --------------------------------------------------------------------------


async def _executions(
    api: Api, owner: Person, deployment: dict[str, Any], statuses: Sequence[ExecutionStatus]
) -> None:
    workflow_id = WorkflowId(UUID(deployment["workflowId"]))
    rows = [
        Execution(
            id=ExecutionId(uuid4()),
            created_at=T0 + timedelta(seconds=i),
            updated_at=T0 + timedelta(seconds=i),
            workflow_id=workflow_id,
            user_id=UserId(owner.id),
            status=status,
            deployment_id=UUID(deployment["id"]),  # type: ignore[arg-type]
        )
        for i, status in enumerate(statuses)
    ]
    await add(api, "executions", *rows)


HEALTH_CASES = [
    ([], "UNKNOWN"),
    ([ExecutionStatus.RUNNING, ExecutionStatus.PENDING], "UNKNOWN"),
    ([ExecutionStatus.COMPLETED] * 9 + [ExecutionStatus.FAILED], "HEALTHY"),
    ([ExecutionStatus.COMPLETED] * 5 + [ExecutionStatus.TIMEOUT] * 5, "DEGRADED"),
    ([ExecutionStatus.COMPLETED] * 4 + [ExecutionStatus.CANCELLED] * 6, "UNHEALTHY"),
    # only the last 20 count: 10 old failures, then 20 successes
    ([ExecutionStatus.FAILED] * 10 + [ExecutionStatus.COMPLETED] * 20, "HEALTHY"),
]


async def test_health_follows_the_recent_executions_when_read(dapi: Api):
    ada = await dapi.user()
    workflow_id = str((await make_workflow(dapi, ada)).id)
    other = (await create(dapi, ada, workflowId=workflow_id))["deployment"]
    await _executions(dapi, ada, other, [ExecutionStatus.FAILED] * 3)  # not the others'
    for statuses, health in HEALTH_CASES:
        deployment = (await create(dapi, ada, workflowId=workflow_id))["deployment"]
        await _executions(dapi, ada, deployment, statuses)
        url = f"{DEPLOYMENTS}/{deployment['id']}"
        response = await dapi.client.get(url, headers=ada.headers)
        assert response.status_code == 200, response.text
        data = response.json()["data"]
        assert data["healthStatus"] == health, (statuses, data)
        assert data["lastHealthCheckAt"] is not None
        assert data["updatedAt"] == deployment["updatedAt"]  # bookkeeping is not an edit
        listed = await dapi.client.get(f"{DEPLOYMENTS}?pageSize=100", headers=ada.headers)
        by_id = {d["id"]: d for d in listed.json()["data"]}
        assert by_id[deployment["id"]]["healthStatus"] == health  # stored when it was read


async def test_another_users_deployment_is_not_found_on_every_route(dapi: Api):
    ada, bob = await dapi.user(), await dapi.user("bob@example.com")
    deployment_id = (await create(dapi, ada))["deployment"]["id"]
    url = f"{DEPLOYMENTS}/{deployment_id}"
    calls = [
        dapi.client.get(url, headers=bob.headers),
        dapi.client.patch(url, json={"name": "mine"}, headers=bob.headers),
        dapi.client.delete(url, headers=bob.headers),
        dapi.client.post(f"{url}/start", headers=bob.headers),
        dapi.client.post(f"{url}/stop", headers=bob.headers),
        dapi.client.get(f"{url}/logs", headers=bob.headers),
    ]
    for call in calls:
        assert_error(await call, 404, "NOT_FOUND")
    for missing in (f"{DEPLOYMENTS}/{uuid4()}", f"{DEPLOYMENTS}/not-a-uuid"):
        assert_error(await dapi.client.get(missing, headers=ada.headers), 404, "NOT_FOUND")
    # ...and nothing changed.
    read = await dapi.client.get(url, headers=ada.headers)
    assert read.json()["data"]["name"] == "my deployment"
    assert read.json()["data"]["status"] == "STOPPED"


async def test_an_admin_reads_changes_and_runs_anyones_deployment(dapi: Api):
    ada, root = await dapi.user(), await dapi.admin()
    deployment_id = (await create(dapi, ada))["deployment"]["id"]
    url = f"{DEPLOYMENTS}/{deployment_id}"
    assert (await dapi.client.get(url, headers=root.headers)).status_code == 200
    patched = await dapi.client.patch(url, json={"name": "by root"}, headers=root.headers)
    assert patched.status_code == 200 and patched.json()["data"]["name"] == "by root"
    assert (await act(dapi, root, deployment_id, "start")).json()["data"]["status"] == "RUNNING"
    assert (await act(dapi, root, deployment_id, "stop")).json()["data"]["status"] == "STOPPED"
    logged = await events(dapi, root, deployment_id)
    assert logged["data"][0]["userId"] == str(root.id)
    assert (await dapi.client.delete(url, headers=root.headers)).status_code == 204
    assert_error(await dapi.client.get(url, headers=ada.headers), 404, "NOT_FOUND")


# --- update ------------------------------------------------------------------------------


async def test_patch_changes_only_what_is_sent_and_merges_variables(dapi: Api):
    ada = await dapi.user()
    created = await create(
        dapi, ada, environmentVariables={"KEEP": "k-value", "DROP": "d-value", "SWAP": "old"}
    )
    deployment = created["deployment"]
    url = f"{DEPLOYMENTS}/{deployment['id']}"
    response = await dapi.client.patch(
        url,
        json={
            "description": "now described",
            "environment": "STAGING",
            "allocatedCpu": 2,
            "environmentVariables": {"DROP": None, "SWAP": "new-value", "ADDED": "a-value"},
        },
        headers=ada.headers,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    assert data["environmentVariables"] == {
        "ADDED": "********",
        "KEEP": "********",
        "SWAP": "********",
    }
    assert data["description"] == "now described" and data["environment"] == "STAGING"
    assert data["allocatedCpu"] == 2 and data["name"] == deployment["name"]
    assert data["updatedAt"] >= deployment["updatedAt"]
    assert "new-value" not in response.text
    variables = (await stored(dapi, deployment["id"]))["environment_variables"]
    assert {k: box(dapi).decrypt(v) for k, v in variables.items()} == {
        "KEEP": "k-value",
        "SWAP": "new-value",
        "ADDED": "a-value",
    }
    row = await stored(dapi, deployment["id"])
    assert box(dapi).decrypt(row["webhook_secret"]) == created["webhookSecret"]
    # The audit entry names the variables changed, never their values.
    update = (await events(dapi, ada, deployment["id"], "?action=deployment.updated"))["data"]
    assert len(update) == 1
    assert update[0]["metadata"] == {
        "variablesSet": ["ADDED", "SWAP"],
        "variablesRemoved": ["DROP"],
    }
    assert update[0]["changes"]["environmentVariables"] == {"from": "********", "to": "********"}
    assert update[0]["changes"]["environment"] == {"from": "DEVELOPMENT", "to": "STAGING"}
    # Nulls clear the optional fields; an empty body changes nothing.
    cleared = await dapi.client.patch(
        url, json={"description": None, "allocatedCpu": None}, headers=ada.headers
    )
    assert cleared.json()["data"]["description"] is None
    assert cleared.json()["data"]["allocatedCpu"] is None
    same = await dapi.client.patch(url, json={}, headers=ada.headers)
    assert same.status_code == 200 and same.json()["data"] == cleared.json()["data"]


PATCH_REFUSALS = [
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"workflowId": None}, "workflowId"),  # the target cannot change
    ({"status": "RUNNING"}, "status"),  # nor the status (start/stop)
    ({"allocatedMemoryMb": 0}, "allocatedMemoryMb"),
    ({"environmentVariables": {"": "x"}}, "environmentVariables."),
    ({"environmentVariables": {"OK": 1}}, "environmentVariables"),
]


async def test_patch_refuses_bad_input_naming_the_field(dapi: Api):
    ada = await dapi.user()
    deployment_id = (await create(dapi, ada))["deployment"]["id"]
    for body, field in PATCH_REFUSALS:
        response = await dapi.client.patch(
            f"{DEPLOYMENTS}/{deployment_id}", json=body, headers=ada.headers
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert any(d["field"].startswith(field) for d in error["details"]), (body, error)


# --- delete ------------------------------------------------------------------------------


async def test_delete_is_soft(dapi: Api):
    ada = await dapi.user()
    deployment_id = (await create(dapi, ada))["deployment"]["id"]
    kept = (await create(dapi, ada))["deployment"]["id"]
    url = f"{DEPLOYMENTS}/{deployment_id}"
    assert (await act(dapi, ada, deployment_id, "start")).status_code == 200
    response = await dapi.client.delete(url, headers=ada.headers)
    assert response.status_code == 204 and response.content == b""
    for call in (
        dapi.client.get(url, headers=ada.headers),
        dapi.client.delete(url, headers=ada.headers),
        dapi.client.patch(url, json={"name": "x"}, headers=ada.headers),
        dapi.client.post(f"{url}/stop", headers=ada.headers),
        dapi.client.get(f"{url}/logs", headers=ada.headers),
    ):
        assert_error(await call, 404, "NOT_FOUND")
    listed = await dapi.client.get(DEPLOYMENTS, headers=ada.headers)
    assert [d["id"] for d in listed.json()["data"]] == [kept]
    assert (await stored(dapi, deployment_id))["deleted_at"] is not None


# --- start / stop --------------------------------------------------------------------------


async def test_start_and_stop_follow_the_lifecycle(dapi: Api):
    ada = await dapi.user()
    deployment = (await create(dapi, ada))["deployment"]
    deployment_id = deployment["id"]
    assert_error(await act(dapi, ada, deployment_id, "stop"), 409, "INVALID_STATE")
    started = await act(dapi, ada, deployment_id, "start")
    assert started.status_code == 200, started.text
    data = started.json()["data"]
    assert data["status"] == "RUNNING" and data["startedAt"] is not None
    assert_error(await act(dapi, ada, deployment_id, "start"), 409, "INVALID_STATE")
    stopped = await act(dapi, ada, deployment_id, "stop")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["data"]["status"] == "STOPPED"
    assert stopped.json()["data"]["stoppedAt"] is not None
    assert (await act(dapi, ada, deployment_id, "start")).status_code == 200

    logged = await events(dapi, ada, deployment_id, "?sortOrder=asc")
    actions = [event["action"] for event in logged["data"]]
    assert actions == [
        "deployment.created",
        "deployment.started",
        "deployment.stopped",
        "deployment.started",
    ]
    start = logged["data"][1]
    assert start["changes"]["status"] == {"from": "STOPPED", "to": "RUNNING"}
    assert start["metadata"] == {"through": ["STARTING", "RUNNING"]}
    assert set(start) == {"id", "createdAt", "action", "userId", "changes", "metadata"}


async def test_start_needs_the_target_to_still_exist(dapi: Api):
    ada = await dapi.user()
    workflow = await make_workflow(dapi, ada)
    deployment_id = (await create(dapi, ada, workflowId=str(workflow.id)))["deployment"]["id"]
    await change(dapi, "workflows", dataclasses.replace(workflow, deleted_at=T0))
    error = assert_error(await act(dapi, ada, deployment_id, "start"), 409, "INVALID_STATE")
    assert "workflow" in error["message"]
    read = await dapi.client.get(f"{DEPLOYMENTS}/{deployment_id}", headers=ada.headers)
    assert read.json()["data"]["status"] == "STOPPED"


# --- logs --------------------------------------------------------------------------------


async def test_logs_are_paged_newest_first(dapi: Api):
    ada = await dapi.user()
    deployment_id = (await create(dapi, ada))["deployment"]["id"]
    for _ in range(2):
        await act(dapi, ada, deployment_id, "start")
        await act(dapi, ada, deployment_id, "stop")
    first = await events(dapi, ada, deployment_id, "?pageSize=2")
    assert first["meta"] == {
        "page": 1,
        "pageSize": 2,
        "total": 5,
        "totalPages": 3,
        "hasNext": True,
        "hasPrev": False,
    }
    assert [e["action"] for e in first["data"]] == ["deployment.stopped", "deployment.started"]
    last = await events(dapi, ada, deployment_id, "?pageSize=2&page=3")
    assert [e["action"] for e in last["data"]] == ["deployment.created"]
    assert last["meta"]["hasNext"] is False and last["meta"]["hasPrev"] is True
    beyond = await events(dapi, ada, deployment_id, "?pageSize=2&page=9")
    assert beyond["data"] == [] and beyond["meta"]["total"] == 5
    only = await events(dapi, ada, deployment_id, "?action=deployment.started")
    assert only["meta"]["total"] == 2
    for query, field in (("?sortBy=name", "sortBy"), ("?pageSize=0", "pageSize")):
        response = await dapi.client.get(
            f"{DEPLOYMENTS}/{deployment_id}/logs{query}", headers=ada.headers
        )
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert error["details"][0]["field"] == field


# --- list ----------------------------------------------------------------------------------


async def test_list_is_own_for_users_and_everyones_for_admins(dapi: Api):
    ada, bob, root = await dapi.user(), await dapi.user("bob@example.com"), await dapi.admin()
    adas = [(await create(dapi, ada, name=f"ada {i}"))["deployment"]["id"] for i in range(3)]
    bobs = (await create(dapi, bob, name="bob 0"))["deployment"]["id"]
    mine = await dapi.client.get(DEPLOYMENTS, headers=ada.headers)
    assert [d["id"] for d in mine.json()["data"]] == adas[::-1]  # newest first
    everyone = await dapi.client.get(DEPLOYMENTS, headers=root.headers)
    assert {d["id"] for d in everyone.json()["data"]} == {*adas, bobs}
    only_bob = await dapi.client.get(f"{DEPLOYMENTS}?userId={bob.id}", headers=root.headers)
    assert [d["id"] for d in only_bob.json()["data"]] == [bobs]
    # A USER's userId filter never widens the listing: someone else's id is refused.
    sneaky = await dapi.client.get(f"{DEPLOYMENTS}?userId={bob.id}", headers=ada.headers)
    assert_error(sneaky, 403, "FORBIDDEN")
    own = await dapi.client.get(f"{DEPLOYMENTS}?userId={ada.id}", headers=ada.headers)
    assert [d["id"] for d in own.json()["data"]] == adas[::-1]


async def test_list_pages_sorts_filters_and_refuses_what_it_does_not_know(dapi: Api):
    ada = await dapi.user()
    ids = [(await create(dapi, ada, name=f"d{i}"))["deployment"]["id"] for i in range(5)]
    await act(dapi, ada, ids[1], "start")
    page = await dapi.client.get(
        f"{DEPLOYMENTS}?pageSize=2&page=3&sortBy=name&sortOrder=asc", headers=ada.headers
    )
    body = page.json()
    assert [d["name"] for d in body["data"]] == ["d4"]
    assert body["meta"] == {
        "page": 3,
        "pageSize": 2,
        "total": 5,
        "totalPages": 3,
        "hasNext": False,
        "hasPrev": True,
    }
    beyond = await dapi.client.get(f"{DEPLOYMENTS}?page=4&pageSize=2", headers=ada.headers)
    assert beyond.json()["data"] == [] and beyond.json()["meta"]["total"] == 5
    running = await dapi.client.get(f"{DEPLOYMENTS}?status=RUNNING", headers=ada.headers)
    assert [d["id"] for d in running.json()["data"]] == [ids[1]]
    searched = await dapi.client.get(f"{DEPLOYMENTS}?search=D3", headers=ada.headers)
    assert [d["id"] for d in searched.json()["data"]] == [ids[3]]
    by_workflow = await dapi.client.get(
        f"{DEPLOYMENTS}?environment=DEVELOPMENT&healthStatus=UNKNOWN&pageSize=100",
        headers=ada.headers,
    )
    assert by_workflow.json()["meta"]["total"] == 5
    for query, field in (
        ("sortBy=password", "sortBy"),
        ("sortBy=environment_variables", "sortBy"),
        ("pageSize=101", "pageSize"),
        ("pageSize=0", "pageSize"),
        ("page=0", "page"),
        ("status=SLEEPING", "status"),
        ("healthStatus=FINE", "healthStatus"),
        ("workflowId=nope", "workflowId"),
        ("tags=a", "tags"),
        ("sortOrder=up", "sortOrder"),
    ):
        response = await dapi.client.get(f"{DEPLOYMENTS}?{query}", headers=ada.headers)
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == [field], (query, error)


# --- API keys ------------------------------------------------------------------------------


async def test_api_key_scopes(dapi: Api):
    ada = await dapi.user()
    deployment_id = (await create(dapi, ada))["deployment"]["id"]
    url = f"{DEPLOYMENTS}/{deployment_id}"
    reader = await dapi.key(ada, ["deployments:read"])
    writer = await dapi.key(ada, ["deployments:write"])
    other = await dapi.key(ada, ["workflows:write", "executions:read"])
    for allowed in (
        dapi.client.get(DEPLOYMENTS, headers=reader),
        dapi.client.get(url, headers=reader),
        dapi.client.get(f"{url}/logs", headers=reader),
    ):
        assert (await allowed).status_code == 200
    for refused in (
        dapi.client.post(DEPLOYMENTS, json={"name": "x"}, headers=reader),
        dapi.client.patch(url, json={"name": "x"}, headers=reader),
        dapi.client.delete(url, headers=reader),
        dapi.client.post(f"{url}/start", headers=reader),
        dapi.client.post(f"{url}/stop", headers=reader),
        dapi.client.get(DEPLOYMENTS, headers=other),
        dapi.client.get(url, headers=other),
        dapi.client.get(f"{url}/logs", headers=other),
    ):
        assert_error(await refused, 403, "FORBIDDEN")
    workflow = await make_workflow(dapi, ada)
    by_key = await create(dapi, ada, headers=writer, workflowId=str(workflow.id))
    assert by_key["deployment"]["userId"] == str(ada.id)
    assert (await dapi.client.get(url, headers=writer)).status_code == 200  # write implies read
    assert (await dapi.client.post(f"{url}/start", headers=writer)).status_code == 200
    assert (await dapi.client.delete(url, headers=writer)).status_code == 204
    assert_error(await dapi.client.get(DEPLOYMENTS), 401, "UNAUTHORIZED")
