"""``GET /audit-logs`` (ADMIN): who did what to which resource, newest first."""

# No ``from __future__ import annotations``: Litestar reads the handler signatures.

from typing import Annotated
from uuid import UUID

from litestar import Router, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter

from turbocat_core.domain.access import Actor
from turbocat_core.domain.audit import AUDIT_QUERY, AuditLog
from turbocat_core.usecases.analytics import ListAuditLogs
from turbocat_http.analytics.params import From, To, time_range
from turbocat_http.auth.access import scoped
from turbocat_http.auth.security import ACTOR
from turbocat_http.dependencies import provide
from turbocat_http.envelope import ListParams, list_query, paged
from turbocat_http.openapi import error_responses
from turbocat_http.schemas import PageEnvelope

SCOPE = "analytics"
"""API keys read the audit log with ``analytics:read`` (and an ADMIN owner)."""


@get("/", **scoped(SCOPE, "read"), responses=error_responses(403))
async def list_audit_logs(
    actor: NamedDependency[Actor],
    listing: NamedDependency[ListParams],
    list_audit_logs: NamedDependency[ListAuditLogs],
    user_id: Annotated[
        UUID | None, QueryParameter(name="userId", description="Entries of this user.")
    ] = None,
    action: Annotated[
        str | None, QueryParameter(max_length=255, description="e.g. auth.login")
    ] = None,
    resource_type: Annotated[
        str | None, QueryParameter(name="resourceType", max_length=255, description="e.g. user")
    ] = None,
    resource_id: Annotated[str | None, QueryParameter(name="resourceId", max_length=255)] = None,
    start: From = None,
    end: To = None,
) -> PageEnvelope[AuditLog]:
    """Audit entries (ADMIN only), filtered, newest first by default; sortable by
    ``createdAt`` or ``action``; ``search`` looks in the action."""
    since, until = time_range(start, end)
    query = list_query(
        listing,
        AUDIT_QUERY,
        filters={
            "user_id": user_id,
            "action": action,
            "resource_type": resource_type,
            "resource_id": resource_id,
        },
    )
    return paged(await list_audit_logs(actor, query, start=since, end=until))


router = Router(
    "/audit-logs",
    route_handlers=[list_audit_logs],
    dependencies={"actor": ACTOR, **provide("list_audit_logs")},
    tags=["audit"],
)
