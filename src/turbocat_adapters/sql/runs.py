"""Repositories of what running needs: steps, executions, step runs and log lines."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from uuid import UUID

from turbocat_adapters.sql.connection import Script, Statement
from turbocat_adapters.sql.dialect import Dialect
from turbocat_adapters.sql.listing import Listing, paged
from turbocat_adapters.sql.retention import prune_finished
from turbocat_adapters.sql.rows import Repository, Rows
from turbocat_adapters.sql.schema import EXECUTIONS, LOGS, STEP_RUNS, STEPS
from turbocat_core.domain.common import AgentId, ExecutionId, Page, StepId, UserId, WorkflowId
from turbocat_core.domain.execution import (
    EXECUTION_QUERY,
    Execution,
    ExecutionLog,
    ExecutionStatus,
    StepRun,
)
from turbocat_core.domain.workflow import WorkflowStep
from turbocat_core.errors import NotFound, ValidationFailed
from turbocat_core.ports import PruneCount

if TYPE_CHECKING:
    from turbocat_core.domain.execution import LogQuery

INSERT_STEP: Final = STEPS.insert()
UPDATE_STEP: Final = STEPS.update("id = :id")
DELETE_STEP: Final = "DELETE FROM workflow_steps WHERE id = :id"
STEPS_OF_WORKFLOW: Final = (
    STEPS.select("workflow_id = :workflow_id") + " ORDER BY position, step_key"
)

# The agent in a step's column, a LOOP's config or a PARALLEL branch (``agent_ids_of``);
# how JSON is read is the dialect's ("loop_agent", "branches" as b, "branch_agent").
AGENT_USED_BY_OTHERS: Final = """
SELECT EXISTS (
    SELECT 1 FROM workflow_steps s JOIN workflows w ON w.id = s.workflow_id
    WHERE w.deleted_at IS NULL AND w.user_id <> :owner AND (
        s.agent_id = :agent
        OR (s.step_type = 'LOOP' AND {loop_agent} = :hex)
        OR (s.step_type = 'PARALLEL' AND EXISTS (
            SELECT 1 FROM {branches} AS b WHERE {branch_agent} = :hex))
    )
)"""

# Updates never rewrite the pinned steps (only ``add`` writes them), nor the processing
# bookkeeping (only ``begin_processing``/``end_processing`` do), nor ``log_seq`` (not a field).
_KEPT: Final = frozenset({"steps", "recoveries", "processing", "last_failure"})
UPDATE_EXECUTION: Final = EXECUTIONS.update("id = :id", keep=_KEPT)
# Compare-and-set: on PostgreSQL a concurrent writer holding the row makes this wait, then
# the status is checked again on the row as that writer left it.
UPDATE_EXECUTION_IF: Final = EXECUTIONS.update("id = :id AND status = :expect", keep=_KEPT)
ADD_STEP_COUNTS: Final = """
UPDATE executions SET
    steps_completed = steps_completed + :completed,
    steps_failed = steps_failed + :failed
WHERE id = :id"""
STATUS_OF: Final = "SELECT status FROM executions WHERE id = :id"
# SET expressions all read the row as it was: the count and the reason are the previous
# processing's, judged before ``processing`` changes.
BEGIN_PROCESSING: Final = f"""
UPDATE executions SET
    recoveries = recoveries + CASE WHEN processing IS NULL THEN 0 ELSE 1 END,
    last_failure = CASE WHEN processing IS NULL THEN NULL ELSE last_failure END,
    processing = :token
WHERE id = :id AND status IN ('PENDING', 'RUNNING')
RETURNING {", ".join(EXECUTIONS.columns)}"""
END_PROCESSING: Final = (
    "UPDATE executions SET processing = NULL WHERE id = :id AND processing = :token"
)
FAIL_PROCESSING: Final = (
    "UPDATE executions SET last_failure = :failure WHERE id = :id AND processing = :token"
)

# One row per (execution, step key): saving again keeps the row's first id and created_at
# (and its place: step runs are listed in first-saved order).
SAVE_STEP_RUN: Final = STEP_RUNS.insert() + (
    " ON CONFLICT (execution_id, step_key) DO UPDATE SET "
    + ", ".join(
        f"{name} = excluded.{name}"
        for name in STEP_RUNS.columns
        if name not in ("id", "created_at", "execution_id", "step_key")
    )
)
STEP_RUNS_OF_EXECUTION: Final = STEP_RUNS.select("execution_id = :execution_id") + " ORDER BY "

# Log numbers come from the execution's counter, whose row stays locked (SQLite: the write
# lock) until the transaction ends: two writers never share a number, none commits a
# higher one first.
TAKE_LOG_SEQ: Final = (
    "UPDATE executions SET log_seq = log_seq + :count WHERE id = :id RETURNING log_seq"
)
# Lines of an execution that has no row (only possible without the foreign key).
LAST_LINE_SEQ: Final = "SELECT coalesce(max(seq), 0) FROM execution_logs WHERE execution_id = :id"
LAST_LOG_SEQ: Final = """
SELECT coalesce(
    (SELECT log_seq FROM executions WHERE id = :id),
    (SELECT max(seq) FROM execution_logs WHERE execution_id = :id),
    0
)"""
INSERT_LOG: Final = LOGS.insert()
LOGS_FROM: Final = "FROM execution_logs WHERE execution_id = :execution_id AND seq > :after_seq"
LOG_FILTERS: Final = {
    "level": " AND level = :level",
    "step_key": " AND step_key = :step_key",
    "since": " AND created_at >= :since",
}


class StepRepository(Repository[WorkflowStep]):
    """A workflow's steps; ``(workflow_id, step_key)`` is unique; ``delete`` is for good."""

    __slots__ = ()
    table = STEPS

    async def add(self, step: WorkflowStep) -> None:
        await self._conn.change(INSERT_STEP, self._codec.params(step))

    async def update(self, step: WorkflowStep) -> None:
        if not await self._conn.change(UPDATE_STEP, self._codec.params(step)):
            raise NotFound("step", step.id)

    async def delete(self, step_id: StepId) -> None:
        if not await self._conn.change(DELETE_STEP, self._key(step_id)):
            raise NotFound("step", step_id)

    async def for_workflow(self, workflow_id: WorkflowId) -> list[WorkflowStep]:
        order = self._conn.dialect.text_order
        return await self._all(STEPS_OF_WORKFLOW + order, self._key(workflow_id, "workflow_id"))

    async def agent_used_by_others(self, agent_id: AgentId, owner_id: UserId) -> bool:
        dialect = self._conn.dialect
        params = {
            "agent": dialect.bind("uuid", agent_id),
            "hex": agent_id.hex,
            "owner": dialect.bind("uuid", owner_id),
        }
        rows = await self._conn.fetch(_agent_used_by_others(dialect), params)
        return bool(rows[0][0])


class ExecutionRepository(Rows[Execution, ExecutionId]):
    """Executions; ``add`` writes the pinned steps, updates keep them as they are."""

    __slots__ = ()
    listing = Listing(EXECUTIONS, EXECUTION_QUERY)

    async def update(self, entity: Execution) -> None:
        if not await self._conn.change(UPDATE_EXECUTION, self._codec.params(entity)):
            raise NotFound("execution", entity.id)

    async def update_if(self, execution: Execution, expect: ExecutionStatus) -> bool:
        """A compare-and-set: one ``UPDATE ... WHERE status = :expect``."""
        params = self._codec.params(execution)
        params["expect"] = expect.value
        return bool(await self._conn.change(UPDATE_EXECUTION_IF, params))

    async def add_step_counts(
        self, execution_id: ExecutionId, *, completed: int = 0, failed: int = 0
    ) -> None:
        self._conn.require()
        if not completed and not failed:
            return
        params = self._key(execution_id) | {"completed": completed, "failed": failed}
        await self._conn.send(ADD_STEP_COUNTS, params)

    async def status_of(self, execution_id: ExecutionId) -> ExecutionStatus | None:
        rows = await self._conn.fetch(STATUS_OF, self._key(execution_id))
        return ExecutionStatus(rows[0][0]) if rows else None

    async def begin_processing(self, execution_id: ExecutionId, token: str) -> Execution | None:
        key = self._key(execution_id)
        params = key | {"token": token}

        def script() -> Script[Execution | None]:
            began = yield Statement(BEGIN_PROCESSING, params)
            if not began.rows:  # finished (unchanged) or unknown
                began = yield Statement(self.get_sql, key)
            return self._codec.entity(began.rows[0]) if began.rows else None

        return await self._conn.run(script(), write=True)

    async def end_processing(
        self, execution_id: ExecutionId, token: str, *, failure: str | None = None
    ) -> None:
        params = self._key(execution_id) | {"token": token, "failure": failure}
        await self._conn.change(END_PROCESSING if failure is None else FAIL_PROCESSING, params)

    async def prune_finished(self, before: datetime, limit: int) -> PruneCount:
        return await prune_finished(self._conn, before, limit)


class StepRunRepository(Repository[StepRun]):
    """One row per (execution, step key), listed in the order they were first saved."""

    __slots__ = ()
    table = STEP_RUNS

    async def save(self, step_run: StepRun) -> None:
        """An upsert keeping the first ``id`` and ``created_at``; ``Conflict`` if the id
        belongs to another step's run."""
        await self._conn.send(SAVE_STEP_RUN, self._codec.params(step_run))

    async def for_execution(self, execution_id: ExecutionId) -> list[StepRun]:
        order = self._conn.dialect.query("run_order")
        key = self._key(execution_id, "execution_id")
        return await self._all(STEP_RUNS_OF_EXECUTION + order, key)


class ExecutionLogRepository(Repository[ExecutionLog]):
    """Log lines by execution in ``seq`` order; ``append`` numbers them (1, 2, 3…) from the
    execution's ``log_seq`` counter and inserts them, in one call."""

    __slots__ = ()
    table = LOGS

    async def append(self, logs: Sequence[ExecutionLog]) -> list[ExecutionLog]:
        conn = self._conn
        conn.require()
        if not logs:
            return []
        rows = [self._codec.params(line) for line in logs]
        counts: dict[Any, int] = {}
        for row in rows:
            counts[row["execution_id"]] = counts.get(row["execution_id"], 0) + 1
        unrowed = conn.dialect.queries.get("lock_unrowed_logs")

        def script() -> Script[list[int]]:
            following: dict[Any, int] = {}
            for execution_id, count in counts.items():
                key = {"id": execution_id, "count": count}
                taken = yield Statement(TAKE_LOG_SEQ, key)
                if taken.rows:
                    following[execution_id] = taken.rows[0][0] - count + 1
                    continue
                if unrowed is not None:
                    yield Statement(unrowed, {"key": _lock_key(execution_id)})
                last = yield Statement(LAST_LINE_SEQ, key)
                following[execution_id] = last.rows[0][0] + 1
            seqs = []
            for row in rows:
                seq = row["seq"] = following[row["execution_id"]]
                following[row["execution_id"]] = seq + 1
                seqs.append(seq)
            yield Statement(INSERT_LOG, rows, many=True)
            return seqs

        seqs = await conn.run(script(), write=True)
        return [replace(line, seq=seq) for line, seq in zip(logs, seqs, strict=True)]

    async def list(self, execution_id: ExecutionId, query: LogQuery) -> Page[ExecutionLog]:
        if query.page < 1 or query.page_size < 1:
            raise ValidationFailed.field("page", "page and pageSize must be 1 or more")
        conn = self._conn
        dialect = conn.dialect
        params: dict[str, Any] = {
            "execution_id": dialect.bind("uuid", execution_id),
            "after_seq": query.after_seq,
            "level": None if query.level is None else query.level.value,
            "step_key": query.step_key,
            "since": dialect.bind("time", query.since),
            "limit": query.page_size,
            "offset": (query.page - 1) * query.page_size,
        }
        condition = LOGS_FROM + "".join(
            fragment for name, fragment in LOG_FILTERS.items() if params[name] is not None
        )
        columns = ", ".join(LOGS.columns)
        script = paged(dialect, columns, condition, "seq", params, self._codec.entity)
        total, items = await conn.run(script, write=False)
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)

    async def last_seq(self, execution_id: ExecutionId) -> int:
        rows = await self._conn.fetch(LAST_LOG_SEQ, self._key(execution_id))
        return int(rows[0][0])


@functools.cache
def _agent_used_by_others(dialect: Dialect) -> str:
    names = ("loop_agent", "branches", "branch_agent")
    return AGENT_USED_BY_OTHERS.format(**{name: dialect.query(name) for name in names})


def _lock_key(execution_id: Any) -> int:
    return int.from_bytes(UUID(str(execution_id)).bytes[:4], "big", signed=True)
