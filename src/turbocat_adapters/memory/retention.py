"""Pruning finished executions from the in-memory store (``prune_finished``)."""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any, Final

from turbocat_adapters.memory.tables import RowKey
from turbocat_adapters.memory.transaction import Patch, Remove, Transaction
from turbocat_core.domain.execution import Execution, ExecutionStatus
from turbocat_core.errors import ValidationFailed
from turbocat_core.ports.run_store import PruneCount

_LIVE: Final = frozenset({ExecutionStatus.PENDING, ExecutionStatus.RUNNING})
TABLE: Final = "executions"


def prune(tx: Transaction, before: datetime, limit: int) -> PruneCount:
    """Queue the removal of up to ``limit`` finished executions ended before ``before``.

    The executions go through ``Remove`` ops (undone with the rest if the commit fails);
    their log lines and step runs are dropped once the commit has applied everything
    (``MemoryStore.forget_pruned``). Each pruned execution's log lock is taken, as a
    database's DELETE locks the row: a writer of its lines waits for the end of this
    transaction, and one holding the lock now makes this call skip the execution.
    """
    tx.require()
    if limit < 1:
        raise ValidationFailed.field("limit", "the batch size must be 1 or more")
    rows: list[Execution] = list(tx.rows(TABLE))
    referenced = {
        reference.int
        for row in rows
        if row.status in _LIVE
        for reference in (row.retry_of, row.parent_execution_id)
        if reference is not None
    }
    locks = tx.store.log_locks
    doomed: dict[RowKey, None] = {}
    for row in rows:
        key = row.id.int
        if (
            row.status.finished
            and (row.completed_at or row.created_at) < before
            and key not in referenced
            and locks.owners.get(key, tx) is tx
        ):
            doomed[key] = None
            if len(doomed) == limit:
                break
    if not doomed:
        return PruneCount()
    store = tx.store
    logs = runs = 0
    for key in doomed:
        if key not in locks.owners:
            locks.owners[key] = tx
            tx.locks.append(key)
        logs += len(store.logs.get(key, ())) + len(tx.logs.get(key, ()))
        committed, pending = store.step_runs.get(key, {}), tx.runs.get(key, {})
        runs += len(committed) + sum(1 for step_key in pending if step_key not in committed)
        tx.write(TABLE, key, Remove(key))
    gone = frozenset(doomed)
    cut = _cutter(gone)
    for row in rows:
        key = row.id.int
        if key not in gone and cut(row):
            tx.write(TABLE, key, Patch(key, cut))
    tx.pruned.update(gone)
    return PruneCount(executions=len(gone), logs=logs, step_runs=runs)


def _cutter(gone: Collection[RowKey]) -> Callable[[Execution], dict[str, Any]]:
    """The changes that cut a row's references to the executions in ``gone``."""

    def cut(row: Execution) -> dict[str, Any]:
        changes: dict[str, Any] = {}
        if row.retry_of is not None and row.retry_of.int in gone:
            changes["retry_of"] = None
        if row.parent_execution_id is not None and row.parent_execution_id.int in gone:
            changes["parent_execution_id"] = None
        return changes

    return cut
