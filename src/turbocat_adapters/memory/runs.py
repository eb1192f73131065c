"""Repositories of what running needs: steps, executions, step runs and log lines."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter

from turbocat_adapters.memory.copying import (
    copier_for,
    copier_sharing,
    shallow_copier_for,
    shallow_with,
    slot_setter,
)
from turbocat_adapters.memory.entities import EntityRepository
from turbocat_adapters.memory.retention import prune
from turbocat_adapters.memory.tables import Table
from turbocat_adapters.memory.transaction import (
    CompareAndSet,
    Increment,
    Patch,
    Put,
    Remove,
    Transaction,
    Undo,
    missing_parent,
)
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
from turbocat_core.engine.steps import agent_ids_of
from turbocat_core.errors import Conflict, NotFound, ValidationFailed
from turbocat_core.ports.run_store import PruneCount

_seq = attrgetter("seq")
_copy_step = copier_for(WorkflowStep)
_copy_run = copier_for(StepRun)
_copy_log = copier_for(ExecutionLog)
_shallow_log = shallow_copier_for(ExecutionLog)
_set_seq = slot_setter(ExecutionLog, "seq")
_copy_execution_head = copier_sharing(Execution, "steps")
_set_steps = slot_setter(Execution, "steps")
_PROCESSING = ("recoveries", "processing", "last_failure")
"""Written only by begin/end_processing: updates keep the stored values, as in SQL."""


def _keep_processing(row: Execution, stored: Execution | None) -> None:
    if stored is not None:
        for name in _PROCESSING:
            object.__setattr__(row, name, getattr(stored, name))


class _ExecutionPut(Put):
    """An update that keeps the processing bookkeeping committed when it applies."""

    __slots__ = ()

    def apply(self, table: Table, undo: Undo) -> None:
        _keep_processing(self.row, table.rows.get(self.row.id.int))
        super().apply(table, undo)


class _ExecutionCompareAndSet(CompareAndSet):
    __slots__ = ()

    def apply(self, table: Table, undo: Undo) -> None:
        _keep_processing(self.row, table.rows.get(self.row.id.int))
        super().apply(table, undo)


class MemoryStepRepository:
    """A workflow's steps; deleting one is for good (steps have no soft delete)."""

    __slots__ = ("_tx",)
    table = "steps"

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, step: WorkflowStep) -> None:
        tx = self._tx
        tx.require()
        row = _copy_step(step)
        if tx.row(self.table, row.id.int) is not None:
            raise Conflict(f"a step with id {row.id} already exists")
        tx.check_unique(self.table, row)
        tx.write(self.table, row.id.int, Put(row, insert=True))

    async def update(self, step: WorkflowStep) -> None:
        tx = self._tx
        tx.require()
        row = _copy_step(step)
        if tx.row(self.table, row.id.int) is None:
            raise NotFound("step", row.id)
        tx.check_unique(self.table, row)
        tx.write(self.table, row.id.int, Put(row, insert=False))

    async def delete(self, step_id: StepId) -> None:
        tx = self._tx
        tx.require()
        if tx.row(self.table, step_id.int) is None:
            raise NotFound("step", step_id)
        tx.write(self.table, step_id.int, Remove(step_id.int))

    async def for_workflow(self, workflow_id: WorkflowId) -> list[WorkflowStep]:
        tx = self._tx
        tx.require()
        steps = tx.grouped(self.table, "workflow_id", workflow_id.int)
        steps.sort(key=lambda step: (step.position, step.step_key))
        return [_copy_step(step) for step in steps]

    async def agent_used_by_others(self, agent_id: AgentId, owner_id: UserId) -> bool:
        tx = self._tx
        tx.require()
        for step in tx.rows(self.table):
            if agent_id in agent_ids_of([step]):
                flow = tx.row("workflows", step.workflow_id.int)
                if flow is not None and flow.deleted_at is None and flow.user_id != owner_id:
                    return True
        return False


class MemoryExecutionRepository(EntityRepository[Execution, ExecutionId]):
    """Executions. ``steps`` is the snapshot pinned when the execution was added: updates
    keep the stored one (copying thousands of steps at each status change would cost more
    than the run's own bookkeeping), as the SQL stores do not rewrite it either."""

    __slots__ = ()
    table = "executions"
    entity = Execution
    spec = EXECUTION_QUERY

    def _replacement(self, entity: Execution, current: Execution) -> Execution:
        row = _copy_execution_head(entity)
        _set_steps(row, current.steps)  # the stored snapshot, already private
        _keep_processing(row, current)
        return row

    async def update(self, entity: Execution) -> None:
        tx = self._tx
        tx.require()
        current = tx.row(self.table, entity.id.int)
        if current is None:
            raise NotFound("execution", entity.id)
        row = self._replacement(entity, current)
        tx.write(self.table, entity.id.int, _ExecutionPut(row, insert=False))

    async def update_if(self, execution: Execution, expect: ExecutionStatus) -> bool:
        """Checked now against what this transaction sees, and again when it commits."""
        tx = self._tx
        tx.require()
        current = tx.row(self.table, execution.id.int)
        if current is None or current.status != expect:
            return False
        row = self._replacement(execution, current)
        tx.write(self.table, execution.id.int, _ExecutionCompareAndSet(row, expect))
        return True

    async def add_step_counts(
        self, execution_id: ExecutionId, *, completed: int = 0, failed: int = 0
    ) -> None:
        """Added at commit to the committed row, so concurrent transactions both count."""
        tx = self._tx
        if not tx.active:
            tx.require()
        if not completed and not failed:
            return
        key = execution_id.int
        amounts = {"steps_completed": completed, "steps_failed": failed}
        tx.write(self.table, key, Increment(key, amounts))

    async def status_of(self, execution_id: ExecutionId) -> ExecutionStatus | None:
        tx = self._tx
        tx.require()
        row = tx.row(self.table, execution_id.int)
        return None if row is None else row.status

    async def begin_processing(self, execution_id: ExecutionId, token: str) -> Execution | None:
        tx = self._tx
        tx.require()
        key = execution_id.int
        if tx.row(self.table, key) is None:
            return None

        def begun(row: Execution) -> dict[str, object]:
            if row.status.finished:
                return {}
            failed = row.processing is not None  # the one before never ended
            return {
                "recoveries": row.recoveries + failed,
                "last_failure": row.last_failure if failed else None,
                "processing": token,
            }

        tx.write(self.table, key, Patch(key, begun))
        return await self.get(execution_id)

    async def end_processing(
        self, execution_id: ExecutionId, token: str, *, failure: str | None = None
    ) -> None:
        tx = self._tx
        tx.require()
        key = execution_id.int
        change: dict[str, object] = (
            {"processing": None} if failure is None else {"last_failure": failure}
        )

        def ended(row: Execution) -> dict[str, object]:
            return change if row.processing == token else {}

        tx.write(self.table, key, Patch(key, ended))

    async def prune_finished(self, before: datetime, limit: int) -> PruneCount:
        return prune(self._tx, before, limit)


class MemoryStepRunRepository:
    """One row per (execution, step key); a save of an existing pair replaces the row but
    keeps the ``id`` and ``created_at`` it was first saved with (an upsert)."""

    __slots__ = ("_tx",)

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def save(self, step_run: StepRun) -> None:
        tx = self._tx
        if not tx.active:
            tx.require()
        execution = step_run.execution_id.int
        if not tx.exists("executions", execution):
            raise missing_parent("execution_id")
        if step_run.reused_from is not None and not tx.exists(
            "executions", step_run.reused_from.int
        ):
            raise missing_parent("reused_from")
        key = step_run.step_key
        row = _copy_run(step_run)
        pending = tx.runs.get(execution)
        if pending is None:
            pending = tx.runs[execution] = {}
        existing = pending.get(key)
        if existing is None:
            committed = tx.store.step_runs.get(execution)
            if committed is not None:
                existing = committed.get(key)
        if existing is None:
            run_key = row.id.int
            if run_key in tx.store.step_run_ids or run_key in tx.run_ids:
                raise Conflict(f"a step run with id {row.id} already exists")
            tx.run_ids[run_key] = (execution, key)
        elif existing.id != row.id or existing.created_at != row.created_at:
            object.__setattr__(row, "id", existing.id)  # our private copy
            object.__setattr__(row, "created_at", existing.created_at)
        pending[key] = row

    async def for_execution(self, execution_id: ExecutionId) -> list[StepRun]:
        tx = self._tx
        tx.require()
        execution = execution_id.int
        pruned = tx.pruned
        if pruned and execution in pruned:
            return []
        rows = tx.store.step_runs.get(execution, {})
        pending = tx.runs.get(execution)
        if pending:
            rows = {**rows, **pending}  # replaced rows keep their place, new ones go last
        found = [_copy_run(row) for row in rows.values()]
        if pruned:  # as the commit will leave them (``MemoryStore.forget_pruned``)
            found = [
                shallow_with(run, reused_from=execution_id)
                if run.reused_from is not None and run.reused_from.int in pruned
                else run
                for run in found
            ]
        return found


class MemoryExecutionLogRepository:
    """Log lines by execution, in ``seq`` order; ``append`` numbers them under a lock."""

    __slots__ = ("_tx",)

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def append(self, logs: Sequence[ExecutionLog]) -> list[ExecutionLog]:
        tx = self._tx
        if not tx.active:
            tx.require()
        store = tx.store
        taken = store.log_ids
        seen = tx.log_ids
        keys: set[int] = set()
        for line in logs:
            key = line.id.int
            if key in taken or key in seen or key in keys:
                raise Conflict(f"a log line with id {line.id} already exists")
            if not tx.exists("executions", line.execution_id.int):
                raise missing_parent("execution_id")
            keys.add(key)
        locks = store.log_locks
        for line in logs:  # lock first, so a timeout leaves nothing half-written
            execution = line.execution_id.int
            if locks.owners.get(execution) is not tx and await locks.acquire(execution, tx):
                tx.locks.append(execution)
        stored: list[ExecutionLog] = []
        pending_by_execution = tx.logs
        for line in logs:
            execution = line.execution_id.int
            pending = pending_by_execution.get(execution)
            if pending is None:
                pending = pending_by_execution[execution] = []
                seq = store.last_seq(execution) + 1
            else:
                seq = pending[-1].seq + 1
            row = _copy_log(line)
            _set_seq(row, seq)  # a private copy: nobody else holds it yet
            pending.append(row)
            # The caller's own line, numbered: it shares nothing with the stored row.
            numbered = _shallow_log(line)
            _set_seq(numbered, seq)
            stored.append(numbered)
        seen |= keys
        return stored

    async def list(self, execution_id: ExecutionId, query: LogQuery) -> Page[ExecutionLog]:
        tx = self._tx
        tx.require()
        if query.page < 1 or query.page_size < 1:
            raise ValidationFailed.field("page", "page and pageSize must be 1 or more")
        execution = execution_id.int
        gone = execution in tx.pruned  # pruned by this transaction: as good as deleted
        lines = [] if gone else tx.store.logs.get(execution, [])
        start = bisect_right(lines, query.after_seq, key=_seq) if query.after_seq else 0
        candidates = lines[start:]
        pending = None if gone else tx.logs.get(execution)
        if pending:
            candidates += [line for line in pending if line.seq > query.after_seq]
        level, step_key, since = query.level, query.step_key, query.since
        found = [
            line
            for line in candidates
            if (level is None or line.level == level)
            and (step_key is None or line.step_key == step_key)
            and (since is None or line.created_at >= since)
        ]
        first = (query.page - 1) * query.page_size
        items = [_copy_log(line) for line in found[first : first + query.page_size]]
        return Page(items=items, total=len(found), page=query.page, page_size=query.page_size)

    async def last_seq(self, execution_id: ExecutionId) -> int:
        tx = self._tx
        tx.require()
        execution = execution_id.int
        if execution in tx.pruned:
            return 0
        pending = tx.logs.get(execution)
        return pending[-1].seq if pending else tx.store.last_seq(execution)
