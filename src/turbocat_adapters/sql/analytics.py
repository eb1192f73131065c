"""Analytics in SQL: GROUP BY, time buckets and percentiles (the last two per dialect)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from turbocat_adapters.sql.connection import Connection, Params, Script, Statement
from turbocat_adapters.sql.dialect import Dialect
from turbocat_core.domain import analytics as figures
from turbocat_core.domain.analytics import Durations, RunCounts, SeriesPoint, StepStats

if TYPE_CHECKING:
    from turbocat_core.domain.analytics import Interval, Window
    from turbocat_core.domain.common import AgentId, UserId, WorkflowId


def _quoted(values: Sequence[str]) -> str:
    """``('A', 'B')``: constants of this module only (statuses), never caller input."""
    return "(" + ", ".join(f"'{value}'" for value in values) + ")"


_FINISHED: Final = _quoted(figures.EXECUTION_FINISHED)
_FAILURES: Final = _quoted(figures.EXECUTION_FAILURES)
_CALL_FINISHED: Final = _quoted(figures.CALL_FINISHED)
_CALLS: Final = "FROM step_runs r JOIN executions e ON e.id = r.execution_id"
_SUMMARY: Final = "SELECT grp, count(v), avg(v), min(v), max(v) FROM picked GROUP BY grp"
_RESOURCES: Final = (
    "SELECT status, count(*) FROM {table} WHERE deleted_at IS NULL{owned} GROUP BY status"
)


def _count(condition: str) -> str:
    return f"sum(CASE WHEN {condition} THEN 1 ELSE 0 END)"


def _where(
    dialect: Dialect, window: Window, workflow_id: WorkflowId | None = None
) -> tuple[str, dict[str, Any]]:
    """Conditions on the executions ``e`` of the window, and their parameters."""
    conditions: list[str] = []
    params: dict[str, Any] = {}
    if window.owner_id is not None:
        conditions.append("e.user_id = :owner")
        params["owner"] = dialect.bind("uuid", window.owner_id)
    if workflow_id is not None:
        conditions.append("e.workflow_id = :workflow")
        params["workflow"] = dialect.bind("uuid", workflow_id)
    if window.start is not None:
        conditions.append("e.created_at >= :start")
        params["start"] = dialect.bind("time", window.start)
    if window.end is not None:
        conditions.append("e.created_at < :end")
        params["end"] = dialect.bind("time", window.end)
    return " AND ".join(conditions) or "1 = 1", params


def _durations(dialect: Dialect, picked: str, params: Params) -> Script[dict[Any, Durations]]:
    """Durations per group of ``picked`` (a ``WITH picked AS (SELECT grp, v ...)`` clause)."""
    summary = yield Statement(picked + _SUMMARY, params)
    ranked = yield Statement(picked + dialect.query("percentiles"), params)
    percentiles: dict[Any, dict[int, float]] = {}
    for grp, percent, value in ranked.rows:
        percentiles.setdefault(grp, {})[percent] = float(value)
    found = {}
    for grp, count, avg, low, high in summary.rows:
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


class AnalyticsRepository:
    """The ``AnalyticsRepository`` port: every figure is one read call (one snapshot)."""

    __slots__ = ("_conn",)

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    async def resource_counts(self, owner_id: UserId | None) -> figures.ResourceCounts:
        owned = " AND user_id = :owner" if owner_id is not None else ""
        params = {"owner": self._conn.dialect.bind("uuid", owner_id)}

        def script() -> Script[figures.ResourceCounts]:
            agents = yield Statement(_RESOURCES.format(table="agents", owned=owned), params)
            flows = yield Statement(_RESOURCES.format(table="workflows", owned=owned), params)
            return figures.ResourceCounts(
                agents={status: n for status, n in agents.rows},
                workflows={status: n for status, n in flows.rows},
            )

        return await self._conn.run(script(), write=False)

    async def execution_counts(
        self, window: Window, workflow_id: WorkflowId | None = None
    ) -> RunCounts:
        where, params = _where(self._conn.dialect, window, workflow_id)
        source = f"FROM executions e WHERE {where}"
        picked = (
            f"WITH picked AS (SELECT 0 AS grp, e.duration_ms AS v {source}"
            f" AND e.status IN {_FINISHED} AND e.duration_ms IS NOT NULL) "
        )
        return await self._counts(
            f"SELECT e.status, count(*) {source}", "count(*)", source, picked, params
        )

    async def execution_series(
        self, window: Window, interval: Interval, workflow_id: WorkflowId | None = None
    ) -> list[SeriesPoint]:
        where, params = _where(self._conn.dialect, window, workflow_id)
        return await self._series(
            interval,
            f"""count(*), {_count("e.status = 'COMPLETED'")}, {_count(f"e.status IN {_FAILURES}")},
    avg(CASE WHEN e.status IN {_FINISHED} THEN e.duration_ms END)
FROM executions e WHERE {where}""",
            params,
        )

    async def agent_call_counts(self, agent_id: AgentId, window: Window) -> RunCounts:
        params, source = self._agent_calls(agent_id, window)
        picked = (
            f"WITH picked AS (SELECT 0 AS grp, r.duration_ms AS v {source}"
            f" AND r.status IN {_CALL_FINISHED} AND r.duration_ms IS NOT NULL) "
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
        params, source = self._agent_calls(agent_id, window)
        return await self._series(
            interval,
            f"""count(*), {_count("r.status = 'COMPLETED'")}, {_count("r.status = 'FAILED'")},
    avg(CASE WHEN r.status IN {_CALL_FINISHED} THEN r.duration_ms END)
{source}""",
            params,
        )

    async def step_counts(self, workflow_id: WorkflowId, window: Window) -> list[StepStats]:
        dialect = self._conn.dialect
        where, params = _where(dialect, window, workflow_id)
        source = f"{_CALLS} WHERE {where}"
        counts_sql = f"""
SELECT r.step_key,
    {_count("r.reused_from IS NULL")},
    {_count("r.reused_from IS NULL AND r.status = 'COMPLETED'")},
    {_count("r.reused_from IS NULL AND r.status = 'FAILED'")},
    {_count("r.reused_from IS NULL AND r.status = 'SKIPPED'")},
    {_count("r.reused_from IS NOT NULL")}
{source}
GROUP BY r.step_key ORDER BY r.step_key{dialect.text_order}"""
        picked = (
            f"WITH picked AS (SELECT r.step_key AS grp, r.duration_ms AS v {source}"
            f" AND r.reused_from IS NULL AND r.status IN {_CALL_FINISHED}"
            " AND r.duration_ms IS NOT NULL) "
        )

        def script() -> Script[list[StepStats]]:
            durations = yield from _durations(dialect, picked, params)
            counted = yield Statement(counts_sql, params)
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
                for key, runs, completed, failed, skipped, reused in counted.rows
            ]

        return await self._conn.run(script(), write=False)

    def _agent_calls(self, agent_id: AgentId, window: Window) -> tuple[dict[str, Any], str]:
        """The parameters and the FROM ... WHERE of the runs of AGENT steps of ``agent_id``."""
        dialect = self._conn.dialect
        where, params = _where(dialect, window)
        params["agent"] = str(agent_id)
        params["needle"] = dialect.bind("json", [{"agentId": str(agent_id), "stepType": "AGENT"}])
        return params, f"{_CALLS} WHERE {where} AND {dialect.query('agent_step')}"

    async def _counts(
        self,
        by_status_sql: str,
        executions: str,
        source: str,
        picked: str,
        params: dict[str, Any],
    ) -> RunCounts:
        dialect = self._conn.dialect

        def script() -> Script[RunCounts]:
            grouped = yield Statement(by_status_sql + " GROUP BY 1", params)
            distinct = yield Statement(f"SELECT {executions} {source}", params)
            durations = yield from _durations(dialect, picked, params)
            by_status = {status: n for status, n in grouped.rows}
            return RunCounts(
                total=sum(by_status.values()),
                executions=distinct.rows[0][0],
                by_status=by_status,
                durations=durations.get(0, Durations()),
            )

        return await self._conn.run(script(), write=False)

    async def _series(self, interval: Interval, body: str, params: Params) -> list[SeriesPoint]:
        dialect = self._conn.dialect
        sql = f"SELECT {dialect.bucket(interval)} AS bucket, {body} GROUP BY 1 ORDER BY 1"
        return [
            SeriesPoint(
                bucket=dialect.bucket_start(bucket),
                total=total,
                completed=completed,
                failed=failed,
                avg_duration_ms=None if avg is None else float(avg),
            )
            for bucket, total, completed, failed, avg in await self._conn.fetch(sql, params)
        ]
