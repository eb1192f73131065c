"""Pruning finished executions from PostgreSQL (``prune_finished``): one batch, one savepoint."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from turbocat_adapters.postgres.session import Session
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports import PruneCount

# One batch at a time across every process: two prunes running at once could each lock a
# row the other's reference updates then wait for (a deadlock). Released at commit.
ONE_AT_A_TIME: Final = "SELECT pg_advisory_xact_lock(%(space)s::int, 0)"
_LOCK_SPACE: Final = 0x7072  # the first key of the prune lock (the log numbering uses 0x7463)
# Finished before the cutoff (completion time, else creation time), and not named by a
# PENDING or RUNNING execution (its runner still writes its retry_of/parent_execution_id).
# The rows are locked until the transaction ends; rows another transaction holds (a late
# log line, say) are skipped, not waited for: a later batch takes them.
PRUNABLE: Final = """
SELECT e.id FROM executions AS e
WHERE e.status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT')
    AND (e.completed_at < %(before)s OR (e.completed_at IS NULL AND e.created_at < %(before)s))
    AND e.id NOT IN (
        SELECT retry_of FROM executions
        WHERE status IN ('PENDING', 'RUNNING') AND retry_of IS NOT NULL
        UNION ALL
        SELECT parent_execution_id FROM executions
        WHERE status IN ('PENDING', 'RUNNING') AND parent_execution_id IS NOT NULL
    )
LIMIT %(limit)s
FOR UPDATE OF e SKIP LOCKED"""
# Lines and step runs are deleted explicitly (not by the cascade) to count them.
DELETE_LOGS: Final = "DELETE FROM execution_logs WHERE execution_id = ANY(%(ids)s)"
DELETE_STEP_RUNS: Final = "DELETE FROM step_runs WHERE execution_id = ANY(%(ids)s)"
# A step run that reused a pruned execution's output stays marked reused (analytics counts
# reused runs apart): it names its own execution from now on.
KEEP_REUSE_MARKS: Final = """
UPDATE step_runs SET reused_from = execution_id
WHERE reused_from = ANY(%(ids)s) AND NOT execution_id = ANY(%(ids)s)"""
# No foreign key covers these two columns here: cut them as SQLite's ON DELETE SET NULL does.
CUT_REFERENCES: Final = """
UPDATE executions SET
    retry_of = CASE WHEN retry_of = ANY(%(ids)s) THEN NULL ELSE retry_of END,
    parent_execution_id = CASE
        WHEN parent_execution_id = ANY(%(ids)s) THEN NULL ELSE parent_execution_id
    END
WHERE (retry_of = ANY(%(ids)s) OR parent_execution_id = ANY(%(ids)s))
    AND NOT id = ANY(%(ids)s)"""
DELETE_EXECUTIONS: Final = "DELETE FROM executions WHERE id = ANY(%(ids)s)"


async def prune_finished(session: Session, before: datetime, limit: int) -> PruneCount:
    """Select (and lock) one batch, then delete it: two round trips, in a savepoint."""
    session.require()
    if limit < 1:
        raise ValidationFailed.field("limit", "the batch size must be 1 or more")
    async with session.savepoint() as conn:
        await conn.execute(ONE_AT_A_TIME, {"space": _LOCK_SPACE})
        cursor = await conn.execute(PRUNABLE, {"before": before, "limit": limit})
        ids = [row["id"] for row in await cursor.fetchall()]
        if not ids:
            return PruneCount()
        doomed = {"ids": ids}
        logs = await conn.execute(DELETE_LOGS, doomed)
        runs = await conn.execute(DELETE_STEP_RUNS, doomed)
        await conn.execute(KEEP_REUSE_MARKS, doomed)
        await conn.execute(CUT_REFERENCES, doomed)
        executions = await conn.execute(DELETE_EXECUTIONS, doomed)
    return PruneCount(executions=executions.rowcount, logs=logs.rowcount, step_runs=runs.rowcount)
