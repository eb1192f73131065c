"""Listings in SQL: the query checked against its spec, then WHERE, ORDER BY and paging."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final, LiteralString
from uuid import UUID

from psycopg import sql

from turbocat_core.domain.common import ListQuery, QuerySpec, SortOrder, check_query

TOTAL: Final = "total_count"
"""The column every listing adds: how many rows matched in all (``count(*) OVER ()``)."""


@dataclass(frozen=True, slots=True)
class Listing:
    """How one table is listed: its spec and what SQL needs to know about its columns."""

    table: LiteralString
    spec: QuerySpec
    soft_delete: bool = True
    has_public: bool = False
    uuid_columns: frozenset[str] = frozenset({"user_id"})
    text_columns: frozenset[str] = frozenset({"name"})
    """Sortable text columns: compared with ``COLLATE "C"`` (by code point, like Python)."""


def escape_like(text: str) -> str:
    """``text`` as a literal inside a LIKE pattern (backslash is LIKE's default escape)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filter_value(listing: Listing, name: str, value: Any) -> Any:
    """The parameter of an equality filter; ``_NEVER`` when nothing can match (bad UUID)."""
    if isinstance(value, Enum):
        return value.value
    if name in listing.uuid_columns and isinstance(value, str):
        try:
            return UUID(value)
        except ValueError:
            return _NEVER
    return value


_NEVER: Final = object()


def where_clause(listing: Listing, query: ListQuery) -> tuple[sql.Composable, dict[str, Any]]:
    """The WHERE conditions of ``query`` (already checked) and their parameters."""
    conditions: list[sql.Composable] = []
    params: dict[str, Any] = {}
    if listing.soft_delete:
        conditions.append(sql.SQL("deleted_at IS NULL"))
    if query.owner_id is not None:
        params["owner"] = query.owner_id
        if query.include_public and listing.has_public:
            conditions.append(sql.SQL("(user_id = %(owner)s OR is_public)"))
        else:
            conditions.append(sql.SQL("user_id = %(owner)s"))
    for index, (name, value) in enumerate(sorted(query.filters.items())):
        column = sql.Identifier(name)
        wanted = _filter_value(listing, name, value)
        if wanted is None:
            conditions.append(sql.SQL("{} IS NULL").format(column))
        elif wanted is _NEVER:
            conditions.append(sql.SQL("FALSE"))
        else:
            key = f"f{index}"
            params[key] = wanted
            conditions.append(sql.SQL("{} = {}").format(column, sql.Placeholder(key)))
    if query.tags:
        params["tags"] = list(query.tags)
        conditions.append(sql.SQL("tags @> %(tags)s::text[]"))
    if query.search:
        params["search"] = f"%{escape_like(query.search)}%"
        conditions.append(
            sql.SQL("({})").format(
                sql.SQL(" OR ").join(
                    sql.SQL("{} ILIKE %(search)s").format(sql.Identifier(name))
                    for name in listing.spec.searchable
                )
            )
        )
    if not conditions:
        return sql.SQL("TRUE"), params
    return sql.SQL(" AND ").join(conditions), params


def order_clause(listing: Listing, query: ListQuery) -> sql.Composable:
    """``<col> [COLLATE "C"] ASC NULLS LAST`` (DESC NULLS FIRST), then ``id ASC``."""
    column: sql.Composable = sql.Identifier(query.sort_by)
    if query.sort_by in listing.text_columns:
        column = sql.SQL('{} COLLATE "C"').format(column)
    direction = (
        sql.SQL("DESC NULLS FIRST")
        if query.sort_order == SortOrder.DESC
        else sql.SQL("ASC NULLS LAST")
    )
    return sql.SQL("{} {}, id ASC").format(column, direction)


def list_statements(
    listing: Listing,
    query: ListQuery,
    *,
    extra: Sequence[sql.Composable] = (),
    extra_params: Mapping[str, Any] | None = None,
) -> tuple[sql.Composed, sql.Composed, dict[str, Any]]:
    """A page with the total in every row, the count alone (for a page past the end), params.

    ``extra``: conditions a repository adds (constants of its own, with ``extra_params``).
    """
    check_query(query, listing.spec)
    where, params = where_clause(listing, query)
    if extra:
        where = sql.SQL(" AND ").join([where, *extra])
        params.update(extra_params or {})
    params["limit"] = query.page_size
    params["offset"] = query.offset
    table = sql.Identifier(listing.table)
    page = sql.SQL(
        "SELECT *, count(*) OVER () AS {total} FROM {table} WHERE {where} "
        "ORDER BY {order} LIMIT %(limit)s OFFSET %(offset)s"
    ).format(
        total=sql.Identifier(TOTAL),
        table=table,
        where=where,
        order=order_clause(listing, query),
    )
    count = sql.SQL("SELECT count(*) AS {total} FROM {table} WHERE {where}").format(
        total=sql.Identifier(TOTAL), table=table, where=where
    )
    return page, count, params
