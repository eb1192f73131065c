"""The shape every whole-row repository shares: add, get, update and list over one table."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID

from turbocat_adapters.sql.connection import Connection, Params
from turbocat_adapters.sql.listing import Listing, page_script
from turbocat_adapters.sql.tables import RowCodec, Table
from turbocat_core.domain.common import ListQuery, Page
from turbocat_core.errors import NotFound

E = TypeVar("E")
K = TypeVar("K", bound=UUID)
T = TypeVar("T")


class Repository(Generic[E]):
    """A repository over one table in a unit of work: entities read out are built afresh
    from their rows, so nothing read out aliases anything else."""

    __slots__ = ("_codec", "_conn")
    table: ClassVar[Table[Any]]

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._codec: RowCodec[E] = self.table.codec(conn.dialect)

    def _key(self, entity_id: UUID, name: str = "id") -> dict[str, Any]:
        return {name: self._conn.dialect.bind("uuid", entity_id)}

    async def _one(self, sql: str, params: Params) -> E | None:
        rows = await self._conn.fetch(sql, params)
        return self._codec.entity(rows[0]) if rows else None

    async def _all(self, sql: str, params: Params) -> builtins.list[E]:
        entity = self._codec.entity
        return [entity(row) for row in await self._conn.fetch(sql, params)]


class Rows(Repository[E], Generic[E, K]):
    """Rows of one aggregate; soft-deleted rows read as absent.

    ``add`` of a taken id or unique value is ``Conflict``; ``update`` of a missing (or
    deleted) row ``NotFound``; ``list`` is checked against the listing's spec.
    """

    __slots__ = ()
    listing: ClassVar[Listing[Any]]
    insert_sql: ClassVar[str]
    get_sql: ClassVar[str]
    update_sql: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "listing" in cls.__dict__:
            table = cls.table = cls.listing.table
            cls.insert_sql = table.insert()
            cls.get_sql = table.select("id = :id" + table.live)
            cls.update_sql = table.update("id = :id" + table.live)

    async def add(self, entity: E) -> None:
        await self._conn.change(self.insert_sql, self._codec.params(entity))

    async def get(self, entity_id: K) -> E | None:
        return await self._one(self.get_sql, self._key(entity_id))

    async def update(self, entity: E) -> None:
        params = self._codec.params(entity)
        if not await self._conn.change(self.update_sql, params):
            raise NotFound(self.listing.table.label, entity.id)  # type: ignore[attr-defined]

    async def list(self, query: ListQuery) -> Page[E]:
        return await self._page(query)

    async def _page(
        self,
        query: ListQuery,
        extra: Sequence[str] = (),
        extra_params: Mapping[str, Any] | None = None,
    ) -> Page[E]:
        conn = self._conn
        conn.require()
        script = page_script(
            self.listing, query, conn.dialect, extra=extra, extra_params=extra_params
        )
        total, items = await conn.run(script, write=False)
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)
