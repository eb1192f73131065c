"""``/agents`` through HTTP on the in-memory and PostgreSQL stores (SPEC §3): CRUD, config
checks, visibility, duplicates and version trees, listings, soft delete, API-key scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.http.conftest import API, assert_error
from tests.http.resources import API_STORES, Api, Person, make_api
from turbocat_http.agents.routes import router as agents_router
from turbocat_http.routes import API_ROUTERS

AGENTS = f"{API}/agents"
DATA = {"operation": "sort", "by": [{"field": "age", "direction": "desc"}]}
SECRET_TOKEN = "tok-0123456789"
API_CONFIG = {
    "method": "POST",
    "url": "https://example.com/hook",
    "auth": {"type": "bearer", "token": SECRET_TOKEN},
}


@pytest.fixture(params=API_STORES)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    """An app per store kind with the agents router (until it is in ``API_ROUTERS``)."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    extra = [agents_router] if agents_router not in API_ROUTERS else []
    async with make_api(request.param, postgres_dsn=dsn, routers=extra) as started:
        yield started


async def create(api: Api, who: Person | dict[str, str], **fields: Any) -> dict[str, Any]:
    headers = who.headers if isinstance(who, Person) else who
    body = {"name": "sorter", "type": "DATA", "config": DATA, **fields}
    response = await api.client.post(AGENTS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


async def stored_deleted_at(api: Api, agent_id: str) -> Any:
    """The row's ``deleted_at`` as the store keeps it (soft-deleted rows included)."""
    store = api.container.store()
    if api.kind == "memory":
        return store.peek("agents", UUID(agent_id)).deleted_at
    import psycopg

    async with await psycopg.AsyncConnection.connect(api.container.settings().database_url) as c:
        cursor = await c.execute("SELECT deleted_at FROM agents WHERE id = %s", (agent_id,))
        row = await cursor.fetchone()
    assert row is not None
    return row[0]


# -- create and read ------------------------------------------------------------------------


async def test_create_with_defaults_then_read(api: Api):
    ada = await api.user()
    agent = await create(api, ada, description="sorts", tags=["etl", "etl ", "x"])
    assert agent["userId"] == str(ada.id)
    assert (agent["status"], agent["version"], agent["parentId"]) == ("DRAFT", 1, None)
    assert (agent["maxExecutionTime"], agent["maxMemoryMb"]) == (300, 512)
    assert (agent["maxConcurrentExecutions"], agent["isPublic"]) == (1, False)
    assert agent["tags"] == ["etl", "x"] and agent["config"] == DATA
    assert agent["totalExecutions"] == 0 and agent["deletedAt"] is None
    got = await api.client.get(f"{AGENTS}/{agent['id']}", headers=ada.headers)
    assert got.status_code == 200 and got.json()["data"] == agent


async def test_every_type_is_checked_at_creation(api: Api):
    ada = await api.user()
    for kind, config in [
        ("API", API_CONFIG),
        ("LLM", {"provider": "openai", "model": "gpt-4o-mini", "prompt": "{{inputs.q}}"}),
        ("CODE", {"runtime": "python", "code": "result = 1", "memoryMb": 64}),
        ("WORKFLOW", {"workflowId": str(uuid4())}),
        ("DATA", DATA),
    ]:
        agent = await create(api, ada, type=kind, config=config)
        assert agent["type"] == kind and agent["config"] == config


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "API", "config": {"url": "ftp://x"}}, "config.url"),
        ({"type": "LLM", "config": {"provider": "openai", "model": "m"}}, "config.prompt"),
        ({"type": "CODE", "config": {"runtime": "ruby", "code": "x"}}, "config.runtime"),
        ({"type": "WORKFLOW", "config": {"workflowId": "x"}}, "config.workflowId"),
        ({"type": "DATA", "config": {"operation": "explode"}}, "config.operation"),
        # This app imports no functions module (``--functions``): it has registered no "total".
        ({"type": "FUNCTION", "config": {"function": "total"}}, "config.function"),
        ({"type": "FUNCTION", "config": {}}, "config.function"),
        ({"type": "API", "config": {"url": "https://x.io", "retries": 1}}, "config.retries"),
        ({"type": "ROBOT", "config": {}}, "type"),
        ({"type": "DATA"}, "config"),
        ({"type": "DATA", "config": DATA, "name": ""}, "name"),
        ({"type": "DATA", "config": DATA, "name": "   "}, "name"),
        ({"type": "DATA", "config": DATA, "maxExecutionTime": 0}, "maxExecutionTime"),
        ({"type": "DATA", "config": DATA, "maxExecutionTime": 86_401}, "maxExecutionTime"),
        ({"type": "DATA", "config": DATA, "maxMemoryMb": 15}, "maxMemoryMb"),
        ({"type": "DATA", "config": DATA, "maxMemoryMb": 65_537}, "maxMemoryMb"),
        (
            {"type": "DATA", "config": DATA, "maxConcurrentExecutions": 1001},
            "maxConcurrentExecutions",
        ),
        ({"type": "DATA", "config": DATA, "status": "RUNNING"}, "status"),
        ({"type": "DATA", "config": DATA, "tags": [""]}, "tags"),
        ({"type": "DATA", "config": DATA, "version": 3}, "version"),
        ({"type": "DATA", "config": DATA, "userId": str(uuid4())}, "userId"),
    ],
)
async def test_create_refusals_name_the_field(api: Api, body, field):
    ada = await api.user()
    response = await api.client.post(AGENTS, json={"name": "a", **body}, headers=ada.headers)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in [detail["field"] for detail in error["details"]], error


async def test_agents_need_credentials(api: Api):
    assert_error(await api.client.get(AGENTS), 401, "UNAUTHORIZED")
    assert_error(await api.client.post(AGENTS, json={}), 401, "UNAUTHORIZED")


# -- other users' agents --------------------------------------------------------------------


def id_routes(agent_id: str) -> list[tuple[str, str, dict[str, Any] | None]]:
    return [
        ("GET", f"{AGENTS}/{agent_id}", None),
        ("PATCH", f"{AGENTS}/{agent_id}", {"name": "mine"}),
        ("DELETE", f"{AGENTS}/{agent_id}", None),
        ("POST", f"{AGENTS}/{agent_id}/duplicate", {}),
        ("GET", f"{AGENTS}/{agent_id}/versions", None),
    ]


async def test_another_users_private_agent_is_not_found_on_every_route(api: Api):
    ada, bob = await api.user(), await api.user("bob@example.com")
    agent = await create(api, ada)
    for method, url, body in [*id_routes(agent["id"]), *id_routes(str(uuid4()))]:
        response = await api.client.request(method, url, json=body, headers=bob.headers)
        error = assert_error(response, 404, "NOT_FOUND")
        assert agent["name"] not in error["message"]
    malformed = await api.client.get(f"{AGENTS}/not-a-uuid", headers=bob.headers)
    assert_error(malformed, 404, "NOT_FOUND")
    still = await api.client.get(f"{AGENTS}/{agent['id']}", headers=ada.headers)
    assert still.json()["data"]["name"] == "sorter"


async def test_a_public_agent_is_readable_and_forkable_not_writable(api: Api):
    ada, bob = await api.user(), await api.user("bob@example.com")
    agent = await create(api, ada, isPublic=True, status="ACTIVE")
    got = await api.client.get(f"{AGENTS}/{agent['id']}", headers=bob.headers)
    assert got.status_code == 200
    versions = await api.client.get(f"{AGENTS}/{agent['id']}/versions", headers=bob.headers)
    assert [a["id"] for a in versions.json()["data"]] == [agent["id"]]
    patched = await api.client.patch(f"{AGENTS}/{agent['id']}", json={}, headers=bob.headers)
    assert_error(patched, 403, "FORBIDDEN")
    deleted = await api.client.delete(f"{AGENTS}/{agent['id']}", headers=bob.headers)
    assert_error(deleted, 403, "FORBIDDEN")
    fork = await api.client.post(f"{AGENTS}/{agent['id']}/duplicate", headers=bob.headers)
    assert fork.status_code == 201, fork.text
    copy = fork.json()["data"]
    assert (copy["userId"], copy["parentId"], copy["version"]) == (str(bob.id), None, 1)
    assert (copy["status"], copy["isPublic"], copy["config"]) == ("DRAFT", False, DATA)
    listed = await api.client.get(AGENTS, headers=bob.headers)
    assert [a["id"] for a in listed.json()["data"]] == [copy["id"]]


async def test_an_admin_reads_changes_lists_and_deletes_anyones_agents(api: Api):
    ada, root = await api.user(), await api.admin()
    agent = await create(api, ada)
    await create(api, root, name="admin's")
    got = await api.client.get(f"{AGENTS}/{agent['id']}", headers=root.headers)
    assert got.status_code == 200
    patched = await api.client.patch(
        f"{AGENTS}/{agent['id']}", json={"status": "ACTIVE"}, headers=root.headers
    )
    assert patched.status_code == 200 and patched.json()["data"]["status"] == "ACTIVE"
    everyone = await api.client.get(AGENTS, headers=root.headers)
    assert everyone.json()["meta"]["total"] == 2
    one = await api.client.get(f"{AGENTS}?userId={ada.id}", headers=root.headers)
    assert [a["id"] for a in one.json()["data"]] == [agent["id"]]
    # A USER's listing stays their own: asking for someone else's is refused, not emptied.
    other = await api.client.get(f"{AGENTS}?userId={root.id}", headers=ada.headers)
    assert_error(other, 403, "FORBIDDEN")
    mine = await api.client.get(f"{AGENTS}?userId={ada.id}", headers=ada.headers)
    assert [a["id"] for a in mine.json()["data"]] == [agent["id"]]
    deleted = await api.client.delete(f"{AGENTS}/{agent['id']}", headers=root.headers)
    assert deleted.status_code == 204


# -- update and delete ----------------------------------------------------------------------


async def test_patch_changes_only_what_is_sent(api: Api):
    ada = await api.user()
    agent = await create(api, ada, type="API", config=API_CONFIG, description="d")
    changes = {
        "name": "caller",
        "description": None,
        "status": "ACTIVE",
        "config": {**API_CONFIG, "timeoutMs": 5000},
        "capabilities": ["http"],
        "parameters": {"team": "a"},
        "maxExecutionTime": 86_400,
        "maxMemoryMb": 16,
        "maxConcurrentExecutions": 1000,
        "tags": ["b"],
        "isPublic": True,
    }
    response = await api.client.patch(f"{AGENTS}/{agent['id']}", json=changes, headers=ada.headers)
    assert response.status_code == 200, response.text
    changed = response.json()["data"]
    assert {k: changed[k] for k in changes} == changes
    assert changed["type"] == "API" and changed["version"] == 1
    untouched = await api.client.patch(f"{AGENTS}/{agent['id']}", json={}, headers=ada.headers)
    assert untouched.json()["data"] == changed


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"type": "CODE"}, "type"),
        ({"config": {"url": "not a url"}}, "config.url"),
        ({"config": {"method": "GET"}}, "config.url"),
        ({"maxExecutionTime": 0}, "maxExecutionTime"),
        ({"maxMemoryMb": 70_000}, "maxMemoryMb"),
        ({"maxConcurrentExecutions": 0}, "maxConcurrentExecutions"),
        ({"name": None}, "name"),
        ({"status": "DONE"}, "status"),
        ({"isPublic": "yes"}, "isPublic"),
        ({"version": 2}, "version"),
    ],
)
async def test_patch_refusals_name_the_field(api: Api, body, field):
    ada = await api.user()
    agent = await create(api, ada, type="API", config=API_CONFIG)
    response = await api.client.patch(f"{AGENTS}/{agent['id']}", json=body, headers=ada.headers)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in [detail["field"] for detail in error["details"]], error
    unchanged = await api.client.get(f"{AGENTS}/{agent['id']}", headers=ada.headers)
    assert unchanged.json()["data"] == agent


async def test_delete_is_soft(api: Api):
    ada = await api.user()
    agent = await create(api, ada)
    other = await create(api, ada, name="other")
    deleted = await api.client.delete(f"{AGENTS}/{agent['id']}", headers=ada.headers)
    assert deleted.status_code == 204 and deleted.content == b""
    for method, url, body in id_routes(agent["id"]):
        response = await api.client.request(method, url, json=body, headers=ada.headers)
        assert_error(response, 404, "NOT_FOUND")
    listed = await api.client.get(AGENTS, headers=ada.headers)
    assert [a["id"] for a in listed.json()["data"]] == [other["id"]]
    assert await stored_deleted_at(api, agent["id"]) is not None


# -- duplicates and versions ----------------------------------------------------------------


async def test_duplicates_grow_the_version_tree(api: Api):
    ada = await api.user()
    root = await create(api, ada, type="API", config=API_CONFIG, isPublic=True, tags=["t"])
    await api.client.patch(f"{AGENTS}/{root['id']}", json={"status": "ACTIVE"}, headers=ada.headers)
    second = await api.client.post(f"{AGENTS}/{root['id']}/duplicate", headers=ada.headers)
    assert second.status_code == 201, second.text
    v2 = second.json()["data"]
    third = await api.client.post(
        f"{AGENTS}/{v2['id']}/duplicate", json={"name": "third"}, headers=ada.headers
    )
    v3 = third.json()["data"]
    assert (v2["parentId"], v2["version"], v2["name"]) == (root["id"], 2, "sorter")
    assert (v3["parentId"], v3["version"], v3["name"]) == (root["id"], 3, "third")
    assert (v3["status"], v3["isPublic"], v3["tags"]) == ("DRAFT", False, ["t"])
    assert v3["config"] == API_CONFIG and v3["type"] == "API"
    for start in (root, v2, v3):
        tree = await api.client.get(f"{AGENTS}/{start['id']}/versions", headers=ada.headers)
        assert [a["version"] for a in tree.json()["data"]] == [3, 2, 1]
    bad = await api.client.post(
        f"{AGENTS}/{root['id']}/duplicate", json={"name": ""}, headers=ada.headers
    )
    assert assert_error(bad, 400, "VALIDATION_ERROR")["details"][0]["field"] == "name"
    unknown = await api.client.post(
        f"{AGENTS}/{root['id']}/duplicate", json={"version": 9}, headers=ada.headers
    )
    assert assert_error(unknown, 400, "VALIDATION_ERROR")["details"][0]["field"] == "version"


# -- listings -------------------------------------------------------------------------------


async def test_list_filters_search_tags_and_sort(api: Api):
    ada = await api.user()
    await create(api, ada, name="alpha", tags=["a", "b"], description="Sorts People")
    await create(api, ada, name="beta", type="API", config=API_CONFIG, tags=["a"])
    await create(api, ada, name="gamma", status="ACTIVE", isPublic=True)

    async def names(query: str) -> list[str]:
        response = await api.client.get(f"{AGENTS}?{query}", headers=ada.headers)
        assert response.status_code == 200, response.text
        return [a["name"] for a in response.json()["data"]]

    assert await names("sortBy=name&sortOrder=asc") == ["alpha", "beta", "gamma"]
    assert await names("") == ["gamma", "beta", "alpha"]  # newest first
    assert await names("type=API") == ["beta"]
    assert await names("status=ACTIVE") == ["gamma"]
    assert await names("isPublic=true") == ["gamma"]
    assert await names("tags=a,b") == ["alpha"]
    assert await names("search=PEOPLE") == ["alpha"]
    assert await names("sortBy=type&sortOrder=asc&tags=a") == ["beta", "alpha"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("sortBy=config", "sortBy"),
        ("sortBy=created_at", "sortBy"),
        ("sortOrder=up", "sortOrder"),
        ("type=ROBOT", "type"),
        ("status=DONE", "status"),
        ("page=0", "page"),
        ("pageSize=0", "pageSize"),
        ("pageSize=101", "pageSize"),
        ("userId=me", "userId"),
    ],
)
async def test_list_refusals(api: Api, query, field):
    ada = await api.user()
    response = await api.client.get(f"{AGENTS}?{query}", headers=ada.headers)
    error = assert_error(response, 400, "VALIDATION_ERROR")
    assert field in [detail["field"] for detail in error["details"]], error


async def test_pagination_edges(api: Api):
    ada = await api.user()
    for n in range(5):
        await create(api, ada, name=f"a{n}")

    async def page(query: str) -> tuple[list[str], dict[str, Any]]:
        body = (
            await api.client.get(f"{AGENTS}?sortBy=name&sortOrder=asc&{query}", headers=ada.headers)
        ).json()
        return [a["name"] for a in body["data"]], body["meta"]

    first, meta = await page("pageSize=2")
    assert first == ["a0", "a1"]
    assert meta == {
        "page": 1,
        "pageSize": 2,
        "total": 5,
        "totalPages": 3,
        "hasNext": True,
        "hasPrev": False,
    }
    last, meta = await page("pageSize=2&page=3")
    assert last == ["a4"] and (meta["hasNext"], meta["hasPrev"]) == (False, True)
    beyond, meta = await page("pageSize=2&page=4")
    assert beyond == [] and meta["total"] == 5
    whole, meta = await page("pageSize=100")
    assert len(whole) == 5 and meta["totalPages"] == 1


# -- API keys -------------------------------------------------------------------------------


async def test_api_key_scopes(api: Api):
    ada = await api.user()
    reader = await api.key(ada, ["agents:read"])
    writer = await api.key(ada, ["agents:write"])
    other = await api.key(ada, ["workflows:write"])
    agent = await create(api, writer)
    assert agent["userId"] == str(ada.id)
    assert (await api.client.get(AGENTS, headers=reader)).status_code == 200
    assert (
        await api.client.get(f"{AGENTS}/{agent['id']}/versions", headers=writer)
    ).status_code == 200
    refused = [
        ("POST", AGENTS, {"name": "x", "type": "DATA", "config": DATA}, reader),
        ("PATCH", f"{AGENTS}/{agent['id']}", {"name": "y"}, reader),
        ("DELETE", f"{AGENTS}/{agent['id']}", None, reader),
        ("POST", f"{AGENTS}/{agent['id']}/duplicate", {}, reader),
        ("GET", AGENTS, None, other),
        ("GET", f"{AGENTS}/{agent['id']}", None, other),
        ("GET", f"{AGENTS}/{agent['id']}/versions", None, other),
    ]
    for method, url, body, headers in refused:
        response = await api.client.request(method, url, json=body, headers=headers)
        assert "agents:" in assert_error(response, 403, "FORBIDDEN")["message"]
    patched = await api.client.patch(f"{AGENTS}/{agent['id']}", json={"name": "y"}, headers=writer)
    assert patched.status_code == 200
    deleted = await api.client.delete(f"{AGENTS}/{agent['id']}", headers=writer)
    assert deleted.status_code == 204
