"""``/executions/{id}``: read (with step states), logs, cancel, retry, and a live stream."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from litestar import Router, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, HeaderParameter, JSONBody, QueryParameter
from litestar.response import ServerSentEvent
from litestar.status_codes import HTTP_200_OK, HTTP_202_ACCEPTED

from turbocat_core.domain.access import Actor
from turbocat_core.domain.common import MAX_PAGE_SIZE, ExecutionId
from turbocat_core.domain.execution import (
    EXECUTION_QUERY,
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogLevel,
    LogQuery,
)
from turbocat_core.engine.events import LogBroadcast
from turbocat_core.errors import ValidationFailed
from turbocat_core.usecases.executions import (
    CancelExecution,
    ExecutionWithRuns,
    GetExecution,
    ListChildExecutions,
    ListExecutionLogs,
    RetryExecution,
    WatchExecution,
)
from turbocat_http.auth.access import scoped
from turbocat_http.auth.security import ACTOR
from turbocat_http.dependencies import provide
from turbocat_http.envelope import MAX_PAGE, ListParams, list_query, ok, paged
from turbocat_http.executions.schemas import RetryIn
from turbocat_http.executions.stream import open_stream
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import Envelope, PageEnvelope

EXECUTIONS = "executions"
MAX_SEQ = 2**62


@get("/{execution_id:uuid}", **scoped(EXECUTIONS, "read"))
async def get_execution(
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    get_execution: NamedDependency[GetExecution],
) -> Envelope[ExecutionWithRuns]:
    """The execution (status, step counts, ``outputData``, the steps it pinned) and each
    step's state in ``stepRuns`` (status, attempt, output, error, ``reusedFrom``)."""
    return ok(await get_execution(actor, ExecutionId(execution_id)))


@get("/{execution_id:uuid}/children", **scoped(EXECUTIONS, "read"))
async def list_child_executions(
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    listing: NamedDependency[ListParams],
    list_child_executions: NamedDependency[ListChildExecutions],
    status: Annotated[ExecutionStatus | None, QueryParameter()] = None,
) -> PageEnvelope[Execution]:
    """The child executions the execution's WORKFLOW agents started (each has
    ``parentExecutionId`` set to this one), newest first; filter ``status``."""
    query = list_query(listing, EXECUTION_QUERY, filters={"status": status})
    return paged(await list_child_executions(actor, ExecutionId(execution_id), query))


@get("/{execution_id:uuid}/logs", **scoped(EXECUTIONS, "read"))
async def list_execution_logs(
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    list_execution_logs: NamedDependency[ListExecutionLogs],
    page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="From 1.")] = 1,
    page_size: Annotated[
        int, QueryParameter(name="pageSize", ge=1, le=MAX_PAGE_SIZE, description="1 to 100.")
    ] = 20,
    level: Annotated[LogLevel | None, QueryParameter(description="Lines of this level.")] = None,
    step_key: Annotated[
        str | None, QueryParameter(name="stepKey", max_length=64, description="One step's.")
    ] = None,
    since: Annotated[
        datetime | None,
        QueryParameter(description="Lines written at or after this time (ISO 8601)."),
    ] = None,
    after_seq: Annotated[
        int,
        QueryParameter(name="afterSeq", ge=0, le=MAX_SEQ, description="Lines after this seq."),
    ] = 0,
) -> PageEnvelope[ExecutionLog]:
    """The execution's log lines in order (``seq``), filtered and paged."""
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=UTC)  # a time without an offset is UTC
    query = LogQuery(
        level=level,
        step_key=step_key,
        since=since,
        after_seq=after_seq,
        page=page,
        page_size=page_size,
    )
    return paged(await list_execution_logs(actor, ExecutionId(execution_id), query))


@post(
    "/{execution_id:uuid}/cancel",
    status_code=HTTP_200_OK,
    **scoped(EXECUTIONS, "write"),
    responses=error_responses(409),
)
async def cancel_execution(
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    cancel_execution: NamedDependency[CancelExecution],
) -> Envelope[Execution]:
    """Cancel a PENDING or RUNNING execution (answered CANCELLED; running steps stop within
    a second); a finished one is 409 INVALID_STATE."""
    return ok(await cancel_execution(actor, ExecutionId(execution_id)))


@post(
    "/{execution_id:uuid}/retry",
    status_code=HTTP_202_ACCEPTED,
    **scoped(EXECUTIONS, "write"),
    responses=error_responses(409),
)
async def retry_execution(
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    retry_execution: NamedDependency[RetryExecution],
    data: JSONBody[RetryIn | None] = None,
) -> Envelope[Execution]:
    """Run a FAILED, CANCELLED or TIMEOUT execution again as a new one (``retryOf`` set),
    reusing the outputs of the steps that completed (see ``stepRuns[].reusedFrom``); 409
    INVALID_STATE otherwise."""
    body = data or RetryIn()
    return ok(
        await retry_execution(
            actor,
            ExecutionId(execution_id),
            from_start=body.from_start,
            use_latest_version=body.use_latest_version,
        )
    )


@get(
    "/{execution_id:uuid}/stream",
    **scoped(EXECUTIONS, "read"),
    media_type="text/event-stream",
    responses=error_responses(404),
)
async def stream_execution(
    execution_id: FromPath[UUID],
    actor: NamedDependency[Actor],
    watch_execution: NamedDependency[WatchExecution],
    logs: NamedDependency[LogBroadcast],
    last_event_id: Annotated[
        str | None,
        HeaderParameter(
            name="Last-Event-ID",
            max_length=32,
            description="Resume after this log line (the id of the last event received).",
        ),
    ] = None,
    after_seq: Annotated[
        int,
        QueryParameter(name="afterSeq", ge=0, le=MAX_SEQ, description="Start after this seq."),
    ] = 0,
) -> ServerSentEvent:
    """Server-Sent Events until the run ends: every log line (event ``log``, ``id`` = its
    ``seq``, data = the line) from the first one (or after ``Last-Event-ID`` / ``afterSeq``),
    and each status change (event ``status``, data = the execution without its steps); a
    final ``status`` event, then the stream closes."""
    cursor = after_seq
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not text.isdigit() or int(text) > MAX_SEQ:
            raise ValidationFailed.field("Last-Event-ID", "must be the id of a log event")
        cursor = max(cursor, int(text))
    stream = await open_stream(watch_execution, logs, actor, ExecutionId(execution_id), cursor)
    return ServerSentEvent(stream.events())


router = Router(
    "/executions",
    route_handlers=[
        get_execution,
        list_child_executions,
        list_execution_logs,
        cancel_execution,
        retry_execution,
        stream_execution,
    ],
    dependencies={
        "actor": ACTOR,
        **provide(
            "get_execution",
            "list_execution_logs",
            "list_child_executions",
            "cancel_execution",
            "retry_execution",
            "watch_execution",
            "logs",
        ),
    },
    tags=["executions"],
)
