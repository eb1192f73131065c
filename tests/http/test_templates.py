"""``/templates`` through HTTP on the in-memory and PostgreSQL stores (SPEC §3): browsing
without an account, private templates, instantiating every seeded template, usage counts,
scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.http.conftest import API, assert_error
from tests.http.resources import API_STORES, Api, Person, make_api
from turbocat_adapters.postgres import PostgresStore
from turbocat_core.domain.audit import AUDIT_QUERY
from turbocat_core.domain.common import ListQuery, TemplateId, UserId
from turbocat_core.domain.template import Template, TemplateType
from turbocat_core.ports import UnitOfWork, UnitOfWorkFactory
from turbocat_core.usecases import seed_data
from turbocat_http.agents.routes import router as agents_router
from turbocat_http.routes import API_ROUTERS
from turbocat_http.templates.routes import router as templates_router

TEMPLATES = f"{API}/templates"
AGENTS = f"{API}/agents"


@dataclass
class CatalogApi(Api):
    uow: UnitOfWorkFactory | None = None
    """The app's store, opened on the test's event loop (the app's PostgreSQL pool lives on
    the test client's loop: a first use from here waits for the pool's timeout)."""

    def direct(self) -> UnitOfWork:
        assert self.uow is not None
        return self.uow()


@pytest.fixture(params=API_STORES)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[CatalogApi]:
    """An app per store kind with the templates (and agents) routers, and the seed data."""
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    extra = [r for r in (agents_router, templates_router) if r not in API_ROUTERS]
    async with make_api(request.param, postgres_dsn=dsn, routers=extra) as started:
        store = started.container.store() if dsn is None else PostgresStore(dsn, max_size=2)
        if dsn is not None:
            await store.open()
        try:
            seed = replace(started.container.seed(), uow=store.unit_of_work)
            await seed(admin_password="Admin-pass-1!", demo_password="Demo-pass-1!")
            yield CatalogApi(**vars(started), uow=store.unit_of_work)
        finally:
            if dsn is not None:
                await store.close()


async def add_template(
    api: CatalogApi,
    owner: Person | None,
    *,
    kind: TemplateType = TemplateType.AGENT,
    data: dict[str, Any] | None = None,
    **fields: Any,
) -> Template:
    now = api.container.clock().now()
    template = Template(
        id=TemplateId(uuid4()),
        created_at=now,
        updated_at=now,
        user_id=UserId(owner.id) if owner else None,
        name=fields.pop("name", "mine"),
        type=kind,
        category=fields.pop("category", "Private"),
        template_data=data
        if data is not None
        else {"type": "DATA", "config": {"operation": "unique"}},
        **fields,
    )
    async with api.direct() as uow:
        await uow.templates.add(template)
        await uow.commit()
    return template


async def listing(
    api: CatalogApi, query: str = "", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    response = await api.client.get(f"{TEMPLATES}?{query}", headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def by_name(api: CatalogApi, name: str) -> dict[str, Any]:
    found = [t for t in (await listing(api, "pageSize=100"))["data"] if t["name"] == name]
    assert len(found) == 1, name
    return found[0]


async def instantiate(
    api: CatalogApi, template_id: Any, headers: dict[str, str], body: dict[str, Any] | None = None
) -> Any:
    return await api.client.post(
        f"{TEMPLATES}/{template_id}/instantiate", json=body or {}, headers=headers
    )


# -- browsing -------------------------------------------------------------------------------


async def test_anyone_browses_the_official_templates(api: CatalogApi):
    page = await listing(api, "sortBy=name&sortOrder=asc")
    assert [t["name"] for t in page["data"]] == sorted(seed_data.TEMPLATES)
    assert page["meta"]["total"] == 6
    first = page["data"][0]
    assert first["isOfficial"] and first["isPublic"] and first["userId"] is None
    assert set(first) >= {"templateData", "category", "type", "usageCount", "ratingAverage"}
    one = await api.client.get(f"{TEMPLATES}/{first['id']}")
    assert one.status_code == 200 and one.json()["data"] == first
    categories = await api.client.get(f"{TEMPLATES}/categories")
    assert categories.json()["data"] == [
        {"category": "AI", "count": 1},
        {"category": "Communication", "count": 1},
        {"category": "Data Collection", "count": 1},
        {"category": "Data Processing", "count": 2},
        {"category": "Integrations", "count": 1},
    ]


async def test_list_filters_sort_and_pages(api: CatalogApi):
    ada = await api.user()
    await add_template(api, ada, is_public=True, category="AI", name="community")
    names = [
        t["name"] for t in (await listing(api, "category=AI&sortBy=name&sortOrder=asc"))["data"]
    ]
    assert names == ["LLM Assistant", "community"]
    workflows = await listing(api, "type=WORKFLOW")
    assert {t["name"] for t in workflows["data"]} == {"Email Automation", "Data Pipeline"}
    unofficial = await listing(api, "isOfficial=false")
    assert [t["name"] for t in unofficial["data"]] == ["community"]
    assert (await listing(api, "search=THREE%20SENTENCES"))["meta"]["total"] == 1
    assert (await listing(api, "tags=data,etl"))["meta"]["total"] == 2
    page = await listing(api, "pageSize=3&page=4&sortBy=usageCount")
    assert page["data"] == [] and page["meta"]["totalPages"] == 3 and page["meta"]["hasPrev"]
    for query, field in [
        ("sortBy=category", "sortBy"),
        ("type=PLUGIN", "type"),
        ("isOfficial=maybe", "isOfficial"),
        ("pageSize=101", "pageSize"),
    ]:
        response = await api.client.get(f"{TEMPLATES}?{query}")
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert field in [d["field"] for d in error["details"]], error


async def test_private_templates_are_their_owners(api: CatalogApi):
    ada, bob, root = await api.user(), await api.user("bob@example.com"), await api.admin()
    private = await add_template(api, ada, category="Secret")
    url = f"{TEMPLATES}/{private.id}"
    assert (await api.client.get(url, headers=ada.headers)).status_code == 200
    assert (await api.client.get(url, headers=root.headers)).status_code == 200
    for headers in ({}, bob.headers):
        assert_error(await api.client.get(url, headers=headers), 404, "NOT_FOUND")
        assert_error(await instantiate(api, private.id, bob.headers), 404, "NOT_FOUND")
        assert (await listing(api, "", headers))["meta"]["total"] == 6
        categories = (await api.client.get(f"{TEMPLATES}/categories", headers=headers)).json()
        assert "Secret" not in [c["category"] for c in categories["data"]]
    assert (await listing(api, "", ada.headers))["meta"]["total"] == 7
    assert (await listing(api, "", root.headers))["meta"]["total"] == 7
    mine = (await api.client.get(f"{TEMPLATES}/categories", headers=ada.headers)).json()
    assert {"category": "Secret", "count": 1} in mine["data"]
    assert (await instantiate(api, private.id, root.headers)).status_code == 201
    assert_error(await api.client.get(f"{TEMPLATES}/{uuid4()}"), 404, "NOT_FOUND")
    assert_error(await api.client.get(f"{TEMPLATES}/nope"), 404, "NOT_FOUND")


async def test_a_deleted_template_is_gone(api: CatalogApi):
    ada = await api.user()
    template = await add_template(api, None, is_public=True, name="old")
    async with api.direct() as uow:
        await uow.templates.update(replace(template, deleted_at=api.container.clock().now()))
        await uow.commit()
    assert_error(await api.client.get(f"{TEMPLATES}/{template.id}"), 404, "NOT_FOUND")
    assert_error(await instantiate(api, template.id, ada.headers), 404, "NOT_FOUND")
    assert "old" not in [t["name"] for t in (await listing(api, "pageSize=100"))["data"]]


async def test_credentials_are_optional_but_checked_when_sent(api: CatalogApi):
    ada = await api.user()
    templates_only = await api.key(ada, ["templates:read"])
    agents_only = await api.key(ada, ["agents:write"])
    first = (await listing(api))["data"][0]
    for url in (TEMPLATES, f"{TEMPLATES}/categories", f"{TEMPLATES}/{first['id']}"):
        assert (await api.client.get(url, headers=templates_only)).status_code == 200
        assert (await api.client.get(url, headers=ada.headers)).status_code == 200
        bad = await api.client.get(url, headers={"Authorization": "Bearer not.a.token"})
        assert_error(bad, 401, "INVALID_TOKEN")
        bad_key = await api.client.get(url, headers={"X-API-Key": "tck_nope"})
        assert_error(bad_key, 401, "INVALID_TOKEN")
        refused = await api.client.get(url, headers=agents_only)
        assert "templates:read" in assert_error(refused, 403, "FORBIDDEN")["message"]


# -- instantiating --------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(seed_data.TEMPLATES))
async def test_every_seeded_template_instantiates(api: CatalogApi, name: str):
    ada = await api.user()
    template = await by_name(api, name)
    response = await instantiate(api, template["id"], ada.headers)
    assert response.status_code == 201, response.text
    made = response.json()["data"]
    resource = made["resource"]
    assert made["resourceType"] == template["type"]
    assert resource["userId"] == str(ada.id) and resource["status"] == "DRAFT"
    data = template["templateData"]
    if template["type"] == "AGENT":
        assert (resource["type"], resource["config"]) == (data["type"], data["config"])
        assert resource["name"] == data["name"]
        got = await api.client.get(f"{AGENTS}/{resource['id']}", headers=ada.headers)
        assert got.json()["data"] == resource
    else:
        assert resource["name"] == data["name"]
        assert [s["stepKey"] for s in resource["steps"]] == [s["stepKey"] for s in data["steps"]]
        assert all(s["workflowId"] == resource["id"] for s in resource["steps"])
        agents = (await api.client.get(AGENTS, headers=ada.headers)).json()["data"]
        assert len(agents) == len(data["agents"])
        used = {s["agentId"] for s in resource["steps"] if s["agentId"]}
        assert used == {a["id"] for a in agents}
    counted = await api.client.get(f"{TEMPLATES}/{template['id']}")
    assert counted.json()["data"]["usageCount"] == template["usageCount"] + 1
    async with api.direct() as uow:
        entries = await uow.audit_logs.list(
            ListQuery.build(AUDIT_QUERY, filters={"action": "template.instantiated"})
        )
    (entry,) = entries.items
    assert entry.user_id == ada.id and entry.resource_id == template["id"]
    assert entry.metadata["resourceId"] == resource["id"]


async def test_agent_customizations_merge_into_the_config(api: CatalogApi):
    ada = await api.user()
    template = await by_name(api, "Web Scraper")
    body = {"name": "My scraper", "customizations": {"timeoutMs": 2000, "url": "https://a.io"}}
    response = await instantiate(api, template["id"], ada.headers, body)
    assert response.status_code == 201, response.text
    agent = response.json()["data"]["resource"]
    assert agent["name"] == "My scraper"
    assert agent["config"] == {
        **template["templateData"]["config"],
        "timeoutMs": 2000,
        "url": "https://a.io",
    }
    for custom, field in [({"timeoutMs": 0}, "config.timeoutMs"), ({"verb": "GET"}, "config.verb")]:
        refused = await instantiate(api, template["id"], ada.headers, {"customizations": custom})
        error = assert_error(refused, 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == [field]
    counted = await api.client.get(f"{TEMPLATES}/{template['id']}")
    assert counted.json()["data"]["usageCount"] == 1  # refused ones are not counted


async def test_workflow_customizations_set_inputs_and_name(api: CatalogApi):
    ada = await api.user()
    template = await by_name(api, "Email Automation")
    body = {"name": "Digest", "customizations": {"inputs": {"to": "ada@example.com"}}}
    response = await instantiate(api, template["id"], ada.headers, body)
    assert response.status_code == 201, response.text
    workflow = response.json()["data"]["resource"]
    assert workflow["name"] == "Digest"
    assert workflow["definition"]["inputs"] == {
        **template["templateData"]["inputs"],
        "to": "ada@example.com",
    }
    for body, field in [
        ({"customizations": {"steps": []}}, "customizations.steps"),
        ({"customizations": {"inputs": [1]}}, "customizations.inputs"),
        ({"customizations": "x"}, "customizations"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"nmae": "x"}, "nmae"),
    ]:
        refused = await instantiate(api, template["id"], ada.headers, body)
        error = assert_error(refused, 400, "VALIDATION_ERROR")
        assert [d["field"] for d in error["details"]] == [field], error
    agents = (await api.client.get(AGENTS, headers=ada.headers)).json()
    assert agents["meta"]["total"] == len(template["templateData"]["agents"])  # the first's only


async def test_step_templates_are_not_instantiated(api: CatalogApi):
    ada = await api.user()
    step = await add_template(
        api, None, kind=TemplateType.STEP, data={"stepType": "WAIT"}, is_public=True
    )
    response = await instantiate(api, step.id, ada.headers)
    assert "STEP templates" in assert_error(response, 409, "INVALID_STATE")["message"]


async def test_instantiating_needs_credentials_and_scopes(api: CatalogApi):
    ada = await api.user()
    agent_template = await by_name(api, "Data Transformer")
    workflow_template = await by_name(api, "Data Pipeline")
    assert_error(await instantiate(api, agent_template["id"], {}), 401, "UNAUTHORIZED")
    for scopes, template, needed in [
        (["templates:read", "agents:write"], agent_template, "templates:write"),
        (["templates:write"], agent_template, "agents:write"),
        (["templates:write", "agents:write"], workflow_template, "workflows:write"),
    ]:
        key = await api.key(ada, scopes)
        refused = await instantiate(api, template["id"], key)
        assert needed in assert_error(refused, 403, "FORBIDDEN")["message"]
    key = await api.key(ada, ["templates:write", "agents:write", "workflows:write"])
    for template in (agent_template, workflow_template):
        response = await instantiate(api, template["id"], key)
        assert response.status_code == 201, response.text
        assert UUID(response.json()["data"]["resource"]["userId"]) == ada.id
