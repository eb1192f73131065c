"""Listings in SQL: a query checked against its spec, then WHERE, ORDER BY and the page."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Generic, TypeVar
from uuid import UUID

from turbocat_adapters.sql.connection import Row, Script, Statement
from turbocat_adapters.sql.dialect import Dialect
from turbocat_adapters.sql.tables import Table
from turbocat_core.domain.common import ListQuery, QuerySpec, SortOrder, check_query
from turbocat_core.errors import ValidationFailed

E = TypeVar("E")
_NEVER = "1 = 0"


@dataclass(frozen=True, slots=True)
class Listing(Generic[E]):
    """How one aggregate is listed: its table, what may be asked, who owns a row.

    ``owner``: the column ``ListQuery.owner_id`` is compared with; ``public``: rows have
    ``is_public`` (``include_public`` lists other owners' public rows too).
    """

    table: Table[E]
    spec: QuerySpec
    owner: str | None = "user_id"
    public: bool = False

    def __post_init__(self) -> None:
        known = set(self.table.columns)
        asked = self.spec.sortable | self.spec.filterable | set(self.spec.searchable)
        if asked - known:  # a mistake in this package, caught at import time
            raise AssertionError(f"{self.table.name}: listing spec and columns disagree")


def page_script(
    listing: Listing[E],
    query: ListQuery,
    dialect: Dialect,
    *,
    extra: Sequence[str] = (),
    extra_params: Mapping[str, Any] | None = None,
) -> Script[tuple[int, list[E]]]:
    """The total and the rows of one page of ``query`` (``ValidationFailed`` for what the
    spec does not allow): equality filters (``None`` means IS NULL), every tag present, a
    case-insensitive substring search, then the sort (NULLs last ascending, first
    descending, ties by id ascending; text by code point) and the page. ``extra``:
    conditions a repository adds (constants of its own, with ``extra_params``)."""
    check_query(query, listing.spec)
    table = listing.table
    where: list[str] = list(extra)
    params: dict[str, Any] = dict(extra_params or {})
    if table.soft:
        where.append("deleted_at IS NULL")
    if query.owner_id is not None and listing.owner is not None:
        params["owner"] = _bind(dialect, table, "id", query.owner_id)
        if query.include_public and listing.public:
            where.append(f"({listing.owner} = :owner OR is_public = TRUE)")
        else:
            where.append(f"{listing.owner} = :owner")
    for index, (name, value) in enumerate(query.filters.items()):
        column = _column(table, name)
        if value is None:
            where.append(f"{column} IS NULL")
            continue
        bound = _bind(dialect, table, column, value)
        if bound is _BAD_ID:
            where.append(_NEVER)
        else:
            params[f"f{index}"] = bound
            where.append(f"{column} = :f{index}")
    for index, tag in enumerate(query.tags):
        params[f"t{index}"] = tag
        where.append(dialect.has_tag(table.name, f"t{index}"))
    if query.search:
        params["search"] = dialect.search_param(query.search)
        found = " OR ".join(dialect.contains(name) for name in listing.spec.searchable)
        where.append(f"({found})")
    condition = " AND ".join(where) or "1 = 1"
    sort = _column(table, query.sort_by)
    if table.fields[sort][0] in ("text", "enum"):
        sort += dialect.text_order
    direction = "DESC NULLS FIRST" if query.sort_order == SortOrder.DESC else "ASC NULLS LAST"
    params["limit"] = query.page_size
    params["offset"] = (query.page - 1) * query.page_size
    order = f"{sort} {direction}, id ASC"
    source = f"FROM {table.name} WHERE {condition}"
    entity = table.codec(dialect).entity
    return (yield from paged(dialect, ", ".join(table.columns), source, order, params, entity))


def paged(
    dialect: Dialect,
    columns: str,
    source: str,
    order: str,
    params: dict[str, Any],
    entity: Callable[[Row], E],
) -> Script[tuple[int, list[E]]]:
    """The total and the entities of one page of ``SELECT columns source ORDER BY order``
    (``params`` hold ``limit`` and ``offset``). Where the dialect counts in a window, the
    page carries the total (a separate count only for a page past the end); otherwise the
    count comes first, and the rows only if the page is not past the end."""
    page = f"SELECT {columns}{{}} {source} ORDER BY {order} LIMIT :limit OFFSET :offset"
    count = f"SELECT count(*) {source}"
    if dialect.window_count:
        found = yield Statement(page.format(", count(*) OVER ()"), params)
        if found.rows:
            return found.rows[0][-1], [entity(row[:-1]) for row in found.rows]
        if not params["offset"]:
            return 0, []
        counted = yield Statement(count, params)
        return counted.rows[0][0], []
    counted = yield Statement(count, params)
    total: int = counted.rows[0][0]
    if total <= params["offset"]:
        return total, []
    found = yield Statement(page.format(""), params)
    return total, [entity(row) for row in found.rows]


def _column(table: Table[Any], name: str) -> str:
    if name not in table.fields:
        raise ValidationFailed.field(name, "is not a field of this listing")
    return name


_BAD_ID: Any = object()


def _bind(dialect: Dialect, table: Table[Any], column: str, value: Any) -> Any:
    """A filter value as its column stores it (UUIDs also given as text, enums by value)."""
    kind = table.fields[column][0] if column in table.fields else "uuid"
    if isinstance(value, Enum):
        value = value.value
    if kind == "uuid":
        if isinstance(value, str):
            try:
                value = UUID(value)
            except ValueError:
                return _BAD_ID  # matches nothing, as in the in-memory store
        if not isinstance(value, UUID):
            raise ValidationFailed.field(column, "cannot be filtered by this value")
    elif kind == "time":
        if not isinstance(value, datetime):
            raise ValidationFailed.field(column, "cannot be filtered by this value")
    elif not isinstance(value, bool | int | float | str):
        raise ValidationFailed.field(column, "cannot be filtered by this value")
    encode = dialect.encoder(kind if kind in ("uuid", "time") else "plain", column)
    return value if encode is None else encode(value)
