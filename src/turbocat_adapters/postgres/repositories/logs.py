"""Execution log lines: numbered per execution under a row lock, read in ``seq`` order."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Final
from uuid import UUID

from psycopg.rows import DictRow

from turbocat_adapters.postgres.mapping import enum_value, jsonb
from turbocat_adapters.postgres.session import Cursor, Session
from turbocat_core.domain.common import ExecutionId, Page
from turbocat_core.domain.execution import ExecutionLog, LogLevel, LogQuery, StepStatus
from turbocat_core.errors import ValidationFailed

_LINES: Final = """
INSERT INTO execution_logs (
    id, execution_id, seq, workflow_step_id, step_key, level, message, metadata,
    step_status, step_started_at, step_completed_at, step_duration_ms, attempt,
    created_at, updated_at
)
SELECT
    line.id, %(execution_id)s, counter.base + line.n, line.workflow_step_id,
    line.step_key, line.level, line.message, line.metadata, line.step_status,
    line.step_started_at, line.step_completed_at, line.step_duration_ms, line.attempt,
    line.created_at, line.updated_at
FROM counter, unnest(
    %(ids)s::uuid[], %(workflow_step_ids)s::uuid[], %(step_keys)s::text[],
    %(levels)s::text[], %(messages)s::text[], %(metadata)s::jsonb[],
    %(step_statuses)s::text[], %(step_started_at)s::timestamptz[],
    %(step_completed_at)s::timestamptz[], %(step_duration_ms)s::float8[],
    %(attempts)s::int[], %(created_at)s::timestamptz[], %(updated_at)s::timestamptz[]
) WITH ORDINALITY AS line(
    id, workflow_step_id, step_key, level, message, metadata, step_status,
    step_started_at, step_completed_at, step_duration_ms, attempt, created_at,
    updated_at, n
)
RETURNING id, seq"""
# The numbers come from the execution's row, locked until the transaction ends: a second
# writer waits here, so numbers are never shared nor committed out of order. One statement
# takes the numbers and writes every line of the execution.
APPEND_LINES: Final = (
    """
WITH counter AS (
    UPDATE executions SET log_seq = log_seq + %(count)s
    WHERE id = %(execution_id)s
    RETURNING log_seq - %(count)s AS base
)"""
    + _LINES
)
# Lines of an execution that has no row (the execution_id foreign key, where present,
# refuses them anyway): numbered after the last line, under a transaction-scoped advisory
# lock on the execution instead of its row lock.
LOCK_UNROWED_EXECUTION: Final = "SELECT pg_advisory_xact_lock(%(space)s::int, %(key)s::int)"
APPEND_UNROWED_LINES: Final = (
    """
WITH counter AS (
    SELECT coalesce(max(seq), 0) AS base FROM execution_logs
    WHERE execution_id = %(execution_id)s
)"""
    + _LINES
)
LAST_SEQ: Final = (
    "SELECT coalesce(max(seq), 0) AS seq FROM execution_logs WHERE execution_id = %(id)s"
)
_MATCHING: Final = """
FROM execution_logs
WHERE execution_id = %(execution_id)s AND seq > %(after_seq)s
    AND (%(level)s::text IS NULL OR level = %(level)s::text)
    AND (%(step_key)s::text IS NULL OR step_key = %(step_key)s::text)
    AND (%(since)s::timestamptz IS NULL OR created_at >= %(since)s::timestamptz)"""
LIST_LINES: Final = (
    "SELECT *, count(*) OVER () AS total_count"
    + _MATCHING
    + " ORDER BY seq LIMIT %(limit)s OFFSET %(offset)s"
)
COUNT_LINES: Final = "SELECT count(*) AS total_count" + _MATCHING
_LOCK_SPACE: Final = 0x7463  # the first key of the advisory locks of log numbering


def _batch_params(execution_id: UUID, lines: Sequence[ExecutionLog]) -> dict[str, Any]:
    """One execution's lines as arrays, one per column, for the ``unnest`` above."""
    return {
        "execution_id": execution_id,
        "count": len(lines),
        "ids": [line.id for line in lines],
        "workflow_step_ids": [line.workflow_step_id for line in lines],
        "step_keys": [line.step_key for line in lines],
        "levels": [line.level.value for line in lines],
        "messages": [line.message for line in lines],
        "metadata": [jsonb(line.metadata) for line in lines],
        "step_statuses": [enum_value(line.step_status) for line in lines],
        "step_started_at": [line.step_started_at for line in lines],
        "step_completed_at": [line.step_completed_at for line in lines],
        "step_duration_ms": [line.step_duration_ms for line in lines],
        "attempts": [line.attempt for line in lines],
        "created_at": [line.created_at for line in lines],
        "updated_at": [line.updated_at for line in lines],
    }


def _lock_key(execution_id: UUID) -> int:
    return int.from_bytes(execution_id.bytes[:4], "big", signed=True)


def log_from_row(row: DictRow) -> ExecutionLog:
    status = row["step_status"]
    return ExecutionLog(
        id=row["id"],
        execution_id=row["execution_id"],
        seq=row["seq"],
        workflow_step_id=row["workflow_step_id"],
        step_key=row["step_key"],
        level=LogLevel(row["level"]),
        message=row["message"],
        metadata=row["metadata"],
        step_status=None if status is None else StepStatus(status),
        step_started_at=row["step_started_at"],
        step_completed_at=row["step_completed_at"],
        step_duration_ms=row["step_duration_ms"],
        attempt=row["attempt"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresExecutionLogRepository:
    """Log lines by execution; ``append`` numbers them (1, 2, 3…) from the execution's
    ``log_seq`` counter, whose row stays locked until the transaction ends."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    async def append(self, logs: Sequence[ExecutionLog]) -> list[ExecutionLog]:
        session = self._session
        session.require()
        if not logs:
            return []
        batches: dict[UUID, list[ExecutionLog]] = {}
        for line in logs:
            batches.setdefault(line.execution_id, []).append(line)
        numbers: dict[UUID, int] = {}
        async with session.savepoint() as conn:
            params = [_batch_params(execution, lines) for execution, lines in batches.items()]
            cursors: list[Cursor] = [await conn.execute(APPEND_LINES, p) for p in params]
            for batch, cursor in zip(params, cursors, strict=True):
                rows = await cursor.fetchall()
                if not rows:  # the execution has no row to count on
                    lock = {"space": _LOCK_SPACE, "key": _lock_key(batch["execution_id"])}
                    await conn.execute(LOCK_UNROWED_EXECUTION, lock)
                    cursor = await conn.execute(APPEND_UNROWED_LINES, batch)
                    rows = await cursor.fetchall()
                numbers.update((row["id"], row["seq"]) for row in rows)
        return [replace(line, seq=numbers[line.id]) for line in logs]

    async def list(self, execution_id: ExecutionId, query: LogQuery) -> Page[ExecutionLog]:
        if query.page < 1 or query.page_size < 1:
            raise ValidationFailed.field("page", "page and pageSize must be 1 or more")
        params = {
            "execution_id": execution_id,
            "after_seq": query.after_seq,
            "level": enum_value(query.level),
            "step_key": query.step_key,
            "since": query.since,
            "limit": query.page_size,
            "offset": (query.page - 1) * query.page_size,
        }
        session = self._session
        rows = await session.all(LIST_LINES, params)
        if rows:
            total = int(rows[0]["total_count"])
        elif query.page > 1:
            counted = await session.one(COUNT_LINES, params)
            total = int(counted["total_count"]) if counted else 0
        else:
            total = 0
        return Page(
            items=[log_from_row(row) for row in rows],
            total=total,
            page=query.page,
            page_size=query.page_size,
        )

    async def last_seq(self, execution_id: ExecutionId) -> int:
        row = await self._session.one(LAST_SEQ, {"id": execution_id})
        return int(row["seq"]) if row else 0
