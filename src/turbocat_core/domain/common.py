"""Shared domain pieces: ids, JSON aliases, the entity base, list queries and pages."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Generic, NewType, Protocol, TypeAlias, TypeVar
from uuid import UUID

from turbocat_core.errors import FieldError, ValidationFailed

JsonObject: TypeAlias = dict[str, Any]
"""A JSON object; its values are JSON values, typed ``Any``."""

UserId = NewType("UserId", UUID)
AgentId = NewType("AgentId", UUID)
WorkflowId = NewType("WorkflowId", UUID)
StepId = NewType("StepId", UUID)
ExecutionId = NewType("ExecutionId", UUID)
LogId = NewType("LogId", UUID)
TemplateId = NewType("TemplateId", UUID)
DeploymentId = NewType("DeploymentId", UUID)
ApiKeyId = NewType("ApiKeyId", UUID)
AuditLogId = NewType("AuditLogId", UUID)

T = TypeVar("T")

MAX_PAGE_SIZE = 100
NAME_MAX = 255


@dataclass(frozen=True, slots=True, kw_only=True)
class Entity:
    """Every stored row: a UUID and UTC timestamps (``updated_at`` moves on each change)."""

    id: UUID
    created_at: datetime
    updated_at: datetime


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


@dataclass(frozen=True, slots=True)
class QuerySpec:
    """What a listing of one resource allows: sortable and filterable fields (snake_case)."""

    sortable: frozenset[str]
    filterable: frozenset[str]
    searchable: tuple[str, ...] = ("name", "description")
    default_sort: str = "created_at"
    has_tags: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class ListQuery:
    """A page of a listing. Build it with :meth:`build`, which refuses anything out of range.

    ``owner_id`` limits rows to one owner (``None``: everyone's, for ADMIN); with
    ``include_public`` other owners' public rows are listed too. ``filters`` compare a
    field for equality; ``tags`` must all be present; ``search`` is a case-insensitive
    substring of the searchable fields.
    """

    page: int = 1
    page_size: int = 20
    sort_by: str = "created_at"
    sort_order: SortOrder = SortOrder.DESC
    search: str | None = None
    tags: tuple[str, ...] = ()
    filters: Mapping[str, Any] = field(default_factory=dict)
    owner_id: UUID | None = None
    include_public: bool = False

    @classmethod
    def build(
        cls,
        spec: QuerySpec,
        *,
        page: int = 1,
        page_size: int = 20,
        sort_by: str | None = None,
        sort_order: str = "desc",
        search: str | None = None,
        tags: Sequence[str] = (),
        filters: Mapping[str, Any] | None = None,
        owner_id: UUID | None = None,
        include_public: bool = False,
    ) -> ListQuery:
        """Check every parameter against ``spec``; ``ValidationFailed`` names each bad one."""
        problems = []
        if sort_order not in ("asc", "desc"):
            problems.append(FieldError("sort_order", "must be asc or desc"))
        query = cls(
            page=page,
            page_size=page_size,
            sort_by=sort_by or spec.default_sort,
            sort_order=SortOrder.ASC if sort_order == "asc" else SortOrder.DESC,
            search=search.strip() or None if search else None,
            tags=tuple(t for t in (tag.strip() for tag in tags) if t),
            filters=dict(filters or {}),
            owner_id=owner_id,
            include_public=include_public,
        )
        try:
            check_query(query, spec)
        except ValidationFailed as error:
            problems.extend(error.details)
        if problems:
            raise ValidationFailed("invalid list query", problems)
        return query

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.page_size


def check_query(query: ListQuery, spec: QuerySpec) -> None:
    """Refuse what the listing does not allow (stores call it too, for hand-built queries)."""
    problems: list[FieldError] = []
    if query.page < 1:
        problems.append(FieldError("page", "must be 1 or more"))
    if not 1 <= query.page_size <= MAX_PAGE_SIZE:
        problems.append(FieldError("page_size", f"must be between 1 and {MAX_PAGE_SIZE}"))
    if query.sort_by not in spec.sortable:
        allowed = ", ".join(sorted(spec.sortable))
        problems.append(FieldError("sort_by", f"unknown field {query.sort_by!r}; one of {allowed}"))
    if query.tags and not spec.has_tags:
        problems.append(FieldError("tags", "this listing has no tags"))
    if query.search and not spec.searchable:
        problems.append(FieldError("search", "this listing cannot be searched"))
    problems.extend(
        FieldError(name, "is not a filter of this listing")
        for name in query.filters
        if name not in spec.filterable
    )
    if problems:
        raise ValidationFailed("invalid list query", problems)


@dataclass(frozen=True, slots=True, kw_only=True)
class Page(Generic[T]):
    """One page of a listing and the total number of rows that matched."""

    items: list[T]
    total: int
    page: int
    page_size: int

    @property
    def total_pages(self) -> int:
        return math.ceil(self.total / self.page_size) if self.total else 0

    @property
    def has_next(self) -> bool:
        return self.page < self.total_pages

    @property
    def has_prev(self) -> bool:
        return self.page > 1


def utc_text(moment: datetime) -> str:
    """A moment as ISO 8601 text in UTC ending in ``Z``, the form the API writes every time
    in, for times that travel inside JSON payloads (trigger data, audit changes) and lines."""
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


_SNAKE_JOINT = re.compile(r"_([a-z0-9])")


def camel(name: str) -> str:
    """A field's name as the API spells it (``started_at`` -> ``startedAt``): the wire's
    names, and the keys audit entries record changes under."""
    return _SNAKE_JOINT.sub(lambda joint: joint[1].upper(), name)


def elapsed_ms(began: datetime, ended: datetime) -> float:
    """Milliseconds between two moments, to the microsecond the clock keeps: ``1.007``,
    never the float noise of ``seconds * 1000`` (``1.0070000000000001``)."""
    return (ended - began) // timedelta(microseconds=1) / 1000


def check_name(value: str, field_name: str = "name") -> str:
    """A display name: trimmed, 1 to 255 characters."""
    name = value.strip()
    if not name:
        raise ValidationFailed.field(field_name, "must not be empty")
    if len(name) > NAME_MAX:
        raise ValidationFailed.field(field_name, f"must be at most {NAME_MAX} characters")
    return name


def clean_tags(tags: Sequence[str]) -> tuple[str, ...]:
    """Tags as stored: trimmed, non-empty, unique, in the order given."""
    seen: dict[str, None] = {}
    for tag in tags:
        text = tag.strip()
        if not text:
            raise ValidationFailed.field("tags", "tags must not be empty")
        if len(text) > 64:
            raise ValidationFailed.field("tags", "a tag is at most 64 characters")
        seen.setdefault(text, None)
    return tuple(seen)


class Versioned(Protocol):
    @property
    def version(self) -> int: ...


def next_version(tree: Iterable[Versioned]) -> int:
    """The version a duplicate gets: one more than the highest in its version tree."""
    return max((item.version for item in tree), default=0) + 1
