"""Repositories of what running needs: steps, executions, step runs and log lines."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any, Final

from turbocat_adapters.sql_text import id_hex
from turbocat_adapters.sqlite.codec import ts, uid
from turbocat_adapters.sqlite.mapping_runs import (
    EXECUTION_COLUMNS,
    EXECUTION_HEAD_COLUMNS,
    LOG_COLUMNS,
    STEP_COLUMNS,
    STEP_RUN_COLUMNS,
    execution_from_row,
    execution_params,
    log_from_row,
    log_params,
    step_from_row,
    step_params,
    step_run_from_row,
    step_run_params,
)
from turbocat_adapters.sqlite.querying import Listing, insert_sql, select_sql, update_sql
from turbocat_adapters.sqlite.retention import prune_finished
from turbocat_adapters.sqlite.rows import Rows, Table, execute
from turbocat_adapters.sqlite.transaction import Transaction
from turbocat_core.domain.common import AgentId, ExecutionId, Page, StepId, UserId, WorkflowId
from turbocat_core.domain.execution import (
    EXECUTION_QUERY,
    Execution,
    ExecutionLog,
    ExecutionStatus,
    LogQuery,
    StepRun,
)
from turbocat_core.domain.workflow import WorkflowStep
from turbocat_core.errors import NotFound, ValidationFailed
from turbocat_core.ports import PruneCount

INSERT_STEP: Final = insert_sql("workflow_steps", STEP_COLUMNS)
UPDATE_STEP: Final = update_sql("workflow_steps", STEP_COLUMNS, "id = :id")
DELETE_STEP: Final = "DELETE FROM workflow_steps WHERE id = :id"
STEPS_OF_WORKFLOW: Final = (
    select_sql("workflow_steps", STEP_COLUMNS, "workflow_id = :workflow_id")
    + " ORDER BY position, step_key"
)


_BRANCH_AGENT: Final = "CASE WHEN b.type = 'object' THEN json_extract(b.value, '$.agentId') END"
# The agent in a step's column, a LOOP's config or a PARALLEL branch (``agent_ids_of``).
AGENT_USED_BY_OTHERS: Final = f"""
SELECT EXISTS (
    SELECT 1 FROM workflow_steps s JOIN workflows w ON w.id = s.workflow_id
    WHERE w.deleted_at IS NULL AND w.user_id <> :owner AND (
        s.agent_id = :agent
        OR (s.step_type = 'LOOP' AND {id_hex("json_extract(s.config, '$.agentId')")} = :hex)
        OR (s.step_type = 'PARALLEL' AND EXISTS (
            SELECT 1 FROM json_each(s.config, '$.branches') AS b
            WHERE {id_hex(_BRANCH_AGENT)} = :hex))
    )
)"""

EXECUTIONS: Final = Table.of(
    "execution",
    Listing(
        "executions",
        EXECUTION_COLUMNS,
        EXECUTION_QUERY,
        {
            "status": "text",
            "workflow_id": "uuid",
            "user_id": "uuid",
            "trigger_type": "text",
            "retry_of": "uuid",
            "deployment_id": "uuid",
            "parent_execution_id": "uuid",
        },
        soft=False,
    ),
    execution_params,
    execution_from_row,
)
# Updates never rewrite the pinned steps (only ``add`` writes them).
UPDATE_EXECUTION: Final = update_sql("executions", EXECUTION_HEAD_COLUMNS, "id = :id")
UPDATE_EXECUTION_IF: Final = update_sql(
    "executions", EXECUTION_HEAD_COLUMNS, "id = :id AND status = :expect"
)
ADD_STEP_COUNTS: Final = """
UPDATE executions SET
    steps_completed = steps_completed + :completed,
    steps_failed = steps_failed + :failed
WHERE id = :id
"""
STATUS_OF: Final = "SELECT status FROM executions WHERE id = :id"
# SET expressions all read the row as it was: the count and the reason are the previous
# processing's, judged before ``processing`` changes.
BEGIN_PROCESSING: Final = """
UPDATE executions SET
    recoveries = recoveries + (processing IS NOT NULL),
    last_failure = CASE WHEN processing IS NULL THEN NULL ELSE last_failure END,
    processing = :token
WHERE id = :id AND status IN ('PENDING', 'RUNNING')
"""
END_PROCESSING: Final = (
    "UPDATE executions SET processing = NULL WHERE id = :id AND processing = :token"
)
FAIL_PROCESSING: Final = (
    "UPDATE executions SET last_failure = :failure WHERE id = :id AND processing = :token"
)

# One row per (execution, step key): saving again keeps the row's first id and created_at
# (and its place: ``run_no`` is first-saved order).
SAVE_STEP_RUN: Final = insert_sql("step_runs", STEP_RUN_COLUMNS) + (
    " ON CONFLICT (execution_id, step_key) DO UPDATE SET "
    + ", ".join(
        f"{name} = excluded.{name}"
        for name in STEP_RUN_COLUMNS
        if name not in ("id", "created_at", "execution_id", "step_key")
    )
)
STEP_RUNS_OF_EXECUTION: Final = (
    select_sql("step_runs", STEP_RUN_COLUMNS, "execution_id = :execution_id") + " ORDER BY run_no"
)

# Log numbers come from the execution's counter, taken under the write lock the transaction
# holds to its end: two writers never share a number, none commits a higher one first.
TAKE_LOG_SEQ: Final = (
    "UPDATE executions SET log_seq = log_seq + :count WHERE id = :id RETURNING log_seq"
)
# Lines of an execution that has no row (only possible with foreign keys off).
LAST_LINE_SEQ: Final = "SELECT coalesce(max(seq), 0) FROM execution_logs WHERE execution_id = :id"
LAST_LOG_SEQ: Final = """
SELECT coalesce(
    (SELECT log_seq FROM executions WHERE id = :id),
    (SELECT max(seq) FROM execution_logs WHERE execution_id = :id),
    0
)
"""
INSERT_LOG: Final = insert_sql("execution_logs", LOG_COLUMNS)
LOG_SELECT: Final = ", ".join(LOG_COLUMNS)
LOGS_FROM: Final = "FROM execution_logs WHERE execution_id = :execution_id AND seq > :after_seq"
LOG_FILTERS: Final = {
    "level": " AND level = :level",
    "step_key": " AND step_key = :step_key",
    "since": " AND created_at >= :since",
}


class SqliteStepRepository:
    """A workflow's steps; deleting one is for good (steps have no soft delete)."""

    __slots__ = ("_tx",)

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, step: WorkflowStep) -> None:
        tx = self._tx
        tx.require()
        params = step_params(step)
        await tx.write(lambda connection: execute(connection, INSERT_STEP, params))

    async def update(self, step: WorkflowStep) -> None:
        tx = self._tx
        tx.require()
        params = step_params(step)
        if not await tx.write(lambda connection: execute(connection, UPDATE_STEP, params)):
            raise NotFound("step", step.id)

    async def delete(self, step_id: StepId) -> None:
        tx = self._tx
        tx.require()
        key = {"id": str(step_id)}
        if not await tx.write(lambda connection: execute(connection, DELETE_STEP, key)):
            raise NotFound("step", step_id)

    async def for_workflow(self, workflow_id: WorkflowId) -> list[WorkflowStep]:
        tx = self._tx
        tx.require()
        key = {"workflow_id": str(workflow_id)}

        def work(connection: sqlite3.Connection) -> list[WorkflowStep]:
            return [step_from_row(row) for row in connection.execute(STEPS_OF_WORKFLOW, key)]

        return await tx.read(work)

    async def agent_used_by_others(self, agent_id: AgentId, owner_id: UserId) -> bool:
        tx = self._tx
        tx.require()
        params = {"agent": uid(agent_id), "hex": agent_id.hex, "owner": uid(owner_id)}

        def work(connection: sqlite3.Connection) -> bool:
            return bool(connection.execute(AGENT_USED_BY_OTHERS, params).fetchone()[0])

        return await tx.read(work)


class SqliteExecutionRepository(Rows[Execution, ExecutionId]):
    """Executions; ``add`` writes the pinned steps, updates keep them as they are."""

    __slots__ = ()
    table = EXECUTIONS

    async def update(self, entity: Execution) -> None:
        params = execution_params(entity, with_steps=False)
        if not await self._change(UPDATE_EXECUTION, params):
            raise NotFound("execution", entity.id)

    async def update_if(self, execution: Execution, expect: ExecutionStatus) -> bool:
        """A compare-and-set: one ``UPDATE ... WHERE status = :expect``."""
        params = execution_params(execution, with_steps=False)
        params["expect"] = expect
        return bool(await self._change(UPDATE_EXECUTION_IF, params))

    async def add_step_counts(
        self, execution_id: ExecutionId, *, completed: int = 0, failed: int = 0
    ) -> None:
        self._tx.require()
        if not completed and not failed:
            return
        params = {"id": str(execution_id), "completed": completed, "failed": failed}
        await self._tx.send(lambda connection: execute(connection, ADD_STEP_COUNTS, params))

    async def status_of(self, execution_id: ExecutionId) -> ExecutionStatus | None:
        tx = self._tx
        tx.require()
        key = {"id": str(execution_id)}

        def work(connection: sqlite3.Connection) -> ExecutionStatus | None:
            row = connection.execute(STATUS_OF, key).fetchone()
            return None if row is None else ExecutionStatus(row[0])

        return await tx.read(work)

    async def begin_processing(self, execution_id: ExecutionId, token: str) -> Execution | None:
        await self._change(BEGIN_PROCESSING, {"id": str(execution_id), "token": token})
        return await self.get(execution_id)

    async def end_processing(
        self, execution_id: ExecutionId, token: str, *, failure: str | None = None
    ) -> None:
        params = {"id": str(execution_id), "token": token, "failure": failure}
        await self._change(END_PROCESSING if failure is None else FAIL_PROCESSING, params)

    async def prune_finished(self, before: datetime, limit: int) -> PruneCount:
        return await prune_finished(self._tx, before, limit)


class SqliteStepRunRepository:
    """One row per (execution, step key), listed in the order they were first saved."""

    __slots__ = ("_tx",)

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def save(self, step_run: StepRun) -> None:
        """An upsert keeping the first ``id`` and ``created_at``; ``Conflict`` if the id
        belongs to another step's run."""
        tx = self._tx
        tx.require()
        params = step_run_params(step_run)
        await tx.send(lambda connection: execute(connection, SAVE_STEP_RUN, params))

    async def for_execution(self, execution_id: ExecutionId) -> list[StepRun]:
        tx = self._tx
        tx.require()
        key = {"execution_id": str(execution_id)}

        def work(connection: sqlite3.Connection) -> list[StepRun]:
            return [
                step_run_from_row(row) for row in connection.execute(STEP_RUNS_OF_EXECUTION, key)
            ]

        return await tx.read(work)


class SqliteExecutionLogRepository:
    """Log lines by execution in ``seq`` order; ``append`` numbers and inserts in one call."""

    __slots__ = ("_tx",)

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def append(self, logs: Sequence[ExecutionLog]) -> list[ExecutionLog]:
        tx = self._tx
        tx.require()
        if not logs:
            return []
        rows = [log_params(line) for line in logs]
        counts: dict[str, int] = {}
        for row in rows:
            counts[row["execution_id"]] = counts.get(row["execution_id"], 0) + 1

        def work(connection: sqlite3.Connection) -> list[int]:
            following: dict[str, int] = {}
            for execution_id, count in counts.items():
                key = {"id": execution_id, "count": count}
                taken = connection.execute(TAKE_LOG_SEQ, key).fetchone()
                last = taken[0] if taken else connection.execute(LAST_LINE_SEQ, key).fetchone()[0]
                following[execution_id] = last - count + 1 if taken else last + 1
            seqs = []
            for row in rows:
                seq = row["seq"] = following[row["execution_id"]]
                following[row["execution_id"]] = seq + 1
                seqs.append(seq)
            connection.executemany(INSERT_LOG, rows)
            return seqs

        seqs = await tx.write(work, atomic=True)
        return [replace(line, seq=seq) for line, seq in zip(logs, seqs, strict=True)]

    async def list(self, execution_id: ExecutionId, query: LogQuery) -> Page[ExecutionLog]:
        tx = self._tx
        tx.require()
        if query.page < 1 or query.page_size < 1:
            raise ValidationFailed.field("page", "page and pageSize must be 1 or more")
        params: dict[str, Any] = {
            "execution_id": str(execution_id),
            "after_seq": query.after_seq,
            "level": query.level,
            "step_key": query.step_key,
            "since": ts(query.since) if query.since is not None else None,
            "limit": query.page_size,
            "offset": (query.page - 1) * query.page_size,
        }
        condition = LOGS_FROM + "".join(
            fragment for name, fragment in LOG_FILTERS.items() if params[name] is not None
        )
        count_sql = f"SELECT count(*) {condition}"
        rows_sql = (
            f"SELECT {', '.join(LOG_COLUMNS)} {condition} ORDER BY seq LIMIT :limit OFFSET :offset"
        )

        def work(connection: sqlite3.Connection) -> tuple[int, list[ExecutionLog]]:
            total: int = connection.execute(count_sql, params).fetchone()[0]
            if total <= params["offset"]:
                return total, []
            return total, [log_from_row(row) for row in connection.execute(rows_sql, params)]

        total, items = await tx.read(work, snapshot=True)
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)

    async def last_seq(self, execution_id: ExecutionId) -> int:
        tx = self._tx
        tx.require()
        key = {"id": str(execution_id)}

        def work(connection: sqlite3.Connection) -> int:
            last: int = connection.execute(LAST_LOG_SEQ, key).fetchone()[0]
            return last

        return await tx.read(work)
