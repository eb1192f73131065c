"""Pruning finished executions from SQLite (``prune_finished``): one write call per batch."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from turbocat_adapters.sqlite.codec import js, ts
from turbocat_adapters.sqlite.transaction import Transaction
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports import PruneCount

# Finished before the cutoff (completion time, else creation time), and not named by a
# PENDING or RUNNING execution (its runner still writes its retry_of/parent_execution_id:
# with the row gone, the foreign key would refuse that write). ``+status`` keeps SQLite off
# the status index (most rows are finished: it would walk them all when nothing is left to
# prune) and on the completed_at one, for both arms of the OR.
PRUNABLE: Final = """
SELECT id FROM executions
WHERE +status IN ('COMPLETED', 'FAILED', 'CANCELLED', 'TIMEOUT')
    AND (completed_at < :before OR (completed_at IS NULL AND created_at < :before))
    AND id NOT IN (
        SELECT retry_of FROM executions
        WHERE status IN ('PENDING', 'RUNNING') AND retry_of IS NOT NULL
        UNION ALL
        SELECT parent_execution_id FROM executions
        WHERE status IN ('PENDING', 'RUNNING') AND parent_execution_id IS NOT NULL
    )
LIMIT :limit"""
_DOOMED: Final = "(SELECT value FROM json_each(:ids))"
# Lines and step runs are deleted explicitly (not by the cascade) to count them.
DELETE_LOGS: Final = f"DELETE FROM execution_logs WHERE execution_id IN {_DOOMED}"
DELETE_STEP_RUNS: Final = f"DELETE FROM step_runs WHERE execution_id IN {_DOOMED}"
# A step run that reused a pruned execution's output stays marked reused (analytics counts
# reused runs apart): it names its own execution. Left to the foreign key's ON DELETE SET
# NULL, it would read as a run of its own.
KEEP_REUSE_MARKS: Final = f"""
UPDATE step_runs SET reused_from = execution_id
WHERE reused_from IN {_DOOMED} AND execution_id NOT IN {_DOOMED}"""
# What the foreign keys' ON DELETE SET NULL would do, said here (and done with them off).
CUT_RETRIES: Final = f"""
UPDATE executions SET retry_of = NULL
WHERE retry_of IN {_DOOMED} AND id NOT IN {_DOOMED}"""
CUT_CHILDREN: Final = f"""
UPDATE executions SET parent_execution_id = NULL
WHERE parent_execution_id IN {_DOOMED} AND id NOT IN {_DOOMED}"""
DELETE_EXECUTIONS: Final = f"DELETE FROM executions WHERE id IN {_DOOMED}"


async def prune_finished(tx: Transaction, before: datetime, limit: int) -> PruneCount:
    """Select and delete one batch in one call on the worker thread, under a savepoint."""
    tx.require()
    if limit < 1:
        raise ValidationFailed.field("limit", "the batch size must be 1 or more")
    params = {"before": ts(before), "limit": limit}

    def work(connection: sqlite3.Connection) -> PruneCount:
        ids = [row[0] for row in connection.execute(PRUNABLE, params)]
        if not ids:
            return PruneCount()
        doomed = {"ids": js(ids, "ids")}
        logs = connection.execute(DELETE_LOGS, doomed).rowcount
        runs = connection.execute(DELETE_STEP_RUNS, doomed).rowcount
        for statement in (KEEP_REUSE_MARKS, CUT_RETRIES, CUT_CHILDREN):
            connection.execute(statement, doomed)
        executions = connection.execute(DELETE_EXECUTIONS, doomed).rowcount
        return PruneCount(executions=executions, logs=logs, step_runs=runs)

    return await tx.write(work, atomic=True)
