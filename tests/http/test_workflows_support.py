"""Support for the workflow and execution API tests: an app per store with both routers,
agents put straight into the store, and waiting for executions.

(A module of fixtures and helpers, named so the brief's file patterns cover it; it holds no
tests of its own.)
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest

from tests.http.conftest import API
from tests.http.resources import Api, Person, make_api
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.common import AgentId, UserId
from turbocat_http.executions import routes as execution_routes
from turbocat_http.routes import API_ROUTERS
from turbocat_http.workflows import routes as workflow_routes

WORKFLOWS = f"{API}/workflows"
EXECUTIONS = f"{API}/executions"
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"}

# DATA agent configs that run here (SPEC §4).
PICK_A = {"operation": "pick", "fields": ["a"]}
SUM_AGES = {"operation": "aggregate", "field": "age", "function": "sum"}
ADULTS = {"operation": "filter", "field": "age", "operator": "gte", "value": 18}

ROUTERS = [r for r in (workflow_routes.router, execution_routes.router) if r not in API_ROUTERS]
"""Mounted by the tests until they are in ``API_ROUTERS`` (mounting twice would clash)."""


@contextlib.asynccontextmanager
async def open_flows(request: pytest.FixtureRequest, kind: str | None = None) -> AsyncIterator[Api]:
    """An app on ``request.param``'s store kind with the workflow and execution routes; its
    in-process queue is stopped before the store closes. Test modules wrap it in a fixture::

        @pytest.fixture(params=API_STORES)
        async def flows(request):
            async with open_flows(request) as api:
                yield api
    """
    kind = kind or request.param
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    async with make_api(kind, postgres_dsn=dsn, routers=ROUTERS) as api:
        try:
            yield api
        finally:
            in_app_loop(api, api.container.queue().close)


def in_app_loop(api: Api, function: Any, *args: Any) -> Any:
    return api.in_app(function, *args)


def add_agent(
    api: Api,
    owner: Person,
    config: dict[str, Any] | None = None,
    *,
    name: str = "picker",
    agent_type: AgentType = AgentType.DATA,
    is_public: bool = False,
    status: AgentStatus = AgentStatus.ACTIVE,
) -> str:
    """An agent of ``owner`` put straight into the store (the agents API is another area's);
    its id as text."""
    container = api.container

    async def insert() -> UUID:
        now = container.clock().now()
        agent = Agent(
            id=AgentId(container.ids().new_id()),
            created_at=now,
            updated_at=now,
            user_id=UserId(owner.id),
            name=name,
            type=agent_type,
            status=status,
            config=config if config is not None else dict(PICK_A),
            is_public=is_public,
        )
        async with container.uow()() as uow:
            await uow.agents.add(agent)
            await uow.commit()
        return agent.id

    return str(in_app_loop(api, insert))


def audit_entries(api: Api, resource_id: str) -> list[AuditLog]:
    from turbocat_core.domain.audit import AUDIT_QUERY
    from turbocat_core.domain.common import ListQuery

    async def read() -> list[AuditLog]:
        query = ListQuery.build(
            AUDIT_QUERY, filters={"resource_id": resource_id}, sort_order="asc", page_size=100
        )
        async with api.container.uow()() as uow:
            return (await uow.audit_logs.list(query)).items

    result: list[AuditLog] = in_app_loop(api, read)
    return result


def step(key: str, agent_id: str | None = None, **fields: Any) -> dict[str, Any]:
    """An AGENT step (or any type, with ``stepType``) as the API takes it."""
    item: dict[str, Any] = {"stepKey": key, **fields}
    if agent_id is not None:
        item["agentId"] = agent_id
    return item


def wait_step(key: str, ms: int, **fields: Any) -> dict[str, Any]:
    return {"stepKey": key, "stepType": "WAIT", "config": {"durationMs": ms}, **fields}


async def create_workflow(
    api: Api, owner: Person, steps: list[dict[str, Any]], **fields: Any
) -> dict[str, Any]:
    body = {"name": "flow", "status": "ACTIVE", **fields, "steps": steps}
    response = await api.client.post(WORKFLOWS, json=body, headers=owner.headers)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def execute(
    api: Api, who: Person | dict[str, str], workflow_id: str, body: Any = None
) -> dict[str, Any]:
    headers = who.headers if isinstance(who, Person) else who
    kwargs: dict[str, Any] = {"json": body} if body is not None else {}
    response = await api.client.post(
        f"{WORKFLOWS}/{workflow_id}/execute", headers=headers, **kwargs
    )
    assert response.status_code == 202, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


async def wait_until(
    api: Api,
    who: Person,
    execution_id: str,
    statuses: set[str] = FINISHED,
    *,
    timeout: float = 10.0,
    step_status: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """Poll ``GET /executions/{id}`` until its status is one of ``statuses`` (and, with
    ``step_status=(key, status)``, that step is in that state)."""
    deadline = time.monotonic() + timeout
    while True:
        response = await api.client.get(f"{EXECUTIONS}/{execution_id}", headers=who.headers)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"]
        runs = {run["stepKey"]: run["status"] for run in data["stepRuns"]}
        if data["status"] in statuses and (
            step_status is None or runs.get(step_status[0]) == step_status[1]
        ):
            return data
        assert time.monotonic() < deadline, f"still {data['status']} ({runs})"
        await asyncio.sleep(0.02)
