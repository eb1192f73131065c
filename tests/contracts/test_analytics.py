"""Contract of the analytics repository (and of the audit log's time range) on every store.

Figures are checked against Python oracles on the same data: percentiles against
``statistics.quantiles(method="inclusive")`` (linear interpolation, as ``percentile_cont``),
buckets against dates worked out by hand.
"""

from __future__ import annotations

import random
import statistics
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from tests.contracts import factories as make
from tests.contracts.factories import T0, at
from tests.contracts.helpers import put
from turbocat_core.domain.agent import AgentStatus
from turbocat_core.domain.analytics import Durations, Interval, Window
from turbocat_core.domain.common import ListQuery
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.domain.workflow import StepType, WorkflowStatus

S = ExecutionStatus
FINISHED = {S.COMPLETED, S.FAILED, S.CANCELLED, S.TIMEOUT}


def oracle(values: list[float]) -> dict[str, float | int | None]:
    """What ``Durations`` must say about ``values``, from the standard library."""
    if not values:
        return {"count": 0, "p50_ms": None, "p95_ms": None, "p99_ms": None, "avg_ms": None}
    if len(values) == 1:
        cuts = [values[0]] * 99
    else:
        cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {
        "count": len(values),
        "avg_ms": statistics.fmean(values),
        "min_ms": min(values),
        "max_ms": max(values),
        "p50_ms": cuts[49],
        "p95_ms": cuts[94],
        "p99_ms": cuts[98],
    }


def assert_durations(found: Durations, values: list[float]) -> None:
    expected = oracle(values)
    for name, value in expected.items():
        actual = getattr(found, name)
        if value is None:
            assert actual is None, name
        else:
            assert actual == pytest.approx(value, rel=1e-9, abs=1e-9), name


def agent_steps(flow, **agents):
    """Pinned AGENT steps: key -> agent id (``None``: a CONDITION step)."""
    return tuple(
        make.step(flow, key, agent_id=agent, step_type=StepType.AGENT)
        if agent is not None
        else make.step(flow, key, agent_id=None, step_type=StepType.CONDITION)
        for key, agent in agents.items()
    )


# --- executions --------------------------------------------------------------------------


async def test_execution_counts_rates_and_percentiles_match_python(uow_factory):
    rng = random.Random(7)
    flow, other_flow = uuid4(), uuid4()
    owner, stranger = uuid4(), uuid4()
    statuses = [S.COMPLETED] * 20 + [S.FAILED] * 7 + [S.CANCELLED, S.TIMEOUT, S.RUNNING, S.PENDING]
    executions = []
    for index, status in enumerate(statuses):
        finished = status in FINISHED
        executions.append(
            make.execution(
                flow,
                owner,
                status=status,
                created_at=at(index * 60),
                duration_ms=round(rng.uniform(1, 5000), 3) if finished else None,
            )
        )
    noise = [
        make.execution(other_flow, owner, status=S.COMPLETED, duration_ms=1e6, created_at=at(5)),
        make.execution(flow, stranger, status=S.FAILED, duration_ms=2e6, created_at=at(5)),
    ]
    await put(uow_factory, "executions", *executions, *noise)
    mine = Window(owner_id=owner)
    async with uow_factory() as uow:
        counts = await uow.analytics.execution_counts(mine, flow)
    assert counts.total == counts.executions == len(statuses)
    assert counts.by_status == {
        "COMPLETED": 20,
        "FAILED": 7,
        "CANCELLED": 1,
        "TIMEOUT": 1,
        "RUNNING": 1,
        "PENDING": 1,
    }
    assert_durations(
        counts.durations, [e.duration_ms for e in executions if e.duration_ms is not None]
    )

    async with uow_factory() as uow:
        everyone = await uow.analytics.execution_counts(Window(), flow)
        all_flows = await uow.analytics.execution_counts(mine)
        nothing = await uow.analytics.execution_counts(Window(owner_id=uuid4()))
    assert everyone.total == len(statuses) + 1 and everyone.by_status["FAILED"] == 8
    assert everyone.durations.max_ms == 2e6
    assert all_flows.total == len(statuses) + 1 and all_flows.durations.max_ms == 1e6
    assert nothing.total == nothing.executions == 0 and nothing.by_status == {}
    assert nothing.durations == Durations()


async def test_the_window_is_half_open_on_created_at(uow_factory):
    owner, flow = uuid4(), uuid4()
    rows = [
        make.execution(flow, owner, status=S.COMPLETED, duration_ms=float(n), created_at=at(n))
        for n in (9, 10, 11, 19, 20)
    ]
    await put(uow_factory, "executions", *rows)
    async with uow_factory() as uow:
        inside = await uow.analytics.execution_counts(Window(start=at(10), end=at(20)))
        from_ten = await uow.analytics.execution_counts(Window(start=at(10)))
        to_ten = await uow.analytics.execution_counts(Window(end=at(10)))
    assert inside.total == 3 and inside.durations.min_ms == 10 and inside.durations.max_ms == 19
    assert from_ten.total == 4
    assert to_ten.total == 1


async def test_one_duration_is_every_percentile(uow_factory):
    execution = make.execution(status=S.COMPLETED, duration_ms=42.5)
    await put(uow_factory, "executions", execution)
    async with uow_factory() as uow:
        counts = await uow.analytics.execution_counts(Window(owner_id=execution.user_id))
    assert counts.durations == Durations(
        count=1, avg_ms=42.5, min_ms=42.5, max_ms=42.5, p50_ms=42.5, p95_ms=42.5, p99_ms=42.5
    )


async def test_figures_see_the_transactions_own_writes(uow_factory):
    execution = make.execution(status=S.FAILED, duration_ms=7.0)
    async with uow_factory() as uow:
        await uow.executions.add(execution)
        counts = await uow.analytics.execution_counts(Window(owner_id=execution.user_id))
        assert counts.by_status == {"FAILED": 1}
    async with uow_factory() as uow:  # rolled back
        counts = await uow.analytics.execution_counts(Window(owner_id=execution.user_id))
        assert counts.total == 0


# --- time series -------------------------------------------------------------------------

# (created_at, hour, day, ISO week from Monday, month), worked out by hand.
MOMENTS = [
    (datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=UTC), "2025-12-31T23", "2025-12-31",
     "2025-12-29", "2025-12-01"),
    (datetime(2026, 1, 1, 0, 0, tzinfo=UTC), "2026-01-01T00", "2026-01-01", "2025-12-29",
     "2026-01-01"),
    (datetime(2026, 1, 4, 23, 30, tzinfo=UTC), "2026-01-04T23", "2026-01-04", "2025-12-29",
     "2026-01-01"),  # a Sunday
    (datetime(2026, 1, 5, 0, 0, tzinfo=UTC), "2026-01-05T00", "2026-01-05", "2026-01-05",
     "2026-01-01"),  # a Monday
    (datetime(2026, 1, 5, 0, 45, tzinfo=UTC), "2026-01-05T00", "2026-01-05", "2026-01-05",
     "2026-01-01"),
    (datetime(2026, 2, 28, 13, 0, tzinfo=UTC), "2026-02-28T13", "2026-02-28", "2026-02-23",
     "2026-02-01"),
]  # fmt: skip


def _start(text: str) -> datetime:
    return datetime.fromisoformat(text + (":00:00" if "T" in text else "")).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("interval", "column"),
    [(Interval.HOUR, 1), (Interval.DAY, 2), (Interval.WEEK, 3), (Interval.MONTH, 4)],
)
async def test_series_buckets_in_utc(uow_factory, interval, column):
    owner, flow = uuid4(), uuid4()
    statuses = [S.COMPLETED, S.FAILED, S.TIMEOUT, S.RUNNING, S.COMPLETED, S.CANCELLED]
    rows = []
    for index, (moment, status) in enumerate(zip(MOMENTS, statuses, strict=True)):
        created = moment[0]
        if index == 3:  # the same instant written with another offset
            created = created.astimezone(UTC)
        duration = float(100 * (index + 1)) if status in FINISHED else None
        rows.append(
            make.execution(flow, owner, status=status, created_at=created, duration_ms=duration)
        )
    await put(uow_factory, "executions", *rows)
    async with uow_factory() as uow:
        series = await uow.analytics.execution_series(Window(owner_id=owner), interval, flow)

    expected: dict[datetime, list] = {}
    for moment, row in zip(MOMENTS, rows, strict=True):
        expected.setdefault(_start(moment[column]), []).append(row)
    assert [point.bucket for point in series] == sorted(expected)
    for point in series:
        held = expected[point.bucket]
        assert point.bucket.utcoffset() == timedelta(0)
        assert point.total == len(held)
        assert point.completed == sum(1 for row in held if row.status is S.COMPLETED)
        assert point.failed == sum(
            1 for row in held if row.status in (S.FAILED, S.CANCELLED, S.TIMEOUT)
        )
        durations = [row.duration_ms for row in held if row.duration_ms is not None]
        if durations:
            assert point.avg_duration_ms == pytest.approx(statistics.fmean(durations))
        else:
            assert point.avg_duration_ms is None


# --- agents and steps --------------------------------------------------------------------


async def test_agent_calls_count_agent_steps_that_ran(uow_factory):
    owner, flow = uuid4(), uuid4()
    agent, other = uuid4(), uuid4()
    steps = agent_steps(flow, fetch=agent, again=agent, mail=other, decide=None)
    first = make.execution(flow, owner, status=S.COMPLETED, steps=steps, created_at=at(0))
    second = make.execution(flow, owner, status=S.FAILED, steps=steps, created_at=at(3600))
    retried = make.execution(flow, owner, status=S.RUNNING, steps=steps, created_at=at(7200))
    unrelated = make.execution(flow, owner, steps=agent_steps(flow, fetch=other), created_at=at(1))
    await put(uow_factory, "executions", first, second, retried, unrelated)
    done, failed, running, skipped = (
        StepStatus.COMPLETED,
        StepStatus.FAILED,
        StepStatus.RUNNING,
        StepStatus.SKIPPED,
    )
    runs = [
        make.step_run(first.id, "fetch", status=done, duration_ms=100.0),
        make.step_run(first.id, "again", status=done, duration_ms=300.0),
        make.step_run(first.id, "mail", status=done, duration_ms=9999.0),
        make.step_run(first.id, "decide", status=done, duration_ms=9999.0),
        make.step_run(second.id, "fetch", status=failed, duration_ms=50.0),
        make.step_run(second.id, "again", status=skipped),
        make.step_run(retried.id, "fetch", status=done, duration_ms=100.0, reused_from=first.id),
        make.step_run(retried.id, "again", status=running),
        make.step_run(unrelated.id, "fetch", status=done, duration_ms=9999.0),
    ]
    async with uow_factory() as uow:
        for run in runs:
            await uow.step_runs.save(run)
        await uow.commit()

    async with uow_factory() as uow:
        counts = await uow.analytics.agent_call_counts(agent, Window(owner_id=owner))
        series = await uow.analytics.agent_call_series(agent, Window(), Interval.HOUR)
        later = await uow.analytics.agent_call_counts(agent, Window(start=at(1)))
        strangers = await uow.analytics.agent_call_counts(agent, Window(owner_id=uuid4()))
    assert counts.by_status == {"COMPLETED": 2, "FAILED": 1, "RUNNING": 1}
    assert counts.total == 4
    assert counts.executions == 3
    assert_durations(counts.durations, [100.0, 300.0, 50.0])
    assert [(p.bucket, p.total, p.completed, p.failed) for p in series] == [
        (T0, 2, 2, 0),
        (at(3600), 1, 0, 1),
        (at(7200), 1, 0, 0),
    ]
    assert series[0].avg_duration_ms == pytest.approx(200.0)
    assert series[2].avg_duration_ms is None
    assert later.by_status == {"FAILED": 1, "RUNNING": 1} and later.executions == 2
    assert strangers.total == 0 and strangers.durations.count == 0


async def test_step_counts_per_key(uow_factory):
    rng = random.Random(11)
    owner, flow = uuid4(), uuid4()
    steps = agent_steps(flow, a=uuid4(), b=uuid4())
    executions = [
        make.execution(flow, owner, steps=steps, created_at=at(n), status=S.COMPLETED)
        for n in range(12)
    ]
    elsewhere = make.execution(uuid4(), owner, steps=steps, created_at=at(1))
    late = make.execution(flow, owner, steps=steps, created_at=at(100))
    await put(uow_factory, "executions", *executions, elsewhere, late)
    expected_a, expected_b = [], []
    runs = []
    for index, execution in enumerate(executions):
        duration = round(rng.uniform(1, 1000), 2)
        if index == 0:
            runs.append(make.step_run(execution.id, "a", status=StepStatus.FAILED, duration_ms=5))
            runs.append(make.step_run(execution.id, "b", status=StepStatus.SKIPPED))
            expected_a.append(5.0)
            continue
        if index == 1:  # reused by a retry: not a run of its own
            runs.append(
                make.step_run(
                    execution.id,
                    "a",
                    status=StepStatus.COMPLETED,
                    duration_ms=1e9,
                    reused_from=executions[0].id,
                )
            )
        else:
            runs.append(
                make.step_run(execution.id, "a", status=StepStatus.COMPLETED, duration_ms=duration)
            )
            expected_a.append(duration)
        runs.append(
            make.step_run(execution.id, "b", status=StepStatus.COMPLETED, duration_ms=duration * 2)
        )
        expected_b.append(duration * 2)
    runs.append(make.step_run(elsewhere.id, "a", status=StepStatus.FAILED, duration_ms=1e9))
    runs.append(make.step_run(late.id, "zz", status=StepStatus.RUNNING))
    async with uow_factory() as uow:
        for run in runs:
            await uow.step_runs.save(run)
        await uow.commit()

    async with uow_factory() as uow:
        stats = await uow.analytics.step_counts(flow, Window(owner_id=owner, end=at(50)))
        with_late = await uow.analytics.step_counts(flow, Window())
    a, b = stats

    def figures(step):
        return (step.step_key, step.runs, step.completed, step.failed, step.skipped, step.reused)

    assert figures(a) == ("a", 11, 10, 1, 0, 1)
    assert figures(b) == ("b", 12, 11, 0, 1, 0)
    assert_durations(a.durations, expected_a)
    assert_durations(b.durations, expected_b)
    assert [s.step_key for s in with_late] == ["a", "b", "zz"]
    assert with_late[2].runs == 1 and with_late[2].durations == Durations()


async def test_resource_counts_are_live_rows_by_status(uow_factory):
    owner, other = uuid4(), uuid4()
    agents = [
        make.agent(owner, status=AgentStatus.ACTIVE),
        make.agent(owner, status=AgentStatus.ACTIVE),
        make.agent(owner, status=AgentStatus.DRAFT),
        make.agent(owner, status=AgentStatus.ACTIVE, deleted_at=T0),
        make.agent(other, status=AgentStatus.ARCHIVED),
    ]
    workflows = [
        make.workflow(owner, status=WorkflowStatus.INACTIVE),
        make.workflow(other, status=WorkflowStatus.ACTIVE),
        make.workflow(other, status=WorkflowStatus.ACTIVE, deleted_at=T0),
    ]
    await put(uow_factory, "agents", *agents)
    await put(uow_factory, "workflows", *workflows)
    async with uow_factory() as uow:
        mine = await uow.analytics.resource_counts(owner)
        everyone = await uow.analytics.resource_counts(None)
    assert mine.agents == {"ACTIVE": 2, "DRAFT": 1}
    assert mine.workflows == {"INACTIVE": 1}
    assert everyone.agents == {"ACTIVE": 2, "DRAFT": 1, "ARCHIVED": 1}
    assert everyone.workflows == {"INACTIVE": 1, "ACTIVE": 1}


# --- the audit log's time range ----------------------------------------------------------


async def test_audit_entries_are_listed_by_creation_range(uow_factory):
    owner = uuid4()
    entries = [make.audit(owner, action=f"a.{n}", created_at=at(n)) for n in range(5)]
    async with uow_factory() as uow:
        for entry in entries:
            await uow.audit_logs.append(entry)
        await uow.commit()
    newest_first = ListQuery()
    async with uow_factory() as uow:
        ranged = await uow.audit_logs.list(newest_first, created_from=at(1), created_to=at(4))
        since = await uow.audit_logs.list(newest_first, created_from=at(3))
        until = await uow.audit_logs.list(
            ListQuery(filters={"user_id": owner}, page_size=1), created_to=at(2)
        )
        everything = await uow.audit_logs.list(newest_first)
    assert [e.action for e in ranged.items] == ["a.3", "a.2", "a.1"] and ranged.total == 3
    assert [e.action for e in since.items] == ["a.4", "a.3"]
    assert [e.action for e in until.items] == ["a.1"] and until.total == 2
    assert everything.total == 5
