"""One transaction's pending writes (an overlay on the store) and the all-or-nothing commit."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from typing import Any
from uuid import UUID

from turbocat_adapters.memory.copying import shallow_with
from turbocat_adapters.memory.tables import Committed, RowKey, Table
from turbocat_core.domain.execution import ExecutionLog, StepRun
from turbocat_core.errors import Conflict, FieldError, ValidationFailed

# How to take back what a failing commit applied: (table, row key, row before) to restore a
# row, or (None, 0, (row, {field: value before})) for a patch made in place.
Undo = list[tuple["Table | None", RowKey, Any]]


def is_live(row: Any) -> bool:
    """Not soft-deleted (rows without ``deleted_at`` are always live)."""
    return getattr(row, "deleted_at", None) is None


def _words(name: str) -> str:
    return name.replace("_", " ")


def unique_conflict(table: Table, row: Any) -> Conflict | None:
    """The ``Conflict`` of ``row`` with a committed row on a unique key, if any."""
    for name, key_of in table.spec.unique.items():
        owner = table.unique[name].get(key_of(row))
        if owner is not None and owner != row.id.int:
            return Conflict(f"a {table.spec.label} with this {_words(name)} already exists")
    return None


def missing_parent(name: str) -> ValidationFailed:
    """The error of a row whose column ``name`` names a row that does not exist (as the
    PostgreSQL adapter words a foreign-key violation)."""
    return ValidationFailed(
        f"{name}: refers to a row that does not exist",
        [FieldError(name, "refers to a row that does not exist")],
    )


def check_references(table: Table, row: Any, exists: Callable[[str, RowKey], bool]) -> None:
    """``ValidationFailed`` if a foreign key of ``row`` names a row that ``exists`` denies.

    Soft-deleted parents count, as in the databases (their rows are still there).
    """
    for name, parent in table.spec.references.items():
        value = getattr(row, name)
        if value is not None and not exists(parent, value.int):
            raise missing_parent(name)


class Put:
    """Write a whole row: an insert (the id must be new) or an update (the row must exist)."""

    __slots__ = ("insert", "row")

    def __init__(self, row: Any, *, insert: bool) -> None:
        self.row = row
        self.insert = insert

    def view(self, base: Any) -> Any:
        return self.row

    def apply(self, table: Table, undo: Undo) -> None:
        row = self.row
        existing = table.rows.get(row.id.int)
        if self.insert:
            if existing is not None:
                raise Conflict(f"a {table.spec.label} with id {row.id} already exists")
        elif existing is None or not is_live(existing):
            # Deleted by a transaction that committed first: as if ours had run before it.
            return
        conflict = unique_conflict(table, row)
        if conflict is not None:
            raise conflict
        undo.append((table, row.id.int, table.put(row)))


class CompareAndSet(Put):
    """Update a row only if its ``status`` is still ``expect`` when the commit applies it."""

    __slots__ = ("expect",)

    def __init__(self, row: Any, expect: Any) -> None:
        super().__init__(row, insert=False)
        self.expect = expect

    def apply(self, table: Table, undo: Undo) -> None:
        existing = table.rows.get(self.row.id.int)
        if existing is None or existing.status != self.expect:
            raise Conflict(f"the {table.spec.label} {self.row.id} was changed concurrently")
        undo.append((table, self.row.id.int, table.put(self.row)))


class Delta:
    """An in-place change of a live row (a counter increment), applied to the committed row."""

    __slots__ = ("change", "row_key")

    def __init__(self, row_key: RowKey, change: Callable[[Any], Any]) -> None:
        self.row_key = row_key
        self.change = change

    def view(self, base: Any) -> Any:
        return self.change(base) if base is not None and is_live(base) else base

    def apply(self, table: Table, undo: Undo) -> None:
        existing = table.rows.get(self.row_key)
        if existing is not None and is_live(existing):
            undo.append((table, self.row_key, table.put(self.change(existing))))


class Patch:
    """New values for some fields of a live row, computed from the committed row at commit
    (counters: ``x = x + n``), so concurrent transactions never lose each other's counts.

    The committed row is changed in place: the store owns it and hands out only copies,
    and nothing awaits while a reference to it is held, so no reader can see it change.
    That saves copying a wide row on the engine's per-step path.
    """

    __slots__ = ("compute", "row_key")

    def __init__(self, row_key: RowKey, compute: Callable[[Any], dict[str, Any]]) -> None:
        self.row_key = row_key
        self.compute = compute

    def view(self, base: Any) -> Any:
        if base is None or not is_live(base):
            return base
        return shallow_with(base, **self.compute(base))

    def apply(self, table: Table, undo: Undo) -> None:
        row = table.rows.get(self.row_key)
        if row is None or not is_live(row):
            return
        changes = self.compute(row)
        undo.append((None, 0, (row, {name: getattr(row, name) for name in changes})))
        for name, value in changes.items():
            object.__setattr__(row, name, value)


class Increment:
    """``field += amount`` on a live row at commit: a ``Patch`` without a closure to call."""

    __slots__ = ("amounts", "row_key")

    def __init__(self, row_key: RowKey, amounts: dict[str, int]) -> None:
        self.row_key = row_key
        self.amounts = amounts

    def view(self, base: Any) -> Any:
        if base is None or not is_live(base):
            return base
        return shallow_with(
            base, **{name: getattr(base, name) + n for name, n in self.amounts.items()}
        )

    def apply(self, table: Table, undo: Undo) -> None:
        row = table.rows.get(self.row_key)
        if row is None or not is_live(row):
            return
        before = {}
        for name, amount in self.amounts.items():
            before[name] = value = getattr(row, name)
            object.__setattr__(row, name, value + amount)
        undo.append((None, 0, (row, before)))


class Remove:
    """Delete a row for good (steps); nothing happens if it is already gone."""

    __slots__ = ("row_key",)

    def __init__(self, row_key: RowKey) -> None:
        self.row_key = row_key

    def view(self, base: Any) -> Any:
        return None

    def apply(self, table: Table, undo: Undo) -> None:
        if self.row_key in table.rows:
            undo.append((table, self.row_key, table.remove(self.row_key)))


Op = Put | Delta | Patch | Increment | Remove


class Transaction:
    """The writes of one unit of work not yet committed, and reads merged with them.

    Reads see committed rows overlaid with this transaction's own writes (read your own
    writes, read committed). Row writes queue up as ops, in call order; step runs and log
    lines wait in per-execution dicts and lists; ``pruned`` holds the executions whose lines
    and step runs go at commit (``retention.prune``). ``commit`` re-checks every rule against
    what is committed by then and applies everything or nothing.
    """

    __slots__ = (
        "active",
        "locks",
        "log_ids",
        "logs",
        "ops",
        "pruned",
        "run_ids",
        "runs",
        "store",
        "touched",
    )

    def __init__(self, store: Committed) -> None:
        self.store = store
        self.active = False
        self.ops: list[tuple[Table, Op]] = []
        self.touched: dict[str, dict[RowKey, list[Op]]] = {}
        self.runs: dict[RowKey, dict[str, StepRun]] = {}
        self.run_ids: dict[RowKey, tuple[RowKey, str]] = {}
        self.logs: dict[RowKey, list[ExecutionLog]] = {}
        self.log_ids: set[RowKey] = set()
        self.locks: list[RowKey] = []
        self.pruned: set[RowKey] = set()

    def require(self) -> None:
        if not self.active:
            raise RuntimeError("use the unit of work inside 'async with'")

    # --- merged reads --------------------------------------------------------------------

    def row(self, table: str, row_id: RowKey) -> Any:
        """The row as this transaction sees it (soft-deleted ones included), or ``None``."""
        committed = self.store.tables[table].rows.get(row_id)
        pending = self.touched.get(table)
        if pending is not None:
            ops = pending.get(row_id)
            if ops is not None:
                for op in ops:
                    committed = op.view(committed)
        return committed

    def rows(self, table: str) -> Iterator[Any]:
        """Every row this transaction sees (soft-deleted ones included), in no order."""
        pending = self.touched.get(table, {})
        for row_id, row in self.store.tables[table].rows.items():
            if row_id not in pending:
                yield row
        for row_id in pending:
            row = self.row(table, row_id)
            if row is not None:
                yield row

    def grouped(self, table: str, group: str, key: Hashable) -> list[Any]:
        """The rows whose grouping key ``group`` equals ``key``."""
        stored = self.store.tables[table]
        pending = self.touched.get(table, {})
        found = [stored.rows[i] for i in stored.group(group, key) if i not in pending]
        key_of = stored.spec.groups[group]
        for row_id in pending:
            row = self.row(table, row_id)
            if row is not None and key_of(row) == key:
                found.append(row)
        return found

    def unique_owner(self, table: str, index: str, key: Hashable) -> RowKey | None:
        """The id of the row holding ``key`` in a unique index, as this transaction sees it."""
        stored = self.store.tables[table]
        pending = self.touched.get(table, {})
        key_of = stored.spec.unique[index]
        for row_id in pending:
            row = self.row(table, row_id)
            if row is not None and key_of(row) == key:
                return row_id
        owner = stored.owner_of(index, key)
        return None if owner in pending else owner

    # --- writes --------------------------------------------------------------------------

    def exists(self, table: str, row_id: RowKey) -> bool:
        """Whether this transaction sees a row (soft-deleted or not) with this id."""
        return self.row(table, row_id) is not None

    def write(self, table: str, row_id: RowKey, op: Op) -> None:
        target = self.store.tables[table]
        if isinstance(op, Put) and target.spec.references:
            # Checked at once, as SQLite and PostgreSQL check their (immediate) foreign keys.
            check_references(target, op.row, self.exists)
        self.ops.append((target, op))
        pending = self.touched.get(table)
        if pending is None:
            pending = self.touched[table] = {}
        ops = pending.get(row_id)
        if ops is None:
            pending[row_id] = [op]
        else:
            ops.append(op)

    def check_unique(self, table: str, row: Any) -> None:
        """``Conflict`` if ``row`` takes a unique key another row holds (as seen from here)."""
        spec = self.store.tables[table].spec
        for name, key_of in spec.unique.items():
            key = key_of(row)
            if key is None:
                continue
            owner = self.unique_owner(table, name, key)
            if owner is not None and owner != row.id.int:
                raise Conflict(f"a {spec.label} with this {_words(name)} already exists")

    # --- the end -------------------------------------------------------------------------

    def commit(self) -> None:
        """Apply every pending write, or none of them (``Conflict``); then start afresh."""
        try:
            self._check_runs_and_logs()
            undo: Undo = []
            try:
                for target, op in self.ops:
                    op.apply(target, undo)
                self._check_committed_references()
            except BaseException:
                for table, row_key, previous in reversed(undo):
                    if table is not None:
                        table.restore(row_key, previous)
                    else:
                        row, before = previous
                        for name, value in before.items():
                            object.__setattr__(row, name, value)
                raise
            self._apply_runs_and_logs()
            if self.pruned:
                self.store.forget_pruned(self.pruned)
        finally:
            self.discard()

    def discard(self) -> None:
        """Forget every pending write and release the log locks held."""
        if self.ops:
            self.ops = []
            self.touched = {}
        if self.runs:
            self.runs = {}
            self.run_ids = {}
        if self.logs:
            self.logs = {}
            self.log_ids = set()
        if self.pruned:
            self.pruned = set()
        if self.locks:
            release = self.store.log_locks.release
            for execution_id in self.locks:
                release(execution_id)
            self.locks = []

    def _check_committed_references(self) -> None:
        """Foreign keys again, against what is committed now: a parent that another
        transaction removed meanwhile (retention) refuses the whole commit."""
        tables = self.store.tables

        def committed(table: str, row_id: RowKey) -> bool:
            return row_id in tables[table].rows

        for target, op in self.ops:
            if isinstance(op, Put) and target.spec.references:
                row = target.rows.get(op.row.id.int)
                if row is op.row:
                    check_references(target, row, committed)
        executions = tables["executions"].rows
        for execution_id, runs in self.runs.items():
            if execution_id not in executions:
                raise missing_parent("execution_id")
            for run in runs.values():
                if run.reused_from is not None and run.reused_from.int not in executions:
                    raise missing_parent("reused_from")
        for execution_id in self.logs:
            if execution_id not in executions:
                raise missing_parent("execution_id")

    def _check_runs_and_logs(self) -> None:
        store = self.store
        if self.run_ids:
            for run_id, pair in self.run_ids.items():
                owner = store.step_run_ids.get(run_id)
                if owner is not None and owner != pair:
                    raise Conflict(f"a step run with id {UUID(int=run_id)} already exists")
        if self.log_ids and not self.log_ids.isdisjoint(store.log_ids):
            raise Conflict("a log line with this id already exists")

    def _apply_runs_and_logs(self) -> None:
        store = self.store
        for execution_id, runs in self.runs.items():
            rows = store.step_runs.get(execution_id)
            if rows is None:
                rows = store.step_runs[execution_id] = {}
            for key, run in runs.items():
                existing = rows.get(key)
                if existing is None:
                    store.step_run_ids[run.id.int] = (execution_id, key)
                elif existing.id != run.id:
                    # Saved first by a transaction that committed meanwhile: the row keeps
                    # the identity it was first saved with. ``run`` is our private copy.
                    object.__setattr__(run, "id", existing.id)
                    object.__setattr__(run, "created_at", existing.created_at)
                rows[key] = run
        for execution_id, lines in self.logs.items():
            stored = store.logs.get(execution_id)
            if stored is None:
                store.logs[execution_id] = lines
            else:
                stored.extend(lines)
        if self.log_ids:
            store.log_ids.update(self.log_ids)
