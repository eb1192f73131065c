"""Listings over rows in memory, with the semantics the SQL adapters give them."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum
from operator import attrgetter
from typing import Any, TypeVar
from uuid import UUID

from turbocat_core.domain.common import ListQuery, Page, QuerySpec, SortOrder, check_query

E = TypeVar("E")


def _equals(name: str, wanted: Any) -> Callable[[Any], bool]:
    """A test of ``row.<name> == wanted``: enums by value, UUIDs also given as text."""
    get = attrgetter(name)
    if wanted is None:  # a null filter matches null fields (SQL: IS NULL)
        return lambda row: get(row) is None
    if isinstance(wanted, Enum):
        wanted = wanted.value
    as_uuid: UUID | None = None
    if isinstance(wanted, str):
        try:
            as_uuid = UUID(wanted)
        except ValueError:
            as_uuid = None
    if isinstance(wanted, bool):
        return lambda row: get(row) is wanted
    if as_uuid is not None:
        uuid = as_uuid
        text = wanted
        return lambda row: (value := get(row)) == uuid or value == text
    return lambda row: get(row) == wanted


def _matcher(query: ListQuery, spec: QuerySpec) -> Callable[[Any], bool]:
    tests: list[Callable[[Any], bool]] = []
    owner = query.owner_id
    if owner is not None:
        if query.include_public:
            tests.append(lambda row: row.user_id == owner or getattr(row, "is_public", False))
        else:
            tests.append(lambda row: row.user_id == owner)
    tests.extend(_equals(name, value) for name, value in query.filters.items())
    if query.tags:
        wanted_tags = frozenset(query.tags)
        tests.append(lambda row: wanted_tags.issubset(row.tags))
    if query.search:
        needle = query.search.lower()
        getters = [attrgetter(name) for name in spec.searchable]

        def found(row: Any) -> bool:
            for get in getters:
                value = get(row)
                if value is not None and needle in str(value).lower():
                    return True
            return False

        tests.append(found)
    return lambda row: all(test(row) for test in tests)


def _sort_value(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def order(rows: list[E], sort_by: str, descending: bool) -> list[E]:
    """Sorted by ``sort_by``, ties by id ascending; nulls last ascending, first descending."""
    get = attrgetter(sort_by)
    rows.sort(key=attrgetter("id"))
    nulls = [row for row in rows if get(row) is None]
    values = [row for row in rows if get(row) is not None]
    # sort() is stable, also with reverse=True, so equal values stay in id order.
    values.sort(key=lambda row: _sort_value(get(row)), reverse=descending)
    return nulls + values if descending else values + nulls


def select(rows: Iterable[E], query: ListQuery, spec: QuerySpec, copy: Callable[[E], E]) -> Page[E]:
    """One page of the rows matching ``query`` (copies), with the total number of matches."""
    check_query(query, spec)
    matches = _matcher(query, spec)
    found = [row for row in rows if matches(row)]
    found = order(found, query.sort_by, query.sort_order == SortOrder.DESC)
    start = (query.page - 1) * query.page_size
    items = [copy(row) for row in found[start : start + query.page_size]]
    return Page(items=items, total=len(found), page=query.page, page_size=query.page_size)
