"""The job RQ workers run: hand an execution to this worker process's runtime."""

from __future__ import annotations

from uuid import UUID

from turbocat_adapters.rq.runtime import current_runtime
from turbocat_core.domain.common import ExecutionId


def run_execution(execution_id: str) -> None:
    """Run (or resume) the execution in this worker. Returns once the run has a place in the
    worker (at most ``--concurrency`` at a time), not when it ends: the run goes on in the
    runtime's event loop under its lease, and the worker takes its next job."""
    current_runtime().accept(ExecutionId(UUID(execution_id)))
