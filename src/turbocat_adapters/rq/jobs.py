"""The job RQ workers run: hand an execution to this worker process's runtime."""

from __future__ import annotations

from uuid import UUID

from rq import get_current_job

from turbocat_adapters.rq.queue import TRACE_META
from turbocat_adapters.rq.runtime import current_runtime
from turbocat_core.domain.common import ExecutionId


def run_execution(execution_id: str) -> None:
    """Run (or resume) the execution in this worker. Returns once the run has a place in the
    worker (at most ``--concurrency`` at a time), not when it ends: the run goes on in the
    runtime's event loop under its lease, and the worker takes its next job. The run
    continues the trace the job was queued in, if it carries one."""
    job = get_current_job()
    trace = job.meta.get(TRACE_META) if job is not None else None
    current_runtime().accept(
        ExecutionId(UUID(execution_id)),
        trace=trace if isinstance(trace, dict) else None,
        queued_at=job.enqueued_at if job is not None else None,
    )
