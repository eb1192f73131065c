"""``GET /audit-logs`` through HTTP on the in-memory and PostgreSQL stores: ADMIN only,
filters, the time range, paging, sorting and API-key scopes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from tests.http.conftest import API, assert_error
from tests.http.resources import API_STORES, Api, make_api
from tests.http.test_analytics import routers
from turbocat_adapters.memory import ManualClock
from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.common import AuditLogId, UserId

NOW = datetime(2026, 1, 10, tzinfo=UTC)
LOGS = f"{API}/audit-logs"


@pytest.fixture(params=API_STORES)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with make_api(
        request.param, postgres_dsn=dsn, routers=routers(), clock=ManualClock(NOW)
    ) as started:
        yield started


def entry(user_id: Any, action: str, days_ago: int, **fields: Any) -> AuditLog:
    at = NOW - timedelta(days=days_ago)
    values: dict[str, Any] = {
        "id": AuditLogId(uuid4()),
        "created_at": at,
        "updated_at": at,
        "user_id": UserId(user_id) if user_id else None,
        "action": action,
        "resource_type": "workflow",
        "resource_id": None,
    }
    return AuditLog(**{**values, **fields})


async def seeded(api: Api) -> tuple[Any, Any, list[AuditLog]]:
    """An ADMIN, a USER (their register/login entries are dated NOW) and four older entries."""
    ada = await api.user()  # first: an ADMIN made first waits 10 s on PostgreSQL (see report)
    admin = await api.admin()
    old = [
        entry(ada.id, "workflow.created", 4, resource_id="w-1"),
        entry(ada.id, "workflow.updated", 3, resource_id="w-1"),
        entry(None, "workflow.deleted", 2, resource_id="w-2"),
        entry(admin.id, "deployment.started", 1, resource_type="deployment"),
    ]
    async with api.container.store().unit_of_work() as uow:
        for item in old:
            await uow.audit_logs.append(item)
        await uow.commit()
    return admin, ada, old


async def listing(api: Api, headers: dict[str, str], **params: Any) -> Any:
    response = await api.client.get(LOGS, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def test_admins_list_everything_newest_first(api):
    admin, ada, _ = await seeded(api)
    body = await listing(api, admin.headers)
    actions = [item["action"] for item in body["data"]]
    assert actions[-4:] == ["deployment.started", "workflow.deleted", "workflow.updated",
                            "workflow.created"]  # fmt: skip
    assert {"auth.register", "auth.login"} <= set(actions[:-4])
    assert body["meta"]["total"] == len(actions)
    created = [item["createdAt"] for item in body["data"]]
    assert created == sorted(created, reverse=True)
    first = body["data"][-1]
    assert set(first) >= {"id", "userId", "action", "resourceType", "resourceId", "changes",
                          "metadata", "ipAddress", "userAgent", "createdAt"}  # fmt: skip
    assert first["userId"] == str(ada.id) and first["resourceId"] == "w-1"


async def test_users_may_not_read_the_audit_log(api):
    _, ada, _ = await seeded(api)
    assert_error(await api.client.get(LOGS, headers=ada.headers), 403, "FORBIDDEN")
    assert_error(await api.client.get(LOGS), 401, "UNAUTHORIZED")


async def test_filters_and_the_time_range(api):
    admin, ada, _ = await seeded(api)

    async def actions(**params: Any) -> list[str]:
        return [item["action"] for item in (await listing(api, admin.headers, **params))["data"]]

    assert await actions(userId=str(ada.id), resourceType="workflow") == [
        "workflow.updated",
        "workflow.created",
    ]
    assert await actions(action="workflow.deleted") == ["workflow.deleted"]
    assert await actions(resourceId="w-1", sortOrder="asc") == [
        "workflow.created",
        "workflow.updated",
    ]
    assert await actions(resourceType="deployment") == ["deployment.started"]
    assert await actions(search="DEPLOY") == ["deployment.started"]
    assert await actions(**{"from": "2026-01-07", "to": "2026-01-09"}) == [
        "workflow.deleted",
        "workflow.updated",
    ]
    assert await actions(**{"from": "2026-01-06T00:00:00Z", "to": "2026-01-07T00:00:00Z"}) == [
        "workflow.created"
    ]
    assert await actions(userId=str(uuid4())) == []


async def test_paging_edges(api):
    admin, _, _ = await seeded(api)
    body = await listing(api, admin.headers, resourceType="workflow", pageSize=2)
    assert body["meta"] == {
        "page": 1,
        "pageSize": 2,
        "total": 3,
        "totalPages": 2,
        "hasNext": True,
        "hasPrev": False,
    }
    second = await listing(api, admin.headers, resourceType="workflow", pageSize=2, page=2)
    assert len(second["data"]) == 1 and second["meta"]["hasNext"] is False
    assert second["meta"]["hasPrev"] is True
    past = await listing(api, admin.headers, resourceType="workflow", pageSize=2, page=9)
    assert past["data"] == [] and past["meta"]["total"] == 3
    for params, field in [
        ({"page": 0}, "page"),
        ({"pageSize": 0}, "pageSize"),
        ({"pageSize": 101}, "pageSize"),
        ({"sortBy": "resourceType"}, "sortBy"),
        ({"sortOrder": "up"}, "sortOrder"),
        ({"tags": "a"}, "tags"),
        ({"userId": "nope"}, "userId"),
        ({"from": "soon"}, "from"),
        ({"from": "2026-01-09", "to": "2026-01-08"}, "to"),
    ]:
        response = await api.client.get(LOGS, params=params, headers=admin.headers)
        error = assert_error(response, 400, "VALIDATION_ERROR")
        assert field in {detail["field"] for detail in error["details"]}, (params, error)


async def test_sorting_by_action(api):
    admin, _, _ = await seeded(api)
    body = await listing(api, admin.headers, sortBy="action", sortOrder="asc", pageSize=100)
    actions = [item["action"] for item in body["data"]]
    assert actions == sorted(actions)


async def test_api_keys_need_analytics_read_and_an_admin(api):
    admin, ada, _ = await seeded(api)
    reader = await api.key(admin, ["analytics:read"])
    assert (await listing(api, reader))["meta"]["total"] >= 4
    for scopes in (["agents:read"], ["workflows:write", "executions:read"]):
        refused = await api.client.get(LOGS, headers=await api.key(admin, scopes))
        assert_error(refused, 403, "FORBIDDEN")
    users_key = await api.key(ada, ["analytics:read"])
    assert_error(await api.client.get(LOGS, headers=users_key), 403, "FORBIDDEN")
