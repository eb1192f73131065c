"""Success envelopes and the shared list query (``page``, ``pageSize``, ``sortBy``...).

A handler answers ``ok(x)`` (``{"success": true, "data": x}``) or ``paged(page)`` (adds
``meta``); domain dataclasses go through ``to_wire`` (camelCase, secrets dropped) and their
OpenAPI schema comes from ``WireSchemaPlugin``, so annotate ``-> Envelope[Agent]``.

A listing asks for ``listing: NamedDependency[ListParams]`` (an app-wide dependency: its
query parameters appear in the handler's OpenAPI) and its enum filters as typed query
parameters, which Litestar checks against the enum (an unknown value is a
``VALIDATION_ERROR`` naming the parameter)::

    @get("/")
    async def list_agents(
        listing: NamedDependency[ListParams],
        status: FromQuery[AgentStatus | None] = None,
        agent_type: Annotated[AgentType | None, QueryParameter(name="type")] = None,
    ) -> PageEnvelope[Agent]:
        query = list_query(listing, AGENT_SPEC, filters={"status": status, "type": agent_type})
        return paged(await list_agents_use_case(actor, query))
"""

# No ``from __future__ import annotations``: Litestar reads ``list_params``'s signature.

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID

from litestar.di import Provide
from litestar.params import QueryParameter

from turbocat_adapters.wire import to_wire, wire_path
from turbocat_core.domain.common import MAX_PAGE_SIZE, ListQuery, Page, QuerySpec, SortOrder, camel
from turbocat_core.errors import FieldError, ValidationFailed
from turbocat_http.schemas import Envelope, PageEnvelope, PageMeta

DEFAULT_PAGE_SIZE = 20
MAX_PAGE = 1_000_000
"""Past this a listing is not being paged through; it also keeps offsets far from overflow."""
MAX_SEARCH = 200

_SNAKE = re.compile(r"(?<!^)(?=[A-Z])")


def ok(data: Any) -> Envelope[Any]:
    """``{"success": true, "data": data}``; dataclasses become camelCase dicts."""
    return Envelope(success=True, data=to_wire(data))


def paged(page: Page[Any]) -> PageEnvelope[Any]:
    """One page of a listing with its ``meta``."""
    return PageEnvelope(
        success=True,
        data=[to_wire(item) for item in page.items],
        meta=PageMeta(
            page=page.page,
            page_size=page.page_size,
            total=page.total,
            total_pages=page.total_pages,
            has_next=page.has_next,
            has_prev=page.has_prev,
        ),
    )


@dataclass(frozen=True, slots=True)
class ListParams:
    """The list query as the caller sent it; :func:`list_query` checks it against a listing."""

    page: int = 1
    page_size: int = DEFAULT_PAGE_SIZE
    sort_by: str | None = None
    sort_order: SortOrder = SortOrder.DESC
    search: str | None = None
    tags: tuple[str, ...] = ()


def list_params(
    page: Annotated[int, QueryParameter(ge=1, le=MAX_PAGE, description="Page number, from 1.")] = 1,
    page_size: Annotated[
        int,
        QueryParameter(
            name="pageSize",
            ge=1,
            le=MAX_PAGE_SIZE,
            description=f"Items per page, 1 to {MAX_PAGE_SIZE}.",
        ),
    ] = DEFAULT_PAGE_SIZE,
    sort_by: Annotated[
        str | None,
        QueryParameter(
            name="sortBy",
            max_length=64,
            description="A sortable field of this listing (camelCase); default createdAt.",
        ),
    ] = None,
    sort_order: Annotated[
        SortOrder, QueryParameter(name="sortOrder", description="asc or desc (default).")
    ] = SortOrder.DESC,
    search: Annotated[
        str | None,
        QueryParameter(
            max_length=MAX_SEARCH,
            description="Case-insensitive substring of the name or description.",
        ),
    ] = None,
    tags: Annotated[
        str | None,
        QueryParameter(
            max_length=1000, description="Comma-separated tags; an item must have them all."
        ),
    ] = None,
) -> ListParams:
    return ListParams(
        page=page,
        page_size=page_size,
        sort_by=sort_by,
        sort_order=sort_order,
        search=search,
        tags=tuple(tag.strip() for tag in (tags or "").split(",") if tag.strip()),
    )


LIST_PARAMS_DEPENDENCY = "listing"


def provide_list_params() -> Provide:
    return Provide(list_params, sync_to_thread=False)


def snake(name: str) -> str:
    """``createdAt`` -> ``created_at``."""
    return _SNAKE.sub("_", name).lower()


def list_query(
    params: ListParams,
    spec: QuerySpec,
    *,
    filters: Mapping[str, Any] | None = None,
    owner_id: UUID | None = None,
    include_public: bool = False,
) -> ListQuery:
    """The core ``ListQuery``: ``sortBy`` must be one of ``spec.sortable`` in camelCase;
    filters whose value is ``None`` (not asked for) are dropped. Anything out of range is a
    ``ValidationFailed`` naming the wire parameter, never clamped nor ignored."""
    problems: list[FieldError] = []
    if params.page > MAX_PAGE:
        problems.append(FieldError("page", f"must be at most {MAX_PAGE}"))
    sort_by: str | None = None
    if params.sort_by is not None:
        by_wire_name = {camel(name): name for name in spec.sortable}
        sort_by = by_wire_name.get(params.sort_by)
        if sort_by is None:
            allowed = ", ".join(sorted(by_wire_name))
            problems.append(
                FieldError("sortBy", f"unknown field {params.sort_by!r}; one of {allowed}")
            )
    query: ListQuery | None = None
    try:
        query = ListQuery.build(
            spec,
            page=params.page,
            page_size=params.page_size,
            sort_by=sort_by,
            sort_order=params.sort_order.value,
            search=params.search,
            tags=params.tags,
            filters={k: v for k, v in (filters or {}).items() if v is not None},
            owner_id=owner_id,
            include_public=include_public,
        )
    except ValidationFailed as error:
        problems.extend(FieldError(wire_path(d.field), d.message) for d in error.details)
    if problems or query is None:
        raise ValidationFailed("invalid list query", problems)
    return query
