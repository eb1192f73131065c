"""Analytics in the core: buckets, interpolated percentiles, ranges, filled series, rates,
and the use cases' rules (who sees what) over the in-memory store."""

from __future__ import annotations

import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.contracts.parents import ensure_parents
from turbocat_adapters.memory import ManualClock, MemoryStore
from turbocat_core.domain.access import Actor
from turbocat_core.domain.agent import Agent, AgentType
from turbocat_core.domain.analytics import (
    EXECUTION_FINISHED,
    EXECUTION_STATUSES,
    MAX_BUCKETS,
    Durations,
    Interval,
    Period,
    RunCounts,
    SeriesPoint,
    Summary,
    bucket_start,
    interpolated,
    next_bucket,
)
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.execution import Execution, ExecutionStatus
from turbocat_core.domain.user import UserRole
from turbocat_core.domain.workflow import Workflow
from turbocat_core.errors import NotFound, PermissionDenied, ValidationFailed
from turbocat_core.usecases.analytics import (
    GetAgentMetrics,
    GetOverview,
    GetWorkflowMetrics,
    ListAuditLogs,
    fill_series,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("moment", "interval", "start"),
    [
        (datetime(2026, 3, 29, 1, 30, tzinfo=UTC), Interval.HOUR, "2026-03-29T01:00"),
        (datetime(2026, 3, 29, 3, 30, tzinfo=timezone(timedelta(hours=2))), Interval.HOUR,
         "2026-03-29T01:00"),
        (datetime(2026, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), Interval.DAY,
         "2025-12-31T00:00"),
        (datetime(2026, 1, 4, 23, 59, tzinfo=UTC), Interval.WEEK, "2025-12-29T00:00"),
        (datetime(2026, 1, 5, tzinfo=UTC), Interval.WEEK, "2026-01-05T00:00"),
        (datetime(2024, 2, 29, 12, tzinfo=UTC), Interval.MONTH, "2024-02-01T00:00"),
    ],
)  # fmt: skip
def test_buckets_start_in_utc(moment, interval, start):
    assert bucket_start(moment, interval) == datetime.fromisoformat(start).replace(tzinfo=UTC)


def test_next_buckets():
    december = datetime(2025, 12, 1, tzinfo=UTC)
    assert next_bucket(december, Interval.MONTH) == datetime(2026, 1, 1, tzinfo=UTC)
    assert next_bucket(T0, Interval.WEEK) == T0 + timedelta(days=7)
    assert next_bucket(T0, Interval.HOUR) == T0 + timedelta(hours=1)


@given(st.lists(st.floats(0, 1e7, allow_nan=False), min_size=2, max_size=60))
def test_interpolated_percentiles_are_pythons_inclusive_quantiles(values):
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    ordered = sorted(values)
    for percent in (1, 50, 95, 99):
        assert interpolated(ordered, percent) == pytest.approx(
            cuts[percent - 1], rel=1e-9, abs=1e-6
        )


def test_durations_of_nothing_are_unknown_not_zero():
    assert Durations.of([]) == Durations(count=0)
    assert Durations.of([3.0]).p99_ms == 3.0


def test_rates_are_of_finished_runs_only():
    counts = RunCounts(
        total=5, executions=5, by_status={"COMPLETED": 3, "TIMEOUT": 1, "RUNNING": 1}
    )
    summary = Summary.of(counts, EXECUTION_STATUSES, EXECUTION_FINISHED)
    assert (summary.finished, summary.succeeded, summary.failed) == (4, 3, 1)
    assert (summary.success_rate, summary.failure_rate) == (0.75, 0.25)
    assert summary.by_status["PENDING"] == 0
    running = Summary.of(
        RunCounts(total=1, by_status={"RUNNING": 1}), EXECUTION_STATUSES, EXECUTION_FINISHED
    )
    assert running.success_rate is None and running.failure_rate is None


@pytest.mark.parametrize(
    ("start", "end", "fields"),
    [
        (T0, T0, {"from", "to"}),
        (T0 + timedelta(1), T0, {"from", "to"}),
        (datetime(2026, 1, 1), None, {"from"}),
        (None, datetime(1800, 1, 1, tzinfo=UTC), {"to"}),
    ],
)
def test_bad_ranges_name_their_fields(start, end, fields):
    with pytest.raises(ValidationFailed) as raised:
        Period.of(start, end)
    assert {detail.field for detail in raised.value.details} == fields


def test_series_are_filled_between_the_range_ends():
    point = SeriesPoint(bucket=T0 + timedelta(days=2), total=3, completed=3, failed=0)
    period = Period.of(T0, T0 + timedelta(days=4))
    filled = fill_series([point], period, Interval.DAY, now=T0)
    assert [(p.bucket.day, p.total) for p in filled] == [(1, 0), (2, 0), (3, 3), (4, 0)]
    assert fill_series([], Period(), Interval.DAY, now=T0) == []
    open_ended = fill_series([point], Period(), Interval.DAY, now=T0 + timedelta(days=3, hours=5))
    assert [p.bucket.day for p in open_ended] == [3, 4]
    with pytest.raises(ValidationFailed) as raised:
        fill_series([], Period.of(T0, T0 + timedelta(hours=MAX_BUCKETS + 1)), Interval.HOUR, T0)
    assert raised.value.details[0].field == "interval"


# --- the use cases over the in-memory store ----------------------------------------------


def actor(role: UserRole = UserRole.USER) -> Actor:
    return Actor(user_id=uuid4(), role=role)


async def store_with(*rows) -> MemoryStore:
    store = MemoryStore()
    async with store.unit_of_work() as uow:
        for row in rows:
            await ensure_parents(uow, row)
            if isinstance(row, Agent):
                await uow.agents.add(row)
            elif isinstance(row, Workflow):
                await uow.workflows.add(row)
            else:
                await uow.executions.add(row)
        await uow.commit()
    return store


async def test_whose_executions_count():
    ada, bob, admin = actor(), actor(), actor(UserRole.ADMIN)
    flow = Workflow(id=uuid4(), created_at=T0, updated_at=T0, user_id=ada.user_id, name="w")
    public = replace(flow, id=uuid4(), is_public=True)

    def run(by: Actor, workflow: Workflow) -> Execution:
        return Execution(
            id=uuid4(),
            created_at=T0,
            updated_at=T0,
            workflow_id=workflow.id,
            user_id=by.user_id,
            status=ExecutionStatus.COMPLETED,
            duration_ms=1.0,
        )

    store = await store_with(flow, public, run(ada, flow), run(ada, public), run(bob, public))
    metrics = GetWorkflowMetrics(uow=store.unit_of_work, clock=ManualClock(T0))
    assert (await metrics(ada, public.id)).executions.total == 2
    as_bob = await metrics(bob, public.id)
    assert (as_bob.scope, as_bob.executions.total) == ("own", 1)
    assert (await metrics(admin, flow.id)).scope == "all"
    with pytest.raises(NotFound):
        await metrics(bob, flow.id)

    overview = GetOverview(uow=store.unit_of_work)
    assert (await overview(ada)).executions.total == 2
    assert (await overview(admin)).executions.total == 3
    assert (await overview(admin, user_id=bob.user_id)).executions.total == 1
    with pytest.raises(PermissionDenied):
        await overview(bob, user_id=ada.user_id)


async def test_an_agent_another_user_cannot_see_is_not_found():
    ada, bob = actor(), actor()
    agent = Agent(
        id=uuid4(), created_at=T0, updated_at=T0, user_id=ada.user_id, name="a", type=AgentType.DATA
    )
    store = await store_with(agent)
    metrics = GetAgentMetrics(uow=store.unit_of_work, clock=ManualClock(T0))
    assert (await metrics(ada, agent.id)).calls.total == 0
    with pytest.raises(NotFound):
        await metrics(bob, agent.id)
    with pytest.raises(NotFound):
        await metrics(ada, uuid4())


async def test_only_admins_read_the_audit_log():
    store = await store_with()
    audit = ListAuditLogs(uow=store.unit_of_work)
    with pytest.raises(PermissionDenied):
        await audit(actor(), ListQuery())
    assert (await audit(actor(UserRole.ADMIN), ListQuery())).total == 0
