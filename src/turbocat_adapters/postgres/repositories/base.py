"""What every whole-row repository shares: add, get, update and list over one table."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, Generic, LiteralString, TypeVar
from uuid import UUID

from psycopg import sql
from psycopg.rows import DictRow

from turbocat_adapters.postgres.querying import TOTAL, Listing, list_statements
from turbocat_adapters.postgres.session import Session
from turbocat_core.domain.common import ListQuery, Page
from turbocat_core.errors import NotFound

E = TypeVar("E")
K = TypeVar("K", bound=UUID)


class EntityRepository(Generic[E, K]):
    """Rows of one aggregate: each subclass gives its SQL constants and its two mappers.

    ``get`` and ``update`` see live rows only when the table has soft delete (``update``
    of a missing or deleted row is ``NotFound``); ``add`` of a taken id or unique value is
    ``Conflict``; ``list`` is checked against the listing's spec (``ValidationFailed``).
    """

    __slots__ = ("_session",)

    label: ClassVar[str]
    listing: ClassVar[Listing]
    insert_sql: ClassVar[LiteralString]
    get_sql: ClassVar[LiteralString]
    update_sql: ClassVar[LiteralString]

    @staticmethod
    def to_params(entity: Any, /) -> dict[str, Any]:
        """The parameters of ``insert_sql`` and ``update_sql`` for ``entity``."""
        raise NotImplementedError

    @staticmethod
    def from_row(row: DictRow, /) -> Any:
        """The entity a row of the table holds."""
        raise NotImplementedError

    def __init__(self, session: Session) -> None:
        self._session = session

    async def add(self, entity: E) -> None:
        await self._session.write(self.insert_sql, self.to_params(entity))

    async def get(self, entity_id: K) -> E | None:
        row = await self._session.one(self.get_sql, {"id": entity_id})
        return None if row is None else self._entity(row)

    async def update(self, entity: E) -> None:
        params = self.to_params(entity)
        cursor = await self._session.write(self.update_sql, params)
        if cursor.rowcount == 0:
            raise NotFound(self.label, params["id"])

    async def list(self, query: ListQuery) -> Page[E]:
        return await list_page(self._session, self.listing, query, self._entity)

    def _entity(self, row: DictRow) -> E:
        entity: E = self.from_row(row)
        return entity

    async def _rows(self, query: LiteralString, params: dict[str, Any]) -> builtins.list[E]:
        return [self._entity(row) for row in await self._session.all(query, params)]


async def list_page(
    session: Session,
    listing: Listing,
    query: ListQuery,
    entity: Callable[[DictRow], E],
    *,
    extra: Sequence[sql.Composable] = (),
    extra_params: Mapping[str, Any] | None = None,
) -> Page[E]:
    """One page of a listing, counted and paged by the database (``extra``: conditions the
    repository adds, see ``list_statements``)."""
    page_sql, count_sql, params = list_statements(
        listing, query, extra=extra, extra_params=extra_params
    )
    async with session.savepoint(reads=True) as conn:  # a bad filter must not abort a transaction
        cursor = await conn.execute(page_sql, params)
        rows = await cursor.fetchall()
        if rows:
            total = int(rows[0][TOTAL])
        elif query.page > 1:  # past the end: the window count has no row to ride on
            cursor = await conn.execute(count_sql, params)
            counted = await cursor.fetchone()
            total = int(counted[TOTAL]) if counted else 0
        else:
            total = 0
    return Page(
        items=[entity(row) for row in rows],
        total=total,
        page=query.page,
        page_size=query.page_size,
    )
