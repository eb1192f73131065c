"""Analytics per workflow: success rate and p50/p95 run duration per bucket, as SVG charts."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from bisect import bisect_right
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final
from uuid import UUID

from litestar import Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from turbocat_core.domain.access import Actor
from turbocat_core.domain.analytics import Durations, Interval
from turbocat_core.domain.common import MAX_PAGE_SIZE, ListQuery, WorkflowId
from turbocat_core.domain.execution import EXECUTION_QUERY, Execution
from turbocat_core.errors import ValidationFailed
from turbocat_core.usecases.analytics import GetWorkflowMetrics
from turbocat_core.usecases.executions import ListWorkflowExecutions
from turbocat_core.usecases.workflows import ListWorkflows
from turbocat_http.console.charts import Series, line_chart
from turbocat_http.console.pages import page
from turbocat_http.console.run_pages import workflow_names

SPANS: Final = {Interval.HOUR: timedelta(hours=48), Interval.DAY: timedelta(days=30)}
MAX_RUNS_READ: Final = 2000
"""Percentiles per bucket come from the runs themselves: at most this many, newest first."""


async def finished_runs(
    actor: Actor, workflow_id: WorkflowId, since: datetime, listing: ListWorkflowExecutions
) -> list[Execution]:
    runs: list[Execution] = []
    page_number = 1
    while len(runs) < MAX_RUNS_READ:
        query = ListQuery.build(EXECUTION_QUERY, page=page_number, page_size=MAX_PAGE_SIZE)
        found = await listing(actor, workflow_id, query)
        fresh = [run for run in found.items if run.created_at >= since]
        runs.extend(run for run in fresh if run.duration_ms is not None)
        if len(fresh) < len(found.items) or not found.has_next:
            break
        page_number += 1
    return runs


@get("/analytics", name="console-analytics")
async def analytics_page(
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    list_workflows: NamedDependency[ListWorkflows],
    get_workflow_metrics: NamedDependency[GetWorkflowMetrics],
    list_workflow_executions: NamedDependency[ListWorkflowExecutions],
    workflow: Annotated[str | None, QueryParameter(max_length=40)] = None,
    interval: Annotated[str, QueryParameter(max_length=10)] = "day",
) -> Template:
    names = await workflow_names(actor, list_workflows)
    if interval not in ("hour", "day"):
        raise ValidationFailed.field("interval", "must be hour or day")
    every = Interval(interval)
    charts, summary = [], None
    if workflow:
        try:
            workflow_id = WorkflowId(UUID(workflow))
        except ValueError:
            raise ValidationFailed.field("workflow", "must be a workflow id") from None
        end = datetime.now(UTC)
        start = end - SPANS[every]
        metrics = await get_workflow_metrics(
            actor, workflow_id, start=start, end=end, interval=every
        )
        summary = metrics.executions
        buckets = [point.bucket for point in metrics.series]
        labels = [
            b.strftime("%d %b %H:%M") if every is Interval.HOUR else b.strftime("%d %b")
            for b in buckets
        ]
        rates: list[float | None] = []
        for point in metrics.series:
            done = point.completed + point.failed
            rates.append(100 * point.completed / done if done else None)
        grouped: list[list[float]] = [[] for _ in buckets]
        for run in await finished_runs(actor, workflow_id, start, list_workflow_executions):
            at = bisect_right(buckets, run.created_at) - 1
            if at >= 0 and run.duration_ms is not None:
                grouped[at].append(run.duration_ms)
        spread = [Durations.of(values) for values in grouped]
        charts = [
            line_chart(
                "Success rate", labels, [Series("success", "ok", tuple(rates))], unit="%", top=100
            ),
            line_chart(
                "Run duration",
                labels,
                [
                    Series("p50", "p50", tuple(d.p50_ms for d in spread)),
                    Series("p95", "p95", tuple(d.p95_ms for d in spread)),
                ],
                unit="ms",
            ),
        ]
    return page(
        request,
        "analytics.html",
        names=names,
        chosen=workflow or "",
        interval=interval,
        charts=charts,
        summary=summary,
    )


HANDLERS = [analytics_page]
