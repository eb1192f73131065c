"""Pruning finished executions (``prune_finished``): one batch in one call, all or nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from turbocat_adapters.sql.connection import Connection, Script, Statement
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports import PruneCount

# Finished before the cutoff (completion time, else creation time), and not named by a
# PENDING or RUNNING execution (its runner still writes its retry_of/parent_execution_id:
# with the row gone, that write would name nothing). A dialect may phrase it its own way
# ("prunable": SQLite steers its planner, PostgreSQL locks the rows it picks).
PRUNABLE: Final = """
SELECT id FROM executions
WHERE status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT')
    AND (completed_at < :before OR (completed_at IS NULL AND created_at < :before))
    AND id NOT IN (
        SELECT retry_of FROM executions
        WHERE status IN ('PENDING', 'RUNNING') AND retry_of IS NOT NULL
        UNION ALL
        SELECT parent_execution_id FROM executions
        WHERE status IN ('PENDING', 'RUNNING') AND parent_execution_id IS NOT NULL
    )
LIMIT :limit"""
# Lines and step runs are deleted explicitly (not by the cascade) to count them.
DELETE_LOGS: Final = "DELETE FROM execution_logs WHERE execution_id IN {doomed}"
DELETE_STEP_RUNS: Final = "DELETE FROM step_runs WHERE execution_id IN {doomed}"
# A step run that reused a pruned execution's output stays marked reused (analytics counts
# reused runs apart): it names its own execution from now on.
KEEP_REUSE_MARKS: Final = """
UPDATE step_runs SET reused_from = execution_id
WHERE reused_from IN {doomed} AND execution_id NOT IN {doomed}"""
# What the foreign keys' ON DELETE SET NULL does, said here (for stores without them).
CUT_RETRIES: Final = """
UPDATE executions SET retry_of = NULL
WHERE retry_of IN {doomed} AND id NOT IN {doomed}"""
CUT_CHILDREN: Final = """
UPDATE executions SET parent_execution_id = NULL
WHERE parent_execution_id IN {doomed} AND id NOT IN {doomed}"""
DELETE_EXECUTIONS: Final = "DELETE FROM executions WHERE id IN {doomed}"


async def prune_finished(conn: Connection, before: datetime, limit: int) -> PruneCount:
    """Select one batch and delete it, in one call and one savepoint."""
    conn.require()
    if limit < 1:
        raise ValidationFailed.field("limit", "the batch size must be 1 or more")
    dialect = conn.dialect
    doomed = dialect.query("doomed")
    lock = dialect.queries.get("lock_prune")
    prunable = dialect.queries.get("prunable", PRUNABLE)
    params = {"before": dialect.bind("time", before), "limit": limit}

    def script() -> Script[PruneCount]:
        if lock is not None:
            yield Statement(lock)
        picked = yield Statement(prunable, params)
        if not picked.rows:
            return PruneCount()
        ids = {"ids": dialect.array([row[0] for row in picked.rows])}
        logs = yield Statement(DELETE_LOGS.format(doomed=doomed), ids)
        runs = yield Statement(DELETE_STEP_RUNS.format(doomed=doomed), ids)
        for statement in (KEEP_REUSE_MARKS, CUT_RETRIES, CUT_CHILDREN):
            yield Statement(statement.format(doomed=doomed), ids)
        executions = yield Statement(DELETE_EXECUTIONS.format(doomed=doomed), ids)
        return PruneCount(
            executions=executions.rowcount, logs=logs.rowcount, step_runs=runs.rowcount
        )

    return await conn.run(script(), write=True)
