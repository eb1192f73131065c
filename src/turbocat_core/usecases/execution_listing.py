"""Every execution a user started (an ADMIN: everyone's), filtered, with a creation-time range."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from turbocat_core.domain.access import Actor
from turbocat_core.domain.common import MAX_PAGE_SIZE, ListQuery, Page, SortOrder
from turbocat_core.domain.execution import Execution
from turbocat_core.ports import UnitOfWorkFactory

MAX_SCANNED: Final = 10_000
"""A time range is applied by reading newest first; past this many rows the page is cut."""


@dataclass(frozen=True, slots=True, kw_only=True)
class ListExecutions:
    uow: UnitOfWorkFactory

    async def __call__(
        self,
        actor: Actor,
        query: ListQuery,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Page[Execution]:
        """The actor's executions (an ADMIN's view: everyone's) matching ``query``'s filters.
        With ``since``/``until`` (created at or after / before), the rows are read newest
        first and filtered here: at most :data:`MAX_SCANNED` of them, whatever the query's
        sort; the total then counts the matches among the rows read."""
        owner = None if actor.is_admin else actor.user_id
        query = replace(query, owner_id=owner, include_public=False)
        async with self.uow() as uow:
            if since is None and until is None:
                return await uow.executions.list(query)
            matches: list[Execution] = []
            page = 1
            while (page - 1) * MAX_PAGE_SIZE < MAX_SCANNED:
                scan = replace(
                    query,
                    page=page,
                    page_size=MAX_PAGE_SIZE,
                    sort_by="created_at",
                    sort_order=SortOrder.DESC,
                )
                found = await uow.executions.list(scan)
                older = False
                for execution in found.items:
                    if until is not None and execution.created_at >= until:
                        continue
                    if since is not None and execution.created_at < since:
                        older = True
                        break
                    matches.append(execution)
                if older or not found.has_next:
                    break
                page += 1
        start = query.offset
        return Page(
            items=matches[start : start + query.page_size],
            total=len(matches),
            page=query.page,
            page_size=query.page_size,
        )
