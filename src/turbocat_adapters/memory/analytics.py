"""Analytics over the in-memory store: its rows are its database, so Python does the SQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from turbocat_adapters.memory.transaction import Transaction, is_live
from turbocat_core.domain.analytics import (
    CALL_FINISHED,
    EXECUTION_FAILURES,
    EXECUTION_FINISHED,
    Durations,
    Interval,
    ResourceCounts,
    RunCounts,
    SeriesPoint,
    StepStats,
    Window,
    bucket_start,
)
from turbocat_core.domain.common import AgentId, UserId, WorkflowId
from turbocat_core.domain.execution import Execution, StepRun, StepStatus
from turbocat_core.domain.workflow import StepType

_COMPLETED = StepStatus.COMPLETED.value
_FAILED = StepStatus.FAILED.value
_SKIPPED = StepStatus.SKIPPED.value

# One run counted: (its status, its execution's created_at, its duration if it counts).
Run = tuple[str, Any, datetime, float | None]


class MemoryAnalyticsRepository:
    """The ``AnalyticsRepository`` port over one transaction (reads its own writes)."""

    __slots__ = ("_tx",)

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def resource_counts(self, owner_id: UserId | None) -> ResourceCounts:
        tx = self._tx
        tx.require()
        return ResourceCounts(
            agents=self._by_status("agents", owner_id),
            workflows=self._by_status("workflows", owner_id),
        )

    async def execution_counts(
        self, window: Window, workflow_id: WorkflowId | None = None
    ) -> RunCounts:
        self._tx.require()
        return _counts(self._execution_runs(window, workflow_id))

    async def execution_series(
        self, window: Window, interval: Interval, workflow_id: WorkflowId | None = None
    ) -> list[SeriesPoint]:
        self._tx.require()
        runs = self._execution_runs(window, workflow_id)
        return _series(runs, interval, _COMPLETED, frozenset(EXECUTION_FAILURES))

    async def agent_call_counts(self, agent_id: AgentId, window: Window) -> RunCounts:
        self._tx.require()
        return _counts(self._agent_calls(agent_id, window))

    async def agent_call_series(
        self, agent_id: AgentId, window: Window, interval: Interval
    ) -> list[SeriesPoint]:
        self._tx.require()
        runs = self._agent_calls(agent_id, window)
        return _series(runs, interval, _COMPLETED, frozenset({_FAILED}))

    async def step_counts(self, workflow_id: WorkflowId, window: Window) -> list[StepStats]:
        self._tx.require()
        by_key: dict[str, list[StepRun]] = {}
        for execution in self._executions(window, workflow_id):
            for run in self._step_runs(execution):
                by_key.setdefault(run.step_key, []).append(run)
        stats = []
        for key in sorted(by_key):
            fresh = [run for run in by_key[key] if run.reused_from is None]
            statuses = [run.status.value for run in fresh]
            stats.append(
                StepStats(
                    step_key=key,
                    runs=len(fresh),
                    completed=statuses.count(_COMPLETED),
                    failed=statuses.count(_FAILED),
                    skipped=statuses.count(_SKIPPED),
                    reused=len(by_key[key]) - len(fresh),
                    durations=Durations.of(
                        run.duration_ms
                        for run in fresh
                        if run.status.value in CALL_FINISHED and run.duration_ms is not None
                    ),
                )
            )
        return stats

    # --- rows ----------------------------------------------------------------------------

    def _by_status(self, table: str, owner_id: UserId | None) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self._tx.rows(table):
            if is_live(row) and (owner_id is None or row.user_id == owner_id):
                counts[row.status.value] = counts.get(row.status.value, 0) + 1
        return counts

    def _executions(self, window: Window, workflow_id: WorkflowId | None) -> Iterator[Execution]:
        for execution in self._tx.rows("executions"):
            if (workflow_id is None or execution.workflow_id == workflow_id) and window.holds(
                execution.user_id, execution.created_at
            ):
                yield execution

    def _step_runs(self, execution: Execution) -> list[StepRun]:
        """The execution's step runs as this transaction sees them."""
        key = execution.id.int
        rows = self._tx.store.step_runs.get(key, {})
        pending = self._tx.runs.get(key)
        if pending:
            rows = {**rows, **pending}
        return list(rows.values())

    def _execution_runs(self, window: Window, workflow_id: WorkflowId | None) -> list[Run]:
        finished = frozenset(EXECUTION_FINISHED)
        return [
            (
                execution.status.value,
                execution.id,
                execution.created_at,
                execution.duration_ms if execution.status.value in finished else None,
            )
            for execution in self._executions(window, workflow_id)
        ]

    def _agent_calls(self, agent_id: AgentId, window: Window) -> list[Run]:
        calls: list[Run] = []
        for execution in self._executions(window, None):
            keys = {
                step.step_key
                for step in execution.steps
                if step.step_type is StepType.AGENT and step.agent_id == agent_id
            }
            if not keys:
                continue
            for run in self._step_runs(execution):
                status = run.status.value
                if run.step_key in keys and run.reused_from is None and status != _SKIPPED:
                    duration = run.duration_ms if status in CALL_FINISHED else None
                    calls.append((status, execution.id, execution.created_at, duration))
        return calls


def _counts(runs: list[Run]) -> RunCounts:
    by_status: dict[str, int] = {}
    for status, _, _, _ in runs:
        by_status[status] = by_status.get(status, 0) + 1
    return RunCounts(
        total=len(runs),
        executions=len({execution for _, execution, _, _ in runs}),
        by_status=by_status,
        durations=Durations.of(duration for _, _, _, duration in runs if duration is not None),
    )


def _series(
    runs: list[Run], interval: Interval, completed: str, failed: frozenset[str]
) -> list[SeriesPoint]:
    buckets: dict[datetime, list[Run]] = {}
    for run in runs:
        buckets.setdefault(bucket_start(run[2], interval), []).append(run)
    return [
        SeriesPoint(
            bucket=bucket,
            total=len(held),
            completed=sum(1 for run in held if run[0] == completed),
            failed=sum(1 for run in held if run[0] in failed),
            avg_duration_ms=Durations.of(run[3] for run in held if run[3] is not None).avg_ms,
        )
        for bucket, held in sorted(buckets.items())
    ]
