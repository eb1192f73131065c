"""Analytics figures: windows, buckets, duration percentiles and the answers built from them.

Everything is placed in time by its execution's ``created_at`` (UTC), in half-open windows
``[start, end)``. Durations are in milliseconds. Percentiles interpolate linearly between
the closest ranks (PostgreSQL's ``percentile_cont``, Python's
``statistics.quantiles(method="inclusive")``). A figure that cannot be computed (a rate of
nothing, a percentile of no durations) is ``None``, never a made-up 0.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Final

from turbocat_core.domain.common import AgentId, UserId, WorkflowId
from turbocat_core.domain.execution import ExecutionStatus, StepStatus
from turbocat_core.errors import FieldError, ValidationFailed


class Interval(StrEnum):
    """Time-series buckets, in UTC; weeks are ISO weeks (they start on Monday)."""

    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


PERCENTILES: Final = (50, 95, 99)
EARLIEST: Final = datetime(1900, 1, 1, tzinfo=UTC)
LATEST: Final = datetime(9999, 1, 1, tzinfo=UTC)
"""Ranges stay within these, so bucket arithmetic never leaves ``datetime``'s years."""
MAX_BUCKETS: Final = 2000
"""A longer series is refused (choose a larger interval or a shorter range)."""

EXECUTION_STATUSES: Final = tuple(status.value for status in ExecutionStatus)
EXECUTION_FAILURES: Final = (
    ExecutionStatus.FAILED.value,
    ExecutionStatus.CANCELLED.value,
    ExecutionStatus.TIMEOUT.value,
)
"""A finished execution that did not complete counts as a failure (as the engine's counters do)."""
EXECUTION_FINISHED: Final = (ExecutionStatus.COMPLETED.value, *EXECUTION_FAILURES)

CALL_STATUSES: Final = (
    StepStatus.PENDING.value,
    StepStatus.RUNNING.value,
    StepStatus.COMPLETED.value,
    StepStatus.FAILED.value,
)
"""An agent call is an AGENT step run that ran or runs: SKIPPED steps called nothing."""
CALL_FINISHED: Final = (StepStatus.COMPLETED.value, StepStatus.FAILED.value)


# --- time --------------------------------------------------------------------------------


def bucket_start(moment: datetime, interval: Interval) -> datetime:
    """The start (UTC) of the bucket holding ``moment``."""
    t = moment.astimezone(UTC)
    if interval is Interval.HOUR:
        return t.replace(minute=0, second=0, microsecond=0)
    day = t.replace(hour=0, minute=0, second=0, microsecond=0)
    if interval is Interval.DAY:
        return day
    if interval is Interval.WEEK:
        return day - timedelta(days=day.weekday())
    return day.replace(day=1)


def next_bucket(start: datetime, interval: Interval) -> datetime:
    """The start of the bucket after the one starting at ``start``."""
    if interval is Interval.HOUR:
        return start + timedelta(hours=1)
    if interval is Interval.DAY:
        return start + timedelta(days=1)
    if interval is Interval.WEEK:
        return start + timedelta(days=7)
    if start.month == 12:
        return start.replace(year=start.year + 1, month=1)
    return start.replace(month=start.month + 1)


@dataclass(frozen=True, slots=True, kw_only=True)
class Period:
    """The range asked for: executions created in ``[start, end)``; ``None`` is open."""

    start: datetime | None = None
    end: datetime | None = None

    @classmethod
    def of(cls, start: datetime | None, end: datetime | None) -> Period:
        """Both aware; ``ValidationFailed`` naming ``from``/``to`` when one is naive or the
        range is empty or reversed."""
        problems = []
        for name, value in (("from", start), ("to", end)):
            if value is None:
                continue
            if value.utcoffset() is None:
                problems.append(FieldError(name, "needs a UTC offset, e.g. 2026-01-01T00:00:00Z"))
            elif not EARLIEST <= value < LATEST:
                problems.append(FieldError(name, "must be between the years 1900 and 9998"))
        if problems:
            raise ValidationFailed("the range is invalid", problems)
        if start is not None and end is not None and start >= end:
            raise ValidationFailed(
                "the range is empty or reversed: from must be earlier than to",
                [
                    FieldError("from", "must be earlier than to"),
                    FieldError("to", "must be later than from"),
                ],
            )
        return cls(
            start=start.astimezone(UTC) if start is not None else None,
            end=end.astimezone(UTC) if end is not None else None,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Window:
    """Which executions the store counts: whose (``None``: everyone's), created when."""

    owner_id: UserId | None = None
    start: datetime | None = None
    end: datetime | None = None

    def holds(self, owner_id: UserId, created_at: datetime) -> bool:
        """The in-memory test of one execution (the SQL stores say it in a WHERE)."""
        return (
            (self.owner_id is None or owner_id == self.owner_id)
            and (self.start is None or created_at >= self.start)
            and (self.end is None or created_at < self.end)
        )


# --- durations ---------------------------------------------------------------------------


def interpolated(ordered: Sequence[float], percent: int) -> float | None:
    """The ``percent``-th percentile of sorted values by linear interpolation: the value at
    position ``percent * (n - 1) / 100``, between its two closest ranks. Integer arithmetic
    for the position, as the SQLite store does it."""
    if not ordered:
        return None
    low_index, rest = divmod(percent * (len(ordered) - 1), 100)
    low = ordered[low_index]
    if rest == 0:
        return float(low)
    return low + (ordered[low_index + 1] - low) * rest / 100


@dataclass(frozen=True, slots=True, kw_only=True)
class Durations:
    """Durations (ms) of the runs that have one; every figure ``None`` when none has."""

    count: int = 0
    avg_ms: float | None = None
    min_ms: float | None = None
    max_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None

    @classmethod
    def of(cls, values: Iterable[float]) -> Durations:
        """Computed in Python (the in-memory store's way of doing what SQL does)."""
        ordered = sorted(values)
        if not ordered:
            return cls()
        p50, p95, p99 = (interpolated(ordered, percent) for percent in PERCENTILES)
        return cls(
            count=len(ordered),
            avg_ms=math.fsum(ordered) / len(ordered),
            min_ms=float(ordered[0]),
            max_ms=float(ordered[-1]),
            p50_ms=p50,
            p95_ms=p95,
            p99_ms=p99,
        )


# --- what the store answers --------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class RunCounts:
    """Runs (executions, or agent calls) by status, how many executions they belong to, and
    the durations of the finished ones. ``by_status`` lists only statuses that occur."""

    total: int = 0
    executions: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    durations: Durations = field(default_factory=Durations)


@dataclass(frozen=True, slots=True, kw_only=True)
class SeriesPoint:
    """One bucket: runs created in it, how many completed and failed, their mean duration."""

    bucket: datetime
    total: int
    completed: int
    failed: int
    avg_duration_ms: float | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepStats:
    """One step key across a workflow's executions (from the engine's step runs).

    ``runs`` counts the step runs the engine recorded (any status) except those a retry
    reused from an earlier execution (``reused``); durations are of COMPLETED and FAILED runs.
    """

    step_key: str
    runs: int
    completed: int
    failed: int
    skipped: int
    reused: int
    durations: Durations = field(default_factory=Durations)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatusCounts:
    total: int
    by_status: dict[str, int]

    @classmethod
    def of(cls, counts: Mapping[str, int], statuses: Iterable[str]) -> StatusCounts:
        """Every status listed (0 when none), the total of all."""
        by_status = {status: counts.get(status, 0) for status in statuses}
        return cls(total=sum(counts.values()), by_status=by_status)


@dataclass(frozen=True, slots=True, kw_only=True)
class ResourceCounts:
    """Live (not deleted) agents and workflows by status."""

    agents: dict[str, int]
    workflows: dict[str, int]


# --- the answers -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    """Counts, rates and durations of runs.

    ``finished`` runs are those in a final status; ``succeeded`` the COMPLETED ones and
    ``failed`` the rest of them; the rates are fractions (0 to 1) of ``finished``, ``None``
    while nothing has finished.
    """

    total: int
    executions: int
    by_status: dict[str, int]
    finished: int
    succeeded: int
    failed: int
    success_rate: float | None
    failure_rate: float | None
    durations: Durations

    @classmethod
    def of(cls, counts: RunCounts, statuses: Sequence[str], finished: Sequence[str]) -> Summary:
        by_status = {status: counts.by_status.get(status, 0) for status in statuses}
        done = sum(by_status[status] for status in finished)
        succeeded = by_status[finished[0]]
        return cls(
            total=counts.total,
            executions=counts.executions,
            by_status=by_status,
            finished=done,
            succeeded=succeeded,
            failed=done - succeeded,
            success_rate=succeeded / done if done else None,
            failure_rate=(done - succeeded) / done if done else None,
            durations=counts.durations,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Overview:
    """The caller's (ADMIN: everyone's, or one user's) agents, workflows and executions.

    ``agents`` and ``workflows`` count what exists now; ``executions`` those created in
    ``period``.
    """

    period: Period
    user_id: UserId | None
    agents: StatusCounts
    workflows: StatusCounts
    executions: Summary


@dataclass(frozen=True, slots=True, kw_only=True)
class Lifetime:
    """The counters the engine keeps on the agent or workflow row, over its whole life (not
    limited to the period): for agents they count every call (AGENT steps, LOOP iterations
    and PARALLEL branches), for workflows every finished execution."""

    total_executions: int
    successful_executions: int
    failed_executions: int
    avg_execution_time_ms: float


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentMetrics:
    """Calls of one agent by the AGENT steps of executions created in ``period``.

    ``scope`` is ``all`` when every user's executions count (the agent's owner, ADMINs) and
    ``own`` when only the caller's do (another user looking at a public agent).
    """

    agent_id: AgentId
    period: Period
    interval: Interval
    scope: str
    calls: Summary
    series: list[SeriesPoint]
    lifetime: Lifetime


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowMetrics:
    """Executions of one workflow created in ``period``, their series and per-step figures
    (``scope`` as for agents)."""

    workflow_id: WorkflowId
    period: Period
    interval: Interval
    scope: str
    executions: Summary
    series: list[SeriesPoint]
    steps: list[StepStats]
    lifetime: Lifetime
