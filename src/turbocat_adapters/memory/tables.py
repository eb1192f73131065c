"""Committed tables of the in-memory store, their indexes, and the log locks."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Collection, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final
from uuid import UUID

from turbocat_adapters.memory.copying import shallow_with
from turbocat_core.domain.common import ExecutionId
from turbocat_core.domain.execution import ExecutionLog, StepRun
from turbocat_core.domain.user import canonical_email
from turbocat_core.errors import Conflict

KeyFn = Callable[[Any], Hashable | None]
RowKey = int
"""Rows are keyed by ``uuid.int``: hashing a ``UUID`` runs Python code, hashing an int does not."""


def key_of(value: UUID | None) -> RowKey | None:
    return None if value is None else value.int


@dataclass(frozen=True, slots=True)
class TableSpec:
    """How one aggregate is stored: its unique keys and its grouping (non-unique) keys."""

    name: str
    label: str
    soft_delete: bool = True
    unique: dict[str, KeyFn] = field(default_factory=dict)
    groups: dict[str, KeyFn] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)
    """Foreign keys: a column naming a row id, and the table that row must be in."""


class Table:
    """Committed rows of one aggregate by id key, with unique and grouping indexes kept in step.

    Soft-deleted rows stay here and in the unique indexes (a deleted user's email stays taken).
    """

    __slots__ = ("groups", "name", "rows", "spec", "unique")

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.name = spec.name
        self.rows: dict[RowKey, Any] = {}
        self.unique: dict[str, dict[Hashable, RowKey]] = {name: {} for name in spec.unique}
        self.groups: dict[str, dict[Hashable, dict[RowKey, None]]] = {
            name: {} for name in spec.groups
        }

    def owner_of(self, index: str, key: Hashable) -> RowKey | None:
        return self.unique[index].get(key)

    def put(self, row: Any) -> Any:
        """Insert or replace ``row``; the row it replaced (``None`` if new), for undoing."""
        row_id: RowKey = row.id.int
        previous = self.rows.get(row_id)
        self.rows[row_id] = row
        if self.unique or self.groups:
            self._reindex(row_id, previous, row)
        return previous

    def remove(self, row_id: RowKey) -> Any:
        """Delete a row for good; the row removed (``None`` if there was none)."""
        previous = self.rows.pop(row_id, None)
        if previous is not None and (self.unique or self.groups):
            self._reindex(row_id, previous, None)
        return previous

    def restore(self, row_id: RowKey, previous: Any) -> None:
        """Undo a ``put`` or ``remove``: bring back ``previous`` (or no row at all)."""
        current = self.rows.get(row_id)
        if previous is None:
            self.rows.pop(row_id, None)
        else:
            self.rows[row_id] = previous
        if self.unique or self.groups:
            self._reindex(row_id, current, previous)

    def group(self, name: str, key: Hashable) -> Iterable[RowKey]:
        return self.groups[name].get(key, {}).keys()

    def _reindex(self, row_id: RowKey, old: Any, new: Any) -> None:
        for name, key_of in self.spec.unique.items():
            index = self.unique[name]
            old_key = key_of(old) if old is not None else None
            new_key = key_of(new) if new is not None else None
            if old_key == new_key:
                continue
            if old_key is not None and index.get(old_key) == row_id:
                del index[old_key]
            if new_key is not None:
                index[new_key] = row_id
        for name, key_of in self.spec.groups.items():
            groups = self.groups[name]
            old_key = key_of(old) if old is not None else None
            new_key = key_of(new) if new is not None else None
            if old_key == new_key:
                continue
            if old_key is not None:
                members = groups.get(old_key)
                if members is not None:
                    members.pop(row_id, None)
                    if not members:
                        del groups[old_key]
            if new_key is not None:
                groups.setdefault(new_key, {})[row_id] = None


def _email_key(user: Any) -> Hashable:
    return canonical_email(user.email)


# The foreign keys of the SQLite schema (a superset of PostgreSQL's), so a program that
# works here works on both. Step runs and log lines (not tables here) reference executions.
TABLES: Final[tuple[TableSpec, ...]] = (
    TableSpec("users", "user", unique={"email": _email_key}),
    TableSpec(
        "agents",
        "agent",
        groups={"parent_id": lambda agent: key_of(agent.parent_id)},
        references={"user_id": "users", "parent_id": "agents"},
    ),
    TableSpec(
        "workflows",
        "workflow",
        groups={"parent_id": lambda flow: key_of(flow.parent_id)},
        references={"user_id": "users", "parent_id": "workflows"},
    ),
    TableSpec(
        "steps",
        "step",
        soft_delete=False,
        unique={"step_key": lambda step: (step.workflow_id.int, step.step_key)},
        groups={"workflow_id": lambda step: step.workflow_id.int},
        references={"workflow_id": "workflows", "agent_id": "agents"},
    ),
    TableSpec(
        "executions",
        "execution",
        soft_delete=False,
        references={
            "workflow_id": "workflows",
            "user_id": "users",
            "retry_of": "executions",
            "parent_execution_id": "executions",
            "deployment_id": "deployments",
        },
    ),
    TableSpec("templates", "template", references={"user_id": "users"}),
    TableSpec(
        "deployments",
        "deployment",
        references={"user_id": "users", "workflow_id": "workflows", "agent_id": "agents"},
    ),
    TableSpec(
        "api_keys",
        "API key",
        unique={"key_hash": lambda key: key.key_hash},
        references={"user_id": "users"},
    ),
    TableSpec("audit_logs", "audit entry", soft_delete=False, references={"user_id": "users"}),
)


class LogLocks:
    """Who may append log lines to an execution right now (like a row lock held to commit).

    A transaction that appends lines to an execution holds that execution's lock until it
    commits or rolls back; another one appending to the same execution waits. So ``seq``
    numbers are never shared and a higher one is never committed before a lower one.
    """

    __slots__ = ("owners", "timeout", "waiters")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.owners: dict[RowKey, object] = {}
        """The transaction holding each execution's lock (compared by identity)."""
        self.waiters: dict[RowKey, deque[asyncio.Future[None]]] = {}

    async def acquire(self, execution_key: RowKey, owner: object) -> bool:
        """Take the lock; ``True`` if newly taken (``False``: the owner already held it)."""
        holder = self.owners.get(execution_key)
        if holder is owner:
            return False
        while holder is not None:
            waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self.waiters.setdefault(execution_key, deque()).append(waiter)
            try:
                await asyncio.wait_for(waiter, self.timeout)
            except BaseException as error:
                self._discard(execution_key, waiter)
                if waiter.done() and not waiter.cancelled() and execution_key not in self.owners:
                    self._wake_next(execution_key)  # woken but leaving: pass the turn on
                if isinstance(error, TimeoutError):
                    execution = UUID(int=execution_key)
                    raise Conflict(
                        f"timed out waiting for another transaction writing logs of {execution}"
                    ) from None
                raise
            self._discard(execution_key, waiter)
            holder = self.owners.get(execution_key)
        self.owners[execution_key] = owner
        return True

    def release(self, execution_key: RowKey) -> None:
        del self.owners[execution_key]
        self._wake_next(execution_key)

    def _wake_next(self, execution_key: RowKey) -> None:
        queue = self.waiters.get(execution_key)
        while queue:
            waiter = queue.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    def _discard(self, execution_key: RowKey, waiter: asyncio.Future[None]) -> None:
        queue = self.waiters.get(execution_key)
        if queue is None:
            return
        if waiter in queue:
            queue.remove(waiter)
        if not queue:
            del self.waiters[execution_key]


class Committed:
    """What the store holds committed, as its transactions read and change it."""

    def __init__(self, lock_timeout: float) -> None:
        self.tables: dict[str, Table] = {spec.name: Table(spec) for spec in TABLES}
        # Keys are ``uuid.int`` (see ``RowKey``).
        # step runs: execution -> step key -> row, in the order the rows were first saved
        self.step_runs: dict[RowKey, dict[str, StepRun]] = {}
        self.step_run_ids: dict[RowKey, tuple[RowKey, str]] = {}
        # logs: execution -> lines in seq order (seq is given at append, under the lock)
        self.logs: dict[RowKey, list[ExecutionLog]] = {}
        self.log_ids: set[RowKey] = set()
        self.log_locks = LogLocks(lock_timeout)

    def last_seq(self, execution: RowKey) -> int:
        lines = self.logs.get(execution)
        return lines[-1].seq if lines else 0

    def forget_pruned(self, executions: Collection[RowKey]) -> None:
        """Drop the log lines and step runs of executions just pruned; a step run of another
        execution that reused one's output names its own execution from now on."""
        for key in executions:
            lines = self.logs.pop(key, None)
            if lines:
                self.log_ids.difference_update(line.id.int for line in lines)
            runs = self.step_runs.pop(key, None)
            if runs:
                for run in runs.values():
                    self.step_run_ids.pop(run.id.int, None)
        for owner, runs in self.step_runs.items():
            for step_key, run in runs.items():
                if run.reused_from is not None and run.reused_from.int in executions:
                    own = ExecutionId(UUID(int=owner))
                    runs[step_key] = shallow_with(run, reused_from=own)
