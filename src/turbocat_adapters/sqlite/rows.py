"""The shared shape of a repository over one table: add, get, update and list in SQL."""

from __future__ import annotations

import builtins
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from turbocat_adapters.sqlite.mapping import Params, Row
from turbocat_adapters.sqlite.querying import Listing, insert_sql, plan, select_sql, update_sql
from turbocat_adapters.sqlite.transaction import Transaction
from turbocat_core.domain.common import ListQuery, Page
from turbocat_core.errors import NotFound

E = TypeVar("E")
K = TypeVar("K", bound=UUID)


@dataclass(frozen=True, slots=True)
class Table(Generic[E]):
    """One aggregate's table: its label, mappers and the statements built from its columns."""

    label: str
    listing: Listing
    to_params: Callable[[E], Params]
    from_row: Callable[[Row], E]
    insert: str
    update: str
    get: str

    @classmethod
    def of(
        cls,
        label: str,
        listing: Listing,
        to_params: Callable[[E], Params],
        from_row: Callable[[Row], E],
    ) -> Table[E]:
        name, columns = listing.table, listing.columns
        live = " AND deleted_at IS NULL" if listing.soft else ""
        return cls(
            label=label,
            listing=listing,
            to_params=to_params,
            from_row=from_row,
            insert=insert_sql(name, columns),
            update=update_sql(name, columns, f"id = :id{live}"),
            get=select_sql(name, columns, f"id = :id{live}"),
        )


def execute(connection: sqlite3.Connection, sql: str, params: Params) -> int:
    """Run one statement; how many rows it changed."""
    return connection.execute(sql, params).rowcount


class Rows(Generic[E, K]):
    """Rows of one aggregate inside a unit of work; soft-deleted rows read as absent.

    Every method is one call on the store's worker thread. Entities read out are built
    afresh from their rows, so nothing read out aliases anything else.
    """

    __slots__ = ("_tx",)
    table: ClassVar[Table[Any]]

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    async def add(self, entity: E) -> None:
        """``Conflict`` for a taken id (soft-deleted rows keep theirs) or unique field."""
        tx = self._tx
        tx.require()
        sql, params = self.table.insert, self.table.to_params(entity)
        await tx.write(lambda connection: execute(connection, sql, params))

    async def get(self, entity_id: K) -> E | None:
        tx = self._tx
        tx.require()
        sql, from_row = self.table.get, self.table.from_row
        key = {"id": str(entity_id)}

        def work(connection: sqlite3.Connection) -> E | None:
            row = connection.execute(sql, key).fetchone()
            return None if row is None else from_row(row)

        return await tx.read(work)

    async def update(self, entity: E) -> None:
        """Replace the row; ``NotFound`` if it is missing or soft-deleted."""
        tx = self._tx
        tx.require()
        sql, params = self.table.update, self.table.to_params(entity)
        if not await tx.write(lambda connection: execute(connection, sql, params)):
            raise NotFound(self.table.label, params["id"])

    async def list(self, query: ListQuery) -> Page[E]:
        tx = self._tx
        tx.require()
        page = plan(self.table.listing, query)
        from_row = self.table.from_row
        offset = page.params["offset"]

        def work(connection: sqlite3.Connection) -> tuple[int, builtins.list[E]]:
            total: int = connection.execute(page.count, page.params).fetchone()[0]
            if total <= offset:
                return total, []
            rows = connection.execute(page.rows, page.params).fetchall()
            return total, [from_row(row) for row in rows]

        total, items = await tx.read(work, snapshot=True)
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)

    async def _one(self, sql: str, params: Params) -> E | None:
        """The entity of the first row ``sql`` selects, if any."""
        tx = self._tx
        tx.require()
        from_row = self.table.from_row

        def work(connection: sqlite3.Connection) -> E | None:
            row = connection.execute(sql, params).fetchone()
            return None if row is None else from_row(row)

        return await tx.read(work)

    async def _all(self, sql: str, params: Params) -> builtins.list[E]:
        tx = self._tx
        tx.require()
        from_row = self.table.from_row

        def work(connection: sqlite3.Connection) -> builtins.list[E]:
            return [from_row(row) for row in connection.execute(sql, params)]

        return await tx.read(work)

    async def _change(self, sql: str, params: Params) -> int:
        """Run one write statement (an atomic counter update, say); rows changed."""
        tx = self._tx
        tx.require()
        return await tx.write(lambda connection: execute(connection, sql, params))
