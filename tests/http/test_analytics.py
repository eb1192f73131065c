"""``/analytics`` through HTTP on the in-memory and PostgreSQL stores: figures known from
executions written straight into the store, ranges, visibility, scopes, system health, and
one real run through the engine."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from tests.http.conftest import API, assert_error
from tests.http.resources import API_STORES, Api, Person, make_api
from turbocat_adapters.memory import ManualClock
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import Agent, AgentStatus, AgentType
from turbocat_core.domain.common import AgentId, ExecutionId, StepId, UserId, WorkflowId
from turbocat_core.domain.execution import Execution, ExecutionStatus, StepRun, StepStatus
from turbocat_core.domain.user import UserRole
from turbocat_core.domain.workflow import StepType, Workflow, WorkflowStatus, WorkflowStep
from turbocat_http.analytics.routes import router as analytics_router
from turbocat_http.audit.routes import router as audit_router
from turbocat_http.routes import API_ROUTERS

NOW = datetime(2026, 1, 10, tzinfo=UTC)
DAY5 = datetime(2026, 1, 5, tzinfo=UTC)
ANALYTICS = f"{API}/analytics"
S = ExecutionStatus
R = StepStatus


def routers() -> list[Any]:
    """Ours, unless they are registered already."""
    return [r for r in (analytics_router, audit_router) if r not in API_ROUTERS]


@pytest.fixture(params=API_STORES)
async def api(request: pytest.FixtureRequest) -> AsyncIterator[Api]:
    dsn = request.getfixturevalue("postgres_dsn") if request.param == "postgres" else None
    async with make_api(
        request.param, postgres_dsn=dsn, routers=routers(), clock=ManualClock(NOW)
    ) as started:
        yield started


# --- building rows in the store ----------------------------------------------------------


async def add(api: Api, *rows: Any) -> None:
    async with api.container.store().unit_of_work() as uow:
        for row in rows:
            if isinstance(row, Agent):
                await uow.agents.add(row)
            elif isinstance(row, Workflow):
                await uow.workflows.add(row)
            elif isinstance(row, WorkflowStep):
                await uow.steps.add(row)
            elif isinstance(row, Execution):
                await uow.executions.add(row)
            else:
                await uow.step_runs.save(row)
        await uow.commit()


def agent(owner: Person, **fields: Any) -> Agent:
    values: dict[str, Any] = {
        "id": AgentId(uuid4()),
        "created_at": DAY5,
        "updated_at": DAY5,
        "user_id": UserId(owner.id),
        "name": "shaper",
        "type": AgentType.DATA,
        "status": AgentStatus.ACTIVE,
        "config": {"operation": "pick", "fields": ["a"]},
    }
    return Agent(**{**values, **fields})


def workflow(owner: Person, **fields: Any) -> Workflow:
    values: dict[str, Any] = {
        "id": WorkflowId(uuid4()),
        "created_at": DAY5,
        "updated_at": DAY5,
        "user_id": UserId(owner.id),
        "name": "report",
        "status": WorkflowStatus.ACTIVE,
    }
    return Workflow(**{**values, **fields})


def step(flow: Workflow, key: str, agent_id: UUID, **fields: Any) -> WorkflowStep:
    values: dict[str, Any] = {
        "id": StepId(uuid4()),
        "created_at": DAY5,
        "updated_at": DAY5,
        "workflow_id": flow.id,
        "step_key": key,
        "step_name": key,
        "step_type": StepType.AGENT,
        "agent_id": AgentId(agent_id),
        "inputs": {"data": {"a": 1, "b": 2}},
    }
    return WorkflowStep(**{**values, **fields})


def execution(
    flow: Workflow,
    by: Person,
    status: ExecutionStatus,
    created_at: datetime,
    duration_ms: float | None = None,
    steps: tuple[WorkflowStep, ...] = (),
) -> Execution:
    return Execution(
        id=ExecutionId(uuid4()),
        created_at=created_at,
        updated_at=created_at,
        workflow_id=flow.id,
        user_id=UserId(by.id),
        status=status,
        duration_ms=duration_ms,
        steps=steps,
        steps_total=len(steps),
    )


def run(of: Execution, key: str, status: StepStatus, duration_ms: float | None = None) -> StepRun:
    return StepRun(
        id=uuid4(),
        created_at=of.created_at,
        updated_at=of.created_at,
        execution_id=of.id,
        step_key=key,
        step_id=None,
        status=status,
        attempt=1,
        duration_ms=duration_ms,
    )


@dataclasses.dataclass
class World:
    ada: Person
    bob: Person
    admin: Person
    agent: Agent
    flow: Workflow


async def world(api: Api) -> World:
    """Ada's agent and workflow with five executions of known figures; Bob's own things.

    Ada's executions (finished durations 100, 300, 200, 1000; p50 250, p95 895, p99 979):
    10:00 COMPLETED, 10:30 COMPLETED, 11:15 FAILED on Jan 5; RUNNING on Jan 6; TIMEOUT Jan 7.
    Their steps ``fetch`` and ``shape`` both call the agent.
    """
    ada, bob, admin = (
        await api.user("ada@example.com"),
        await api.user("bob@example.com"),
        (await api.admin()),
    )
    shaper = agent(ada)
    flow = workflow(ada)
    pinned = (step(flow, "fetch", shaper.id), step(flow, "shape", shaper.id, depends_on=("fetch",)))
    at = DAY5.replace
    e1 = execution(flow, ada, S.COMPLETED, at(hour=10), 100.0, pinned)
    e2 = execution(flow, ada, S.COMPLETED, at(hour=10, minute=30), 300.0, pinned)
    e3 = execution(flow, ada, S.FAILED, at(hour=11, minute=15), 200.0, pinned)
    e4 = execution(flow, ada, S.RUNNING, at(day=6, hour=9), None, pinned)
    e5 = execution(flow, ada, S.TIMEOUT, at(day=7), 1000.0, pinned)
    bobs_agent, bobs_flow = agent(bob, status=AgentStatus.DRAFT), workflow(bob)
    bobs = execution(bobs_flow, bob, S.COMPLETED, at(hour=12), 5.0)
    await add(
        api,
        shaper,
        flow,
        *pinned,
        e1,
        e2,
        e3,
        e4,
        e5,
        bobs_agent,
        bobs_flow,
        bobs,
        run(e1, "fetch", R.COMPLETED, 40.0),
        run(e1, "shape", R.COMPLETED, 60.0),
        run(e2, "fetch", R.COMPLETED, 80.0),
        run(e2, "shape", R.COMPLETED, 200.0),
        run(e3, "fetch", R.FAILED, 150.0),
        run(e3, "shape", R.SKIPPED),
        run(e4, "fetch", R.RUNNING),
    )
    return World(ada=ada, bob=bob, admin=admin, agent=shaper, flow=flow)


async def get(api: Api, path: str, headers: dict[str, str], **params: Any) -> Any:
    return await api.client.get(f"{ANALYTICS}{path}", params=params, headers=headers)


def data(response: Any) -> Any:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] is True
    return body["data"]


# --- overview ----------------------------------------------------------------------------


async def test_overview_counts_the_callers_own_things(api):
    w = await world(api)
    figures = data(await get(api, "/overview", w.ada.headers))
    assert figures["userId"] == str(w.ada.id)
    assert figures["period"] == {"start": None, "end": None}
    assert figures["agents"] == {
        "total": 1,
        "byStatus": {"DRAFT": 0, "ACTIVE": 1, "INACTIVE": 0, "ARCHIVED": 0},
    }
    assert figures["workflows"]["total"] == 1
    executions = figures["executions"]
    assert executions["total"] == 5
    assert executions["byStatus"] == {
        "PENDING": 0,
        "RUNNING": 1,
        "COMPLETED": 2,
        "FAILED": 1,
        "CANCELLED": 0,
        "TIMEOUT": 1,
    }
    assert (executions["finished"], executions["succeeded"], executions["failed"]) == (4, 2, 2)
    assert executions["successRate"] == 0.5 and executions["failureRate"] == 0.5
    durations = executions["durations"]
    assert durations["count"] == 4 and durations["avgMs"] == pytest.approx(400.0)
    assert (durations["minMs"], durations["maxMs"]) == (100.0, 1000.0)
    assert durations["p50Ms"] == pytest.approx(250.0)
    assert durations["p95Ms"] == pytest.approx(895.0)
    assert durations["p99Ms"] == pytest.approx(979.0)


async def test_overview_range_and_an_admins_view(api):
    w = await world(api)
    day5 = data(
        await get(api, "/overview", w.ada.headers, **{"from": "2026-01-05", "to": "2026-01-06"})
    )
    assert day5["period"] == {"start": "2026-01-05T00:00:00Z", "end": "2026-01-06T00:00:00Z"}
    assert day5["executions"]["total"] == 3
    assert day5["executions"]["successRate"] == pytest.approx(2 / 3)
    late = data(await get(api, "/overview", w.ada.headers, **{"from": "2026-01-07T00:00:00+00:00"}))
    assert late["executions"]["byStatus"]["TIMEOUT"] == 1 and late["executions"]["total"] == 1
    empty = data(await get(api, "/overview", w.ada.headers, to="2026-01-01T00:00:00Z"))
    assert empty["executions"]["total"] == 0
    assert empty["executions"]["successRate"] is None
    assert empty["executions"]["durations"]["p95Ms"] is None

    everyone = data(await get(api, "/overview", w.admin.headers))
    assert everyone["userId"] is None
    assert everyone["executions"]["total"] == 6
    assert everyone["agents"]["total"] == 2 and everyone["agents"]["byStatus"]["DRAFT"] == 1
    bobs = data(await get(api, "/overview", w.admin.headers, userId=str(w.bob.id)))
    assert bobs["executions"]["total"] == 1 and bobs["workflows"]["total"] == 1
    mine = data(await get(api, "/overview", w.bob.headers, userId=str(w.bob.id)))
    assert mine["executions"]["total"] == 1
    assert_error(await get(api, "/overview", w.bob.headers, userId=str(w.ada.id)), 403, "FORBIDDEN")


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"from": "yesterday"}, {"from"}),
        ({"to": "2026-13-01"}, {"to"}),
        ({"from": "2026-01-05T10:00:00"}, {"from"}),  # no offset
        ({"from": "2026-01-06", "to": "2026-01-05"}, {"from", "to"}),
        ({"from": "2026-01-05", "to": "2026-01-05T00:00:00Z"}, {"from", "to"}),
        ({"from": "0001-01-01T00:00:00+01:00"}, {"from"}),
        ({"from": "x" * 65}, {"from"}),
        ({"userId": "not-a-uuid"}, {"userId"}),
    ],
)
async def test_overview_refuses_a_bad_range(api, params, fields):
    ada = await api.user()
    error = assert_error(
        await get(api, "/overview", ada.headers, **params), 400, "VALIDATION_ERROR"
    )
    assert {detail["field"] for detail in error["details"]} == fields


async def test_a_deleted_agent_or_workflow_is_not_counted(api):
    w = await world(api)
    async with api.container.store().unit_of_work() as uow:
        await uow.agents.update(dataclasses.replace(w.agent, deleted_at=NOW))
        await uow.commit()
    figures = data(await get(api, "/overview", w.ada.headers))
    assert figures["agents"]["total"] == 0
    assert figures["executions"]["total"] == 5  # executions have no soft delete
    assert_error(await get(api, f"/agents/{w.agent.id}/metrics", w.ada.headers), 404, "NOT_FOUND")
    async with api.container.store().unit_of_work() as uow:
        assert await uow.agents.get(w.agent.id) is None
    if api.kind == "memory":  # still stored, only marked deleted
        assert api.container.store().peek("agents", w.agent.id).deleted_at == NOW


# --- workflow metrics --------------------------------------------------------------------


async def test_workflow_metrics(api):
    w = await world(api)
    figures = data(
        await get(
            api,
            f"/workflows/{w.flow.id}/metrics",
            w.ada.headers,
            **{"from": "2026-01-05T10:00:00Z", "to": "2026-01-05T12:00:00Z", "interval": "hour"},
        )
    )
    assert figures["workflowId"] == str(w.flow.id)
    assert figures["scope"] == "all" and figures["interval"] == "hour"
    executions = figures["executions"]
    assert executions["total"] == 3 and executions["successRate"] == pytest.approx(2 / 3)
    assert executions["durations"]["p50Ms"] == pytest.approx(200.0)
    assert figures["series"] == [
        {
            "bucket": "2026-01-05T10:00:00Z",
            "total": 2,
            "completed": 2,
            "failed": 0,
            "avgDurationMs": 200.0,
        },
        {
            "bucket": "2026-01-05T11:00:00Z",
            "total": 1,
            "completed": 0,
            "failed": 1,
            "avgDurationMs": 200.0,
        },
    ]
    fetch, shape = figures["steps"]
    assert fetch["stepKey"] == "fetch"
    assert (fetch["runs"], fetch["completed"], fetch["failed"], fetch["skipped"]) == (3, 2, 1, 0)
    assert fetch["durations"]["p50Ms"] == pytest.approx(80.0)
    assert fetch["durations"]["p95Ms"] == pytest.approx(143.0)
    assert (shape["runs"], shape["completed"], shape["skipped"], shape["reused"]) == (3, 2, 1, 0)
    assert figures["lifetime"]["totalExecutions"] == 0  # the engine's counters: no real run


async def test_workflow_series_fills_empty_buckets_up_to_now(api):
    w = await world(api)
    figures = data(await get(api, f"/workflows/{w.flow.id}/metrics", w.ada.headers))
    assert figures["interval"] == "day"
    buckets = [(p["bucket"][:10], p["total"]) for p in figures["series"]]
    # from the first execution's day to today (the clock says Jan 10)
    assert buckets == [
        ("2026-01-05", 3),
        ("2026-01-06", 1),
        ("2026-01-07", 1),
        ("2026-01-08", 0),
        ("2026-01-09", 0),
        ("2026-01-10", 0),
    ]
    assert figures["series"][3]["avgDurationMs"] is None
    weekly = data(
        await get(
            api,
            f"/workflows/{w.flow.id}/metrics",
            w.ada.headers,
            **{"interval": "week", "from": "2026-01-01", "to": "2026-01-13"},
        )
    )
    assert [(p["bucket"], p["total"]) for p in weekly["series"]] == [
        ("2025-12-29T00:00:00Z", 0),
        ("2026-01-05T00:00:00Z", 5),
        ("2026-01-12T00:00:00Z", 0),
    ]
    too_long = await get(
        api,
        f"/workflows/{w.flow.id}/metrics",
        w.ada.headers,
        **{"interval": "hour", "from": "2020-01-01", "to": "2026-01-01"},
    )
    assert assert_error(too_long, 400, "VALIDATION_ERROR")["details"][0]["field"] == "interval"


async def test_metrics_refuse_a_bad_interval_or_range(api):
    w = await world(api)
    for path in (f"/workflows/{w.flow.id}/metrics", f"/agents/{w.agent.id}/metrics"):
        bad = assert_error(
            await get(api, path, w.ada.headers, interval="year"), 400, "VALIDATION_ERROR"
        )
        assert bad["details"][0]["field"] == "interval"
        reversed_range = await get(
            api, path, w.ada.headers, **{"from": "2026-02-01", "to": "2026-01-01"}
        )
        error = assert_error(reversed_range, 400, "VALIDATION_ERROR")
        assert {d["field"] for d in error["details"]} == {"from", "to"}


async def test_another_users_private_agent_or_workflow_is_not_found(api):
    w = await world(api)
    for path in (f"/workflows/{w.flow.id}/metrics", f"/agents/{w.agent.id}/metrics"):
        assert_error(await get(api, path, w.bob.headers), 404, "NOT_FOUND")
        assert data(await get(api, path, w.admin.headers))["scope"] == "all"  # ADMIN bypass
    for path in (
        f"/workflows/{uuid4()}/metrics",
        f"/agents/{uuid4()}/metrics",
        "/agents/x/metrics",
    ):
        assert_error(await get(api, path, w.ada.headers), 404, "NOT_FOUND")


async def test_a_public_one_shows_another_user_only_their_own_executions(api):
    w = await world(api)
    shared_agent = agent(w.ada, is_public=True)
    shared = workflow(w.ada, is_public=True)
    pinned = (step(shared, "only", shared_agent.id),)
    adas = execution(shared, w.ada, S.COMPLETED, DAY5, 10.0, pinned)
    bobs = execution(shared, w.bob, S.FAILED, DAY5, 30.0, pinned)
    await add(
        api,
        shared_agent,
        shared,
        *pinned,
        adas,
        bobs,
        run(adas, "only", R.COMPLETED, 10.0),
        run(bobs, "only", R.FAILED, 30.0),
    )
    as_bob = data(await get(api, f"/workflows/{shared.id}/metrics", w.bob.headers))
    assert as_bob["scope"] == "own"
    assert as_bob["executions"]["total"] == 1 and as_bob["executions"]["byStatus"]["FAILED"] == 1
    assert as_bob["steps"][0]["failed"] == 1 and as_bob["steps"][0]["runs"] == 1
    as_ada = data(await get(api, f"/workflows/{shared.id}/metrics", w.ada.headers))
    assert as_ada["scope"] == "all" and as_ada["executions"]["total"] == 2
    calls = data(await get(api, f"/agents/{shared_agent.id}/metrics", w.bob.headers))
    assert calls["scope"] == "own" and calls["calls"]["byStatus"]["FAILED"] == 1
    assert calls["calls"]["total"] == 1


# --- agent metrics -----------------------------------------------------------------------


async def test_agent_metrics_count_agent_step_calls(api):
    w = await world(api)
    figures = data(
        await get(api, f"/agents/{w.agent.id}/metrics", w.ada.headers, **{"from": "2026-01-05"})
    )
    calls = figures["calls"]
    assert figures["agentId"] == str(w.agent.id) and figures["scope"] == "all"
    assert calls["byStatus"] == {"PENDING": 0, "RUNNING": 1, "COMPLETED": 4, "FAILED": 1}
    assert (calls["total"], calls["executions"], calls["finished"]) == (6, 4, 5)
    assert calls["successRate"] == pytest.approx(0.8)
    assert calls["durations"]["avgMs"] == pytest.approx(106.0)
    assert calls["durations"]["p50Ms"] == pytest.approx(80.0)
    assert calls["durations"]["p99Ms"] == pytest.approx(200 - 50 * 0.04)
    assert [(p["bucket"][:10], p["total"]) for p in figures["series"]] == [
        ("2026-01-05", 5),
        ("2026-01-06", 1),
        ("2026-01-07", 0),
        ("2026-01-08", 0),
        ("2026-01-09", 0),
        ("2026-01-10", 0),
    ]
    assert figures["lifetime"] == {
        "totalExecutions": 0,
        "successfulExecutions": 0,
        "failedExecutions": 0,
        "avgExecutionTimeMs": 0.0,
    }


# --- system health -----------------------------------------------------------------------


async def test_system_health_for_admins_only(api):
    ada = await api.user()  # before the ADMIN: see tests/http/test_audit.py
    admin = await api.admin()
    health = data(await get(api, "/system-health", admin.headers))
    assert health["status"] == "ok"
    assert health["version"]
    assert health["uptimeSeconds"] >= 0
    database = health["database"]
    assert database["status"] == "ok" and database["kind"] == api.kind
    assert database["pendingMigrations"] == 0 and database["latencyMs"] >= 0
    assert health["redis"] == {"status": "not configured", "latencyMs": None, "error": None}
    queue = health["queue"]
    assert queue["kind"] == "in-process" and queue["status"] == "ok"
    assert queue["depth"] == 0
    assert queue["failedJobs"] is None and queue["workers"] is None
    assert "does not count failed jobs" in queue["note"]
    assert_error(await get(api, "/system-health", ada.headers), 403, "FORBIDDEN")


# --- API keys ----------------------------------------------------------------------------


async def test_api_key_scopes(api):
    w = await world(api)
    reader = await api.key(w.ada, ["analytics:read"])
    writer = await api.key(w.ada, ["analytics:write"])
    other = await api.key(w.ada, ["agents:read", "workflows:write"])
    paths = ["/overview", f"/agents/{w.agent.id}/metrics", f"/workflows/{w.flow.id}/metrics"]
    for path in paths:
        assert data(await get(api, path, reader))
        assert data(await get(api, path, writer))  # write implies read
        assert_error(await get(api, path, other), 403, "FORBIDDEN")
    admin_key = await api.key(w.admin, ["analytics:read"])
    assert data(await get(api, "/system-health", admin_key))["status"] == "ok"
    assert_error(
        await get(api, "/system-health", await api.key(w.admin, ["agents:read"])), 403, "FORBIDDEN"
    )
    assert_error(await get(api, "/system-health", reader), 403, "FORBIDDEN")
    assert_error(await get(api, "/overview", {}), 401, "UNAUTHORIZED")


# --- a real run --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", API_STORES)
async def test_a_real_run_shows_in_the_metrics(request, kind):
    dsn = request.getfixturevalue("postgres_dsn") if kind == "postgres" else None
    async with make_api(kind, postgres_dsn=dsn, routers=routers()) as api:
        ada = await api.user()
        shaper = agent(ada)
        flow = workflow(ada)
        pinned = (
            step(flow, "pick", shaper.id),
            step(flow, "again", shaper.id, depends_on=("pick",)),
        )
        await add(api, shaper, flow, *pinned)
        actor = Actor(user_id=UserId(ada.id), role=UserRole.USER)
        started = await api.container.start_execution()(actor, flow.id)
        await api.container.queue().drain()

        figures = data(await get(api, f"/workflows/{flow.id}/metrics", ada.headers))
        assert figures["executions"]["byStatus"]["COMPLETED"] == 1
        assert figures["executions"]["durations"]["count"] == 1
        assert [(s["stepKey"], s["runs"], s["completed"]) for s in figures["steps"]] == [
            ("again", 1, 1),
            ("pick", 1, 1),
        ]
        assert figures["lifetime"]["totalExecutions"] == 1
        assert figures["series"][-1]["total"] == 1
        calls = data(await get(api, f"/agents/{shaper.id}/metrics", ada.headers))
        assert calls["calls"]["byStatus"]["COMPLETED"] == 2 and calls["calls"]["executions"] == 1
        assert calls["lifetime"]["totalExecutions"] == 2
        assert calls["lifetime"]["successfulExecutions"] == 2
        overview = data(await get(api, "/overview", ada.headers))
        assert overview["executions"]["succeeded"] == 1
        assert overview["executions"]["successRate"] == 1.0
        async with api.container.store().unit_of_work() as uow:
            stored = await uow.executions.get(started.id)
        assert stored is not None and stored.status is S.COMPLETED
        assert overview["executions"]["durations"]["avgMs"] == pytest.approx(stored.duration_ms)
