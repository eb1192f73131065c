"""Analytics in SQLite's SQL: GROUP BY, strftime buckets, and percentiles from window functions.

SQLite has no ``percentile_cont``: each value gets its rank (``row_number()``) and its
group's size (``count() OVER``), and the two values around position ``p * (n - 1) / 100``
(integer arithmetic) are picked out and interpolated in SQL; only three rows per group
(one per percentile) come back to Python.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from turbocat_adapters.sqlite.codec import ts
from turbocat_adapters.sqlite.transaction import Transaction
from turbocat_core.domain.analytics import (
    CALL_FINISHED,
    EXECUTION_FAILURES,
    EXECUTION_FINISHED,
    PERCENTILES,
    Durations,
    Interval,
    ResourceCounts,
    RunCounts,
    SeriesPoint,
    StepStats,
    Window,
)
from turbocat_core.domain.common import AgentId, UserId, WorkflowId


def _quoted(values: Sequence[str]) -> str:
    """``'A', 'B'``: constants of this module only (statuses), never caller input."""
    return ", ".join(f"'{value}'" for value in values)


_FINISHED: Final = _quoted(EXECUTION_FINISHED)
_FAILURES: Final = _quoted(EXECUTION_FAILURES)
_CALL_FINISHED: Final = _quoted(CALL_FINISHED)

_BUCKETS: Final[dict[Interval, str]] = {
    Interval.HOUR: "strftime('%Y-%m-%dT%H:00:00', e.created_at)",
    Interval.DAY: "date(e.created_at)",
    # back to Monday: %w is 0 on Sunday
    Interval.WEEK: (
        "date(e.created_at, '-' || ((CAST(strftime('%w', e.created_at) AS INTEGER) + 6) % 7)"
        " || ' days')"
    ),
    Interval.MONTH: "strftime('%Y-%m-01', e.created_at)",
}
_WANTED: Final = ", ".join(f"({percent})" for percent in PERCENTILES)

# The percentiles of ``v`` per ``grp`` of a ``picked`` CTE (which the caller prepends).
_PERCENTILES: Final = f"""
, ranked AS (
    SELECT grp, v,
        row_number() OVER (PARTITION BY grp ORDER BY v) - 1 AS i,
        count(*) OVER (PARTITION BY grp) AS n
    FROM picked
), wanted(p) AS (VALUES {_WANTED}),
around AS (
    SELECT grp, p,
        max(CASE WHEN i = p * (n - 1) / 100 THEN v END) AS low,
        max(CASE WHEN i = p * (n - 1) / 100 + 1 THEN v END) AS high,
        max(p * (n - 1) % 100) AS rest
    FROM ranked CROSS JOIN wanted
    WHERE i BETWEEN p * (n - 1) / 100 AND p * (n - 1) / 100 + 1
    GROUP BY grp, p
)
SELECT grp, p,
    CASE WHEN rest = 0 THEN low ELSE low + (high - low) * rest / 100.0 END
FROM around
"""
_SUMMARY: Final = "SELECT grp, count(v), avg(v), min(v), max(v) FROM picked GROUP BY grp"

_AGENT_STEP: Final = """
instr(e.steps, :agent) > 0
AND r.reused_from IS NULL AND r.status <> 'SKIPPED'
AND EXISTS (
    SELECT 1 FROM json_each(e.steps) AS s
    WHERE json_extract(s.value, '$.stepKey') = r.step_key
        AND json_extract(s.value, '$.stepType') = 'AGENT'
        AND json_extract(s.value, '$.agentId') = :agent
)"""
_CALLS: Final = "FROM step_runs r JOIN executions e ON e.id = r.execution_id"


def _where(window: Window, workflow_id: WorkflowId | None = None) -> tuple[str, dict[str, Any]]:
    """Conditions on the executions ``e`` of the window, and their parameters."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if window.owner_id is not None:
        conditions.append("e.user_id = :owner")
        params["owner"] = str(window.owner_id)
    if workflow_id is not None:
        conditions.append("e.workflow_id = :workflow")
        params["workflow"] = str(workflow_id)
    if window.start is not None:
        conditions.append("e.created_at >= :start")
        params["start"] = ts(window.start)
    if window.end is not None:
        conditions.append("e.created_at < :end")
        params["end"] = ts(window.end)
    return " AND ".join(conditions) or "1", params


def _durations(
    connection: sqlite3.Connection, picked: str, params: dict[str, Any]
) -> dict[Any, Durations]:
    """Durations per group of ``picked`` (a ``WITH picked AS (SELECT grp, v ...)`` clause)."""
    summary = {
        grp: (count, avg, low, high)
        for grp, count, avg, low, high in connection.execute(picked + _SUMMARY, params)
    }
    percentiles: dict[Any, dict[int, float]] = {}
    for grp, percent, value in connection.execute(picked + _PERCENTILES, params):
        percentiles.setdefault(grp, {})[percent] = float(value)
    found = {}
    for grp, (count, avg, low, high) in summary.items():
        if not count:
            continue
        ranks = percentiles.get(grp, {})
        found[grp] = Durations(
            count=count,
            avg_ms=float(avg),
            min_ms=float(low),
            max_ms=float(high),
            p50_ms=ranks.get(50),
            p95_ms=ranks.get(95),
            p99_ms=ranks.get(99),
        )
    return found


def _bucket(text: str) -> datetime:
    """A bucket start as SQLite wrote it (``YYYY-MM-DD`` or ``YYYY-MM-DDTHH:00:00``), in UTC."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


class SqliteAnalyticsRepository:
    """The ``AnalyticsRepository`` port: every figure is one read call (one snapshot)."""

    __slots__ = ("_tx",)

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def resource_counts(self, owner_id: UserId | None) -> ResourceCounts:
        tx = self._tx
        tx.require()
        owned = " AND user_id = :owner" if owner_id is not None else ""
        params = {"owner": str(owner_id)} if owner_id is not None else {}

        def count(connection: sqlite3.Connection, table: str) -> dict[str, int]:
            sql = (
                f"SELECT status, count(*) FROM {table} WHERE deleted_at IS NULL{owned}"
                " GROUP BY status"
            )
            return {status: n for status, n in connection.execute(sql, params)}

        def work(connection: sqlite3.Connection) -> ResourceCounts:
            return ResourceCounts(
                agents=count(connection, "agents"), workflows=count(connection, "workflows")
            )

        return await tx.read(work, snapshot=True)

    async def execution_counts(
        self, window: Window, workflow_id: WorkflowId | None = None
    ) -> RunCounts:
        where, params = _where(window, workflow_id)
        source = f"FROM executions e WHERE {where}"
        picked = (
            f"WITH picked AS (SELECT 0 AS grp, e.duration_ms AS v {source}"
            f" AND e.status IN ({_FINISHED}) AND e.duration_ms IS NOT NULL)"
        )
        return await self._counts(
            f"SELECT e.status, count(*) {source}", "count(*)", source, picked, params
        )

    async def execution_series(
        self, window: Window, interval: Interval, workflow_id: WorkflowId | None = None
    ) -> list[SeriesPoint]:
        where, params = _where(window, workflow_id)
        sql = f"""
SELECT {_BUCKETS[interval]} AS bucket, count(*),
    sum(e.status = 'COMPLETED'), sum(e.status IN ({_FAILURES})),
    avg(CASE WHEN e.status IN ({_FINISHED}) THEN e.duration_ms END)
FROM executions e WHERE {where}
GROUP BY bucket ORDER BY bucket"""
        return await self._series(sql, params)

    async def agent_call_counts(self, agent_id: AgentId, window: Window) -> RunCounts:
        where, params = _where(window)
        params["agent"] = str(agent_id)
        source = f"{_CALLS} WHERE {where} AND {_AGENT_STEP}"
        picked = (
            f"WITH picked AS (SELECT 0 AS grp, r.duration_ms AS v {source}"
            f" AND r.status IN ({_CALL_FINISHED}) AND r.duration_ms IS NOT NULL)"
        )
        return await self._counts(
            f"SELECT r.status, count(*) {source}",
            "count(DISTINCT r.execution_id)",
            source,
            picked,
            params,
        )

    async def agent_call_series(
        self, agent_id: AgentId, window: Window, interval: Interval
    ) -> list[SeriesPoint]:
        where, params = _where(window)
        params["agent"] = str(agent_id)
        sql = f"""
SELECT {_BUCKETS[interval]} AS bucket, count(*),
    sum(r.status = 'COMPLETED'), sum(r.status = 'FAILED'),
    avg(CASE WHEN r.status IN ({_CALL_FINISHED}) THEN r.duration_ms END)
{_CALLS} WHERE {where} AND {_AGENT_STEP}
GROUP BY bucket ORDER BY bucket"""
        return await self._series(sql, params)

    async def step_counts(self, workflow_id: WorkflowId, window: Window) -> list[StepStats]:
        tx = self._tx
        tx.require()
        where, params = _where(window, workflow_id)
        source = f"{_CALLS} WHERE {where}"
        counts_sql = f"""
SELECT r.step_key,
    sum(r.reused_from IS NULL),
    sum(r.reused_from IS NULL AND r.status = 'COMPLETED'),
    sum(r.reused_from IS NULL AND r.status = 'FAILED'),
    sum(r.reused_from IS NULL AND r.status = 'SKIPPED'),
    sum(r.reused_from IS NOT NULL)
{source}
GROUP BY r.step_key ORDER BY r.step_key"""
        picked = (
            f"WITH picked AS (SELECT r.step_key AS grp, r.duration_ms AS v {source}"
            f" AND r.reused_from IS NULL AND r.status IN ({_CALL_FINISHED})"
            " AND r.duration_ms IS NOT NULL)"
        )

        def work(connection: sqlite3.Connection) -> list[StepStats]:
            durations = _durations(connection, picked, params)
            return [
                StepStats(
                    step_key=key,
                    runs=runs,
                    completed=completed,
                    failed=failed,
                    skipped=skipped,
                    reused=reused,
                    durations=durations.get(key, Durations()),
                )
                for key, runs, completed, failed, skipped, reused in connection.execute(
                    counts_sql, params
                )
            ]

        return await tx.read(work, snapshot=True)

    async def _counts(
        self,
        by_status_sql: str,
        executions: str,
        source: str,
        picked: str,
        params: dict[str, Any],
    ) -> RunCounts:
        tx = self._tx
        tx.require()
        grouped = by_status_sql + " GROUP BY 1"
        executions_sql = f"SELECT {executions} {source}"

        def work(connection: sqlite3.Connection) -> RunCounts:
            by_status = {status: n for status, n in connection.execute(grouped, params)}
            (distinct,) = connection.execute(executions_sql, params).fetchone()
            return RunCounts(
                total=sum(by_status.values()),
                executions=distinct,
                by_status=by_status,
                durations=_durations(connection, picked, params).get(0, Durations()),
            )

        return await tx.read(work, snapshot=True)

    async def _series(self, sql: str, params: dict[str, Any]) -> list[SeriesPoint]:
        tx = self._tx
        tx.require()

        def work(connection: sqlite3.Connection) -> list[SeriesPoint]:
            return [
                SeriesPoint(
                    bucket=_bucket(bucket),
                    total=total,
                    completed=completed,
                    failed=failed,
                    avg_duration_ms=None if avg is None else float(avg),
                )
                for bucket, total, completed, failed, avg in connection.execute(sql, params)
            ]

        return await tx.read(work, snapshot=True)
