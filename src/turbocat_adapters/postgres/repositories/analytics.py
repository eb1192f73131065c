"""Analytics in PostgreSQL: GROUP BY, ``date_trunc`` buckets in UTC, ``percentile_cont``."""

from __future__ import annotations

from datetime import UTC
from typing import Any, Final, LiteralString

from psycopg import sql
from psycopg.rows import DictRow

from turbocat_adapters.postgres.mapping import jsonb
from turbocat_adapters.postgres.session import Session
from turbocat_core.domain.analytics import (
    Durations,
    Interval,
    ResourceCounts,
    RunCounts,
    SeriesPoint,
    StepStats,
    Window,
)
from turbocat_core.domain.common import AgentId, UserId, WorkflowId

# Status lists as SQL constants (they mirror turbocat_core.domain.analytics).
_FINISHED: Final = "('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT')"
_FAILURES: Final = "('FAILED', 'CANCELLED', 'TIMEOUT')"
_CALL_FINISHED: Final = "('COMPLETED', 'FAILED')"

# Aggregates of a duration column ``{v}`` over the rows where ``{measured}`` holds.
_DURATIONS: Final = """
    count({v}) FILTER (WHERE {measured}) AS d_count,
    avg({v}) FILTER (WHERE {measured}) AS d_avg,
    min({v}) FILTER (WHERE {measured}) AS d_min,
    max({v}) FILTER (WHERE {measured}) AS d_max,
    percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY {v})
        FILTER (WHERE {measured}) AS d_pct"""

_EXECUTION_MEASURED: Final = f"e.status IN {_FINISHED} AND e.duration_ms IS NOT NULL"
_CALL_MEASURED: Final = f"r.status IN {_CALL_FINISHED} AND r.duration_ms IS NOT NULL"
_STEP_MEASURED: Final = f"r.reused_from IS NULL AND {_CALL_MEASURED}"

_CALLS: Final = "step_runs r JOIN executions e ON e.id = r.execution_id"
# Executions whose pinned steps hold an AGENT step of the agent (the containment test can
# use an index; the EXISTS pins the step run's own key to that step).
_AGENT_STEP: Final = """
e.steps @> %(needle)s
AND r.reused_from IS NULL AND r.status <> 'SKIPPED'
AND EXISTS (
    SELECT 1 FROM jsonb_array_elements(e.steps) AS s
    WHERE s->>'stepKey' = r.step_key AND s->>'stepType' = 'AGENT' AND s->>'agentId' = %(agent)s
)"""

_RESOURCES: Final[dict[str, LiteralString]] = {
    "agents": "SELECT status, count(*) AS n FROM agents WHERE deleted_at IS NULL",
    "workflows": "SELECT status, count(*) AS n FROM workflows WHERE deleted_at IS NULL",
}


def _durations_sql(value: LiteralString, measured: LiteralString) -> sql.SQL:
    return sql.SQL(_DURATIONS.format(v=value, measured=measured))


def _where(
    window: Window, workflow_id: WorkflowId | None = None
) -> tuple[sql.Composable, dict[str, Any]]:
    """Conditions on the executions ``e`` of the window, and their parameters."""
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if window.owner_id is not None:
        conditions.append(sql.SQL("e.user_id = %(owner)s"))
        params["owner"] = window.owner_id
    if workflow_id is not None:
        conditions.append(sql.SQL("e.workflow_id = %(workflow)s"))
        params["workflow"] = workflow_id
    if window.start is not None:
        conditions.append(sql.SQL("e.created_at >= %(start)s"))
        params["start"] = window.start
    if window.end is not None:
        conditions.append(sql.SQL("e.created_at < %(end)s"))
        params["end"] = window.end
    if not conditions:
        return sql.SQL("TRUE"), params
    return sql.SQL(" AND ").join(conditions), params


def _agent(agent_id: AgentId, params: dict[str, Any]) -> dict[str, Any]:
    params["agent"] = str(agent_id)
    params["needle"] = jsonb([{"agentId": str(agent_id), "stepType": "AGENT"}])
    return params


def _durations(row: DictRow) -> Durations:
    count = int(row["d_count"] or 0)
    if not count:
        return Durations()
    p50, p95, p99 = (float(value) for value in row["d_pct"])
    return Durations(
        count=count,
        avg_ms=float(row["d_avg"]),
        min_ms=float(row["d_min"]),
        max_ms=float(row["d_max"]),
        p50_ms=p50,
        p95_ms=p95,
        p99_ms=p99,
    )


def _point(row: DictRow) -> SeriesPoint:
    avg = row["avg_duration_ms"]
    return SeriesPoint(
        bucket=row["bucket"].astimezone(UTC),
        total=int(row["total"]),
        completed=int(row["completed"]),
        failed=int(row["failed"]),
        avg_duration_ms=None if avg is None else float(avg),
    )


class PostgresAnalyticsRepository:
    """The ``AnalyticsRepository`` port: each figure is one or two statements."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    async def resource_counts(self, owner_id: UserId | None) -> ResourceCounts:
        counts: dict[str, dict[str, int]] = {}
        for table, base in _RESOURCES.items():
            query = sql.SQL(base)
            if owner_id is not None:
                query = sql.SQL(base + " AND user_id = %(owner)s")
            statement = sql.SQL("{} GROUP BY status").format(query)
            rows = await self._session.all(statement, {"owner": owner_id})
            counts[table] = {row["status"]: int(row["n"]) for row in rows}
        return ResourceCounts(agents=counts["agents"], workflows=counts["workflows"])

    async def execution_counts(
        self, window: Window, workflow_id: WorkflowId | None = None
    ) -> RunCounts:
        where, params = _where(window, workflow_id)
        by_status = sql.SQL(
            "SELECT e.status AS status, count(*) AS n FROM executions e WHERE {} GROUP BY 1"
        ).format(where)
        summary = sql.SQL("SELECT count(*) AS executions, {} FROM executions e WHERE {}").format(
            _durations_sql("e.duration_ms", _EXECUTION_MEASURED), where
        )
        return await self._counts(by_status, summary, params)

    async def execution_series(
        self, window: Window, interval: Interval, workflow_id: WorkflowId | None = None
    ) -> list[SeriesPoint]:
        where, params = _where(window, workflow_id)
        statement = sql.SQL(
            "SELECT date_trunc({unit}, e.created_at, 'UTC') AS bucket, count(*) AS total,"
            " count(*) FILTER (WHERE e.status = 'COMPLETED') AS completed,"
            " count(*) FILTER (WHERE e.status IN " + _FAILURES + ") AS failed,"
            " avg(e.duration_ms) FILTER (WHERE " + _EXECUTION_MEASURED + ") AS avg_duration_ms"
            " FROM executions e WHERE {where} GROUP BY 1 ORDER BY 1"
        ).format(unit=sql.Literal(interval.value), where=where)
        return [_point(row) for row in await self._session.all(statement, params)]

    async def agent_call_counts(self, agent_id: AgentId, window: Window) -> RunCounts:
        where, params = _where(window)
        _agent(agent_id, params)
        by_status = sql.SQL(
            "SELECT r.status AS status, count(*) AS n FROM "
            + _CALLS
            + " WHERE {} AND "
            + _AGENT_STEP
            + " GROUP BY 1"
        ).format(where)
        summary = sql.SQL(
            "SELECT count(DISTINCT r.execution_id) AS executions, {} FROM "
            + _CALLS
            + " WHERE {} AND "
            + _AGENT_STEP
        ).format(_durations_sql("r.duration_ms", _CALL_MEASURED), where)
        return await self._counts(by_status, summary, params)

    async def agent_call_series(
        self, agent_id: AgentId, window: Window, interval: Interval
    ) -> list[SeriesPoint]:
        where, params = _where(window)
        _agent(agent_id, params)
        statement = sql.SQL(
            "SELECT date_trunc({unit}, e.created_at, 'UTC') AS bucket, count(*) AS total,"
            " count(*) FILTER (WHERE r.status = 'COMPLETED') AS completed,"
            " count(*) FILTER (WHERE r.status = 'FAILED') AS failed,"
            " avg(r.duration_ms) FILTER (WHERE " + _CALL_MEASURED + ") AS avg_duration_ms"
            " FROM " + _CALLS + " WHERE {where} AND " + _AGENT_STEP + " GROUP BY 1 ORDER BY 1"
        ).format(unit=sql.Literal(interval.value), where=where)
        return [_point(row) for row in await self._session.all(statement, params)]

    async def step_counts(self, workflow_id: WorkflowId, window: Window) -> list[StepStats]:
        where, params = _where(window, workflow_id)
        statement = sql.SQL(
            "SELECT r.step_key AS step_key,"
            " count(*) FILTER (WHERE r.reused_from IS NULL) AS runs,"
            " count(*) FILTER (WHERE r.reused_from IS NULL AND r.status = 'COMPLETED')"
            " AS completed,"
            " count(*) FILTER (WHERE r.reused_from IS NULL AND r.status = 'FAILED') AS failed,"
            " count(*) FILTER (WHERE r.reused_from IS NULL AND r.status = 'SKIPPED') AS skipped,"
            " count(*) FILTER (WHERE r.reused_from IS NOT NULL) AS reused, {durations}"
            " FROM " + _CALLS + " WHERE {where}"
            ' GROUP BY r.step_key ORDER BY r.step_key COLLATE "C"'
        ).format(durations=_durations_sql("r.duration_ms", _STEP_MEASURED), where=where)
        return [
            StepStats(
                step_key=row["step_key"],
                runs=int(row["runs"]),
                completed=int(row["completed"]),
                failed=int(row["failed"]),
                skipped=int(row["skipped"]),
                reused=int(row["reused"]),
                durations=_durations(row),
            )
            for row in await self._session.all(statement, params)
        ]

    async def _counts(
        self, by_status: sql.Composed, summary: sql.Composed, params: dict[str, Any]
    ) -> RunCounts:
        # One round trip; both statements in one savepoint so a failing one leaves an open
        # transaction of the caller usable.
        async with self._session.savepoint(reads=True) as conn:
            statuses = await (await conn.execute(by_status, params)).fetchall()
            totals = await (await conn.execute(summary, params)).fetchone()
        counts = {row["status"]: int(row["n"]) for row in statuses}
        return RunCounts(
            total=sum(counts.values()),
            executions=int(totals["executions"]) if totals else 0,
            by_status=counts,
            durations=_durations(totals) if totals else Durations(),
        )
