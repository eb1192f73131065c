"""The engine's ``RunObserver`` as OpenTelemetry spans: one per processing of an execution,
one per step attempt under it, each made current in its task while it lasts (so outbound
requests nest under the attempt, and log lines carry their ids)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Final

from opentelemetry import context, trace
from opentelemetry.trace import Span, Status, StatusCode, Tracer

from turbocat_core.domain.execution import Execution, ExecutionStatus
from turbocat_core.engine.observer import ATTEMPT_FAILED, ATTEMPT_RETRIED

EXECUTION_SPAN: Final = "execution"
STEP_SPAN: Final = "step {key}"
EXECUTION_ID: Final = "turbocat.execution.id"
WORKFLOW_ID: Final = "turbocat.workflow.id"
_FAILED: Final = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT})


class SpanObserver:
    """``engine.observer.RunObserver`` on a tracer."""

    __slots__ = ("_tracer",)

    def __init__(self, tracer: Tracer) -> None:
        self._tracer = tracer

    def processing(self, execution: Execution) -> ExecutionSpan:
        return ExecutionSpan(self._tracer, execution)


class ExecutionSpan:
    """One processing: a child of the current span (the request that queued the run, or
    the job's trace context in a worker)."""

    __slots__ = ("_context", "_ids", "_span", "_token", "_tracer")

    def __init__(self, tracer: Tracer, execution: Execution) -> None:
        self._tracer = tracer
        self._ids = {EXECUTION_ID: str(execution.id), WORKFLOW_ID: str(execution.workflow_id)}
        self._span = tracer.start_span(
            EXECUTION_SPAN,
            attributes={**self._ids, "turbocat.execution.trigger": execution.trigger_type.value},
        )
        self._context = trace.set_span_in_context(self._span)
        self._token = context.attach(self._context)

    def started(self, execution: Execution) -> None:
        self._span.add_event("started")

    def resumed(self, execution: Execution, *, after_wait: bool) -> None:
        reason = "after a wait" if after_wait else "after an interruption"
        self._span.add_event("resumed", {"turbocat.resumed": reason})

    def attempt(
        self, step_key: str, step_type: str, agent_type: str | None, attempt: int
    ) -> AttemptSpan:
        attributes: dict[str, str | int] = {
            **self._ids,
            "turbocat.step.key": step_key,
            "turbocat.step.type": step_type,
            "turbocat.step.attempt": attempt,
        }
        if agent_type is not None:
            attributes["turbocat.agent.type"] = agent_type
        span = self._tracer.start_span(
            STEP_SPAN.format(key=step_key), context=self._context, attributes=attributes
        )
        return AttemptSpan(span)

    def retry_scheduled(self, step_key: str, attempt: int, delay_ms: float) -> None:
        self._span.add_event(
            "retry scheduled",
            {
                "turbocat.step.key": step_key,
                "turbocat.step.attempt": attempt + 1,
                "turbocat.retry.delay_ms": delay_ms,
            },
        )

    def parked(self, until: datetime) -> None:
        self._span.add_event("parked", {"turbocat.parked_until": until.isoformat()})

    def finished(self, execution: Execution) -> None:
        self._span.set_attribute("turbocat.execution.status", execution.status.value)
        if execution.status in _FAILED:
            self._span.set_status(Status(StatusCode.ERROR, execution.error_message))

    def ended(self, error: BaseException | None = None) -> None:
        if isinstance(error, asyncio.CancelledError):  # its process stops: handed back
            self._span.add_event("handed back")
        elif error is not None:
            self._span.record_exception(error)
            self._span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        self._span.end()
        context.detach(self._token)


class AttemptSpan:
    """One attempt, current in the attempt's task from its start to its end."""

    __slots__ = ("_span", "_token")

    def __init__(self, span: Span) -> None:
        self._span = span
        self._token = context.attach(trace.set_span_in_context(span))

    def ended(self, outcome: str, error_kind: str | None = None) -> None:
        span = self._span
        span.set_attribute("turbocat.step.outcome", outcome)
        if error_kind is not None:
            span.set_attribute("turbocat.step.error_kind", error_kind)
        if outcome in (ATTEMPT_FAILED, ATTEMPT_RETRIED):
            span.set_status(Status(StatusCode.ERROR, error_kind))
        span.end()
        context.detach(self._token)
