"""SQL for listings and plain row statements, built only from whitelisted column names."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal
from uuid import UUID

from turbocat_adapters.sqlite.codec import ts
from turbocat_core.domain.common import ListQuery, QuerySpec, SortOrder, check_query
from turbocat_core.errors import ValidationFailed

Kind = Literal["uuid", "text", "bool", "int", "time"]
"""How a filter value is bound: the type of the column it is compared with."""


def insert_sql(table: str, columns: tuple[str, ...]) -> str:
    names = ", ".join(columns)
    values = ", ".join(f":{name}" for name in columns)
    return f"INSERT INTO {table} ({names}) VALUES ({values})"


def update_sql(table: str, columns: tuple[str, ...], where: str) -> str:
    """``UPDATE`` of every column but ``id`` (the row is found by ``:id``)."""
    sets = ", ".join(f"{name} = :{name}" for name in columns if name != "id")
    return f"UPDATE {table} SET {sets} WHERE {where}"


def select_sql(table: str, columns: tuple[str, ...], where: str) -> str:
    return f"SELECT {', '.join(columns)} FROM {table} WHERE {where}"


@dataclass(frozen=True, slots=True)
class Listing:
    """How one aggregate is listed: its table, the columns of a row, what may be asked."""

    table: str
    columns: tuple[str, ...]
    spec: QuerySpec
    filters: Mapping[str, Kind]
    """The kind of every filterable field (each is a column of the same name)."""
    owner: str | None = "user_id"
    public: bool = False
    """Whether rows have ``is_public`` (``include_public`` lists other owners' public rows)."""
    soft: bool = True

    def __post_init__(self) -> None:
        known = set(self.columns)
        unknown = (self.spec.sortable | set(self.filters) | set(self.spec.searchable)) - known
        missing = self.spec.filterable - set(self.filters)
        if unknown or missing:  # a mistake in this package, caught at import time
            raise AssertionError(f"{self.table}: listing spec and columns disagree")


@dataclass(frozen=True, slots=True)
class Plan:
    """The two statements of a page (the total, then the rows) and their parameters."""

    count: str
    rows: str
    params: dict[str, Any]


def plan(
    listing: Listing,
    query: ListQuery,
    *,
    extra: Sequence[str] = (),
    extra_params: Mapping[str, Any] | None = None,
) -> Plan:
    """SQL for one page of ``query``; ``ValidationFailed`` for what the spec does not allow.

    Visibility, equality filters (``None`` means IS NULL), every tag present, a
    case-insensitive substring search, then the sort (NULLs last ascending, first
    descending, ties by id ascending; text in code-point order) and the page. ``extra``:
    conditions a repository adds (constants of its own, with ``extra_params``).
    """
    check_query(query, listing.spec)
    where: list[str] = list(extra)
    params: dict[str, Any] = dict(extra_params or {})
    if listing.soft:
        where.append("deleted_at IS NULL")
    if query.owner_id is not None and listing.owner is not None:
        params["owner"] = str(query.owner_id)
        if query.include_public and listing.public:
            where.append(f"({listing.owner} = :owner OR is_public = 1)")
        else:
            where.append(f"{listing.owner} = :owner")
    for index, (name, value) in enumerate(query.filters.items()):
        column = _column(listing, name)
        if value is None:
            where.append(f"{column} IS NULL")
        else:
            params[f"f{index}"] = _bind(listing.filters[column], column, value)
            where.append(f"{column} = :f{index}")
    for index, tag in enumerate(query.tags):
        params[f"t{index}"] = tag
        where.append(
            f"EXISTS (SELECT 1 FROM json_each({listing.table}.tags) AS tag "
            f"WHERE tag.value = :t{index})"
        )
    if query.search:
        params["search"] = query.search.lower()
        found = " OR ".join(f"tc_contains({name}, :search)" for name in listing.spec.searchable)
        where.append(f"({found})")
    condition = " AND ".join(where) or "1"
    sort = _column(listing, query.sort_by)
    direction = "DESC NULLS FIRST" if query.sort_order == SortOrder.DESC else "ASC NULLS LAST"
    params["limit"] = query.page_size
    params["offset"] = (query.page - 1) * query.page_size
    return Plan(
        count=f"SELECT count(*) FROM {listing.table} WHERE {condition}",
        rows=(
            f"{select_sql(listing.table, listing.columns, condition)} "
            f"ORDER BY {sort} {direction}, id ASC LIMIT :limit OFFSET :offset"
        ),
        params=params,
    )


def _column(listing: Listing, name: str) -> str:
    """``name`` as a column of the listing's table, or ``ValidationFailed``."""
    if name not in listing.columns:
        raise ValidationFailed.field(name, "is not a field of this listing")
    return name


def _bind(kind: Kind, name: str, value: Any) -> Any:
    """A filter value as its column stores it (UUIDs also given as text, enums by value)."""
    if isinstance(value, Enum):
        value = value.value
    if kind == "uuid":
        if isinstance(value, UUID):
            return str(value)
        if isinstance(value, str):
            try:
                return str(UUID(value))
            except ValueError:
                return value  # matches nothing, as in the in-memory store
    elif kind == "time":
        if isinstance(value, datetime):
            return ts(value)
    elif isinstance(value, bool | int | float | str):
        return int(value) if isinstance(value, bool) else value
    raise ValidationFailed.field(name, "cannot be filtered by this value")
