"""Executions: the filtered list, the run page (its DAG live), a step's detail, cancel, retry."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Final
from uuid import UUID

from litestar import Request, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, ServerSentEvent, Template

from turbocat_core.domain.access import Actor
from turbocat_core.domain.common import ExecutionId, ListQuery, WorkflowId
from turbocat_core.domain.execution import (
    EXECUTION_QUERY,
    ExecutionStatus,
    LogQuery,
    StepStatus,
    TriggerType,
)
from turbocat_core.domain.workflow import WORKFLOW_QUERY
from turbocat_core.engine.events import LogBroadcast
from turbocat_core.errors import FieldError, ValidationFailed
from turbocat_core.usecases.execution_listing import ListExecutions
from turbocat_core.usecases.executions import (
    CancelExecution,
    ExecutionWithRuns,
    GetExecution,
    ListExecutionLogs,
    RetryExecution,
    WatchExecution,
)
from turbocat_core.usecases.workflows import ListWorkflows
from turbocat_http.console.layout import lay_out
from turbocat_http.console.pages import PAGE_HEADERS, form_of, go, page
from turbocat_http.executions.stream import open_stream

PAGE_SIZE: Final = 25
STEP_LOG_LINES: Final = 100
RETRYABLE: Final = frozenset(
    {ExecutionStatus.FAILED, ExecutionStatus.CANCELLED, ExecutionStatus.TIMEOUT}
)


def pretty(value: Any) -> str:
    """JSON for a ``<pre>``: the template escapes it."""
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _moment(name: str, text: str | None) -> datetime | None:
    """A ``datetime-local`` field (or ISO 8601) as a UTC time."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationFailed.field(name, "must be a date and time") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _enum(kind: Any, name: str, text: str | None) -> Any:
    if not text:
        return None
    try:
        return kind(text)
    except ValueError:
        raise ValidationFailed("invalid filter", [FieldError(name, "unknown value")]) from None


async def workflow_names(actor: Actor, list_workflows: ListWorkflows) -> dict[UUID, str]:
    """The names of the actor's (newest) workflows, for the list's labels and filter."""
    query = ListQuery.build(WORKFLOW_QUERY, page_size=100)
    listed = await list_workflows(actor, query)
    return {workflow.id: workflow.name for workflow in listed.items}


@get("/", name="console-home")
async def home(request: Request[Any, Any, Any], actor: NamedDependency[Actor]) -> Redirect:
    return go(request, "/executions")


@get("/executions", name="console-executions")
async def executions_page(
    request: Request[Any, Any, Any],
    actor: NamedDependency[Actor],
    list_executions: NamedDependency[ListExecutions],
    list_workflows: NamedDependency[ListWorkflows],
    page_number: Annotated[int, QueryParameter(name="page", ge=1, le=10_000)] = 1,
    status: Annotated[str | None, QueryParameter(max_length=20)] = None,
    trigger: Annotated[str | None, QueryParameter(max_length=20)] = None,
    workflow: Annotated[str | None, QueryParameter(max_length=40)] = None,
    since: Annotated[str | None, QueryParameter(max_length=40)] = None,
    until: Annotated[str | None, QueryParameter(max_length=40)] = None,
) -> Template:
    workflow_id = None
    if workflow:
        try:
            workflow_id = WorkflowId(UUID(workflow))
        except ValueError:
            raise ValidationFailed.field("workflow", "must be a workflow id") from None
    filters = {
        "status": _enum(ExecutionStatus, "status", status),
        "trigger_type": _enum(TriggerType, "trigger", trigger),
        "workflow_id": workflow_id,
    }
    query = ListQuery.build(
        EXECUTION_QUERY,
        page=page_number,
        page_size=PAGE_SIZE,
        filters={k: v for k, v in filters.items() if v is not None},
    )
    found = await list_executions(
        actor, query, since=_moment("since", since), until=_moment("until", until)
    )
    chosen = {
        "status": status or "",
        "trigger": trigger or "",
        "workflow": workflow or "",
        "since": since or "",
        "until": until or "",
    }
    return page(
        request,
        "executions.html",
        found=found,
        names=await workflow_names(actor, list_workflows),
        statuses=[s.value for s in ExecutionStatus],
        triggers=[t.value for t in TriggerType],
        chosen=chosen,
    )


def _states(execution: ExecutionWithRuns) -> dict[str, str]:
    states = {step.step_key: StepStatus.PENDING.value for step in execution.steps}
    states.update({run.step_key: run.status.value for run in execution.step_runs})
    return states


@get("/executions/{execution_id:uuid}", name="console-run")
async def run_page(
    request: Request[Any, Any, Any],
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    get_execution: NamedDependency[GetExecution],
    list_execution_logs: NamedDependency[ListExecutionLogs],
    step: Annotated[str | None, QueryParameter(max_length=64)] = None,
) -> Template:
    execution = await get_execution(actor, ExecutionId(execution_id))
    detail = None
    if step is not None:
        detail = await _step_detail(actor, execution, step, list_execution_logs)
    return page(
        request,
        "run.html",
        execution=execution,
        layout=lay_out(execution.steps),
        states=_states(execution),
        detail=detail,
        retryable=execution.status in RETRYABLE,
        cancellable=not execution.status.finished,
        pretty=pretty,
    )


async def _step_detail(
    actor: Actor, execution: ExecutionWithRuns, key: str, list_logs: ListExecutionLogs
) -> dict[str, Any]:
    pinned = next((s for s in execution.steps if s.step_key == key), None)
    if pinned is None:
        raise ValidationFailed.field("step", "no such step in this run")
    run = next((r for r in execution.step_runs if r.step_key == key), None)
    lines = await list_logs(
        actor, execution.id, LogQuery(step_key=key, page=1, page_size=STEP_LOG_LINES)
    )
    return {"step": pinned, "run": run, "lines": lines.items, "more": lines.has_next}


@get("/executions/{execution_id:uuid}/steps/{step_key:str}", name="console-step")
async def step_fragment(
    request: Request[Any, Any, Any],
    execution_id: FromPath[UUID],
    step_key: FromPath[str],
    actor: NamedDependency[Actor],
    get_execution: NamedDependency[GetExecution],
    list_execution_logs: NamedDependency[ListExecutionLogs],
) -> Template:
    execution = await get_execution(actor, ExecutionId(execution_id))
    detail = await _step_detail(actor, execution, step_key[:64], list_execution_logs)
    return page(request, "step.html", execution=execution, detail=detail, pretty=pretty)


@get("/executions/{execution_id:uuid}/summary", name="console-run-summary")
async def run_summary(
    request: Request[Any, Any, Any],
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    get_execution: NamedDependency[GetExecution],
) -> Template:
    """The run's header (status, counts, buttons): the page reloads it when the run ends."""
    execution = await get_execution(actor, ExecutionId(execution_id))
    return page(
        request,
        "run_summary.html",
        execution=execution,
        retryable=execution.status in RETRYABLE,
        cancellable=not execution.status.finished,
    )


@get("/executions/{execution_id:uuid}/events", name="console-run-events")
async def run_events(
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    watch_execution: NamedDependency[WatchExecution],
    logs: NamedDependency[LogBroadcast],
    after_seq: Annotated[int, QueryParameter(name="afterSeq", ge=0, le=2**62)] = 0,
) -> ServerSentEvent:
    """The API's execution stream (``GET /api/v1/executions/{id}/stream``), signed in by
    cookie: log lines (each with its step's status) and status changes until the run ends."""
    target = ExecutionId(execution_id)
    stream = await open_stream(watch_execution, logs, actor, target, after_seq)
    return ServerSentEvent(stream.events(), headers=PAGE_HEADERS)


@post("/executions/{execution_id:uuid}/cancel", name="console-cancel")
async def cancel(
    request: Request[Any, Any, Any],
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    cancel_execution: NamedDependency[CancelExecution],
) -> Redirect:
    await cancel_execution(actor, ExecutionId(execution_id))
    return go(request, f"/executions/{execution_id}")


@post("/executions/{execution_id:uuid}/retry", name="console-retry")
async def retry(
    request: Request[Any, Any, Any],
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    retry_execution: NamedDependency[RetryExecution],
) -> Redirect:
    form = await form_of(request)
    again = await retry_execution(
        actor, ExecutionId(execution_id), from_start=form.get("from") == "start"
    )
    return go(request, f"/executions/{again.id}")


HANDLERS = [
    home,
    executions_page,
    run_page,
    step_fragment,
    run_summary,
    run_events,
    cancel,
    retry,
]
