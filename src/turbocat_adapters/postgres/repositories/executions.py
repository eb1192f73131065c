"""Executions (pinned steps, compare-and-set, step counters) and their numbered log lines."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from psycopg.rows import DictRow

from turbocat_adapters.postgres.mapping import jsonb
from turbocat_adapters.postgres.querying import Listing
from turbocat_adapters.postgres.repositories.base import EntityRepository
from turbocat_adapters.postgres.repositories.retention import prune_finished
from turbocat_adapters.snapshots import steps_from_json, steps_to_json
from turbocat_core.domain.common import ExecutionId
from turbocat_core.domain.execution import (
    EXECUTION_QUERY,
    Execution,
    ExecutionStatus,
    TriggerType,
)
from turbocat_core.ports import PruneCount

# The pinned ``steps`` are written by INSERT only: no UPDATE below touches them, nor the
# ``log_seq`` counter that only logs.append moves, nor the processing bookkeeping
# (``recoveries``, ``processing``, ``last_failure``) that only its own statements change.
INSERT_EXECUTION: Final = """
INSERT INTO executions (
    id, workflow_id, user_id, status, trigger_type, trigger_data, input_data, metadata,
    output_data, error_message, started_at, completed_at, duration_ms, steps_total,
    steps_completed, steps_failed, workflow_version, steps, timeout_seconds,
    max_concurrency, retry_of, parent_execution_id, depth, deployment_id, created_at,
    updated_at, recoveries, processing, last_failure
) VALUES (
    %(id)s, %(workflow_id)s, %(user_id)s, %(status)s, %(trigger_type)s, %(trigger_data)s,
    %(input_data)s, %(metadata)s, %(output_data)s, %(error_message)s, %(started_at)s,
    %(completed_at)s, %(duration_ms)s, %(steps_total)s, %(steps_completed)s,
    %(steps_failed)s, %(workflow_version)s, %(steps)s, %(timeout_seconds)s,
    %(max_concurrency)s, %(retry_of)s, %(parent_execution_id)s, %(depth)s,
    %(deployment_id)s, %(created_at)s, %(updated_at)s, %(recoveries)s, %(processing)s,
    %(last_failure)s
)"""
GET_EXECUTION: Final = "SELECT * FROM executions WHERE id = %(id)s"
_SET_EXECUTION: Final = """
UPDATE executions SET
    workflow_id = %(workflow_id)s, user_id = %(user_id)s, status = %(status)s,
    trigger_type = %(trigger_type)s, trigger_data = %(trigger_data)s,
    input_data = %(input_data)s, metadata = %(metadata)s, output_data = %(output_data)s,
    error_message = %(error_message)s, started_at = %(started_at)s,
    completed_at = %(completed_at)s, duration_ms = %(duration_ms)s,
    steps_total = %(steps_total)s, steps_completed = %(steps_completed)s,
    steps_failed = %(steps_failed)s, workflow_version = %(workflow_version)s,
    timeout_seconds = %(timeout_seconds)s, max_concurrency = %(max_concurrency)s,
    retry_of = %(retry_of)s, parent_execution_id = %(parent_execution_id)s,
    depth = %(depth)s, deployment_id = %(deployment_id)s,
    created_at = %(created_at)s, updated_at = %(updated_at)s
WHERE id = %(id)s"""
UPDATE_EXECUTION: Final = _SET_EXECUTION
# Compare-and-set: a concurrent writer holding the row makes this wait, then PostgreSQL
# checks the status again on the row as that writer left it.
UPDATE_EXECUTION_IF: Final = _SET_EXECUTION + " AND status = %(expect)s"
ADD_STEP_COUNTS: Final = """
UPDATE executions SET
    steps_completed = steps_completed + %(completed)s,
    steps_failed = steps_failed + %(failed)s
WHERE id = %(id)s"""
STATUS_OF_EXECUTION: Final = "SELECT status FROM executions WHERE id = %(id)s"
# SET expressions all read the row as it was: the count and the reason are the previous
# processing's, judged before ``processing`` changes.
BEGIN_PROCESSING: Final = """
UPDATE executions SET
    recoveries = recoveries + (processing IS NOT NULL)::int,
    last_failure = CASE WHEN processing IS NULL THEN NULL ELSE last_failure END,
    processing = %(token)s
WHERE id = %(id)s AND status IN ('PENDING', 'RUNNING')
RETURNING *"""
END_PROCESSING: Final = (
    "UPDATE executions SET processing = NULL WHERE id = %(id)s AND processing = %(token)s"
)
FAIL_PROCESSING: Final = (
    "UPDATE executions SET last_failure = %(failure)s WHERE id = %(id)s AND processing = %(token)s"
)


def execution_params(execution: Execution) -> dict[str, Any]:
    """Every column but ``steps`` (only ``add`` writes it: see ``execution_insert_params``)."""
    return {
        "id": execution.id,
        "workflow_id": execution.workflow_id,
        "user_id": execution.user_id,
        "status": execution.status.value,
        "trigger_type": execution.trigger_type.value,
        "trigger_data": jsonb(execution.trigger_data),
        "input_data": jsonb(execution.input_data),
        "metadata": jsonb(execution.metadata),
        "output_data": jsonb(execution.output_data),
        "error_message": execution.error_message,
        "started_at": execution.started_at,
        "completed_at": execution.completed_at,
        "duration_ms": execution.duration_ms,
        "steps_total": execution.steps_total,
        "steps_completed": execution.steps_completed,
        "steps_failed": execution.steps_failed,
        "workflow_version": execution.workflow_version,
        "timeout_seconds": execution.timeout_seconds,
        "max_concurrency": execution.max_concurrency,
        "retry_of": execution.retry_of,
        "parent_execution_id": execution.parent_execution_id,
        "depth": execution.depth,
        "deployment_id": execution.deployment_id,
        "created_at": execution.created_at,
        "updated_at": execution.updated_at,
    }


def execution_insert_params(execution: Execution) -> dict[str, Any]:
    params = execution_params(execution)
    params["steps"] = jsonb(steps_to_json(execution.steps))
    params["recoveries"] = execution.recoveries
    params["processing"] = execution.processing
    params["last_failure"] = execution.last_failure
    return params


def execution_from_row(row: DictRow) -> Execution:
    return Execution(
        id=row["id"],
        workflow_id=row["workflow_id"],
        user_id=row["user_id"],
        status=ExecutionStatus(row["status"]),
        trigger_type=TriggerType(row["trigger_type"]),
        trigger_data=row["trigger_data"],
        input_data=row["input_data"],
        metadata=row["metadata"],
        output_data=row["output_data"],
        error_message=row["error_message"],
        started_at=row["started_at"],
        completed_at=row["completed_at"],
        duration_ms=row["duration_ms"],
        steps_total=row["steps_total"],
        steps_completed=row["steps_completed"],
        steps_failed=row["steps_failed"],
        workflow_version=row["workflow_version"],
        steps=steps_from_json(row["steps"]),
        timeout_seconds=row["timeout_seconds"],
        max_concurrency=row["max_concurrency"],
        retry_of=row["retry_of"],
        parent_execution_id=row["parent_execution_id"],
        depth=row["depth"],
        deployment_id=row["deployment_id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        recoveries=row["recoveries"],
        processing=row["processing"],
        last_failure=row["last_failure"],
    )


class PostgresExecutionRepository(EntityRepository[Execution, ExecutionId]):
    """Executions. ``update`` and ``update_if`` never rewrite the pinned ``steps``."""

    __slots__ = ()
    label = "execution"
    listing = Listing(
        "executions",
        EXECUTION_QUERY,
        soft_delete=False,
        uuid_columns=frozenset(
            {"user_id", "workflow_id", "retry_of", "deployment_id", "parent_execution_id"}
        ),
        text_columns=frozenset({"status"}),
    )
    insert_sql = INSERT_EXECUTION
    get_sql = GET_EXECUTION
    update_sql = UPDATE_EXECUTION
    to_params = staticmethod(execution_params)
    from_row = staticmethod(execution_from_row)

    async def add(self, entity: Execution) -> None:
        await self._session.write(INSERT_EXECUTION, execution_insert_params(entity))

    async def update_if(self, execution: Execution, expect: ExecutionStatus) -> bool:
        params = execution_params(execution)
        params["expect"] = expect.value
        cursor = await self._session.write(UPDATE_EXECUTION_IF, params)
        return cursor.rowcount == 1

    async def add_step_counts(
        self, execution_id: ExecutionId, *, completed: int = 0, failed: int = 0
    ) -> None:
        session = self._session
        session.require()
        if not completed and not failed:
            return
        params = {"id": execution_id, "completed": completed, "failed": failed}
        await session.write(ADD_STEP_COUNTS, params)

    async def status_of(self, execution_id: ExecutionId) -> ExecutionStatus | None:
        row = await self._session.one(STATUS_OF_EXECUTION, {"id": execution_id})
        return None if row is None else ExecutionStatus(row["status"])

    async def begin_processing(self, execution_id: ExecutionId, token: str) -> Execution | None:
        async with self._session.savepoint() as conn:
            cursor = await conn.execute(BEGIN_PROCESSING, {"id": execution_id, "token": token})
            row = await cursor.fetchone()
        if row is not None:
            return execution_from_row(row)
        return await self.get(execution_id)  # finished (unchanged) or unknown

    async def end_processing(
        self, execution_id: ExecutionId, token: str, *, failure: str | None = None
    ) -> None:
        params = {"id": execution_id, "token": token, "failure": failure}
        await self._session.write(END_PROCESSING if failure is None else FAIL_PROCESSING, params)

    async def prune_finished(self, before: datetime, limit: int) -> PruneCount:
        return await prune_finished(self._session, before, limit)
