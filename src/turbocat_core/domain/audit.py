"""Audit entries: who did what to which resource, from where."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Final

from turbocat_core.domain.common import AuditLogId, Entity, JsonObject, QuerySpec, UserId


class AuditAction(StrEnum):
    """The actions recorded so far; ``action`` is free text so later ones need no migration."""

    REGISTER = "auth.register"
    LOGIN = "auth.login"
    LOGIN_FAILED = "auth.login_failed"
    LOGOUT = "auth.logout"
    PASSWORD_RESET_REQUESTED = "auth.password_reset_requested"
    PASSWORD_RESET = "auth.password_reset"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"


@dataclass(frozen=True, slots=True, kw_only=True)
class AuditLog(Entity):
    """One audited action; ``changes`` and ``metadata`` never hold secrets."""

    id: AuditLogId
    user_id: UserId | None
    action: str
    resource_type: str
    resource_id: str | None = None
    changes: JsonObject = field(default_factory=dict)
    metadata: JsonObject = field(default_factory=dict)
    ip_address: str | None = None
    user_agent: str | None = None


AUDIT_QUERY: Final = QuerySpec(
    sortable=frozenset({"created_at", "action"}),
    filterable=frozenset({"user_id", "action", "resource_type", "resource_id"}),
    searchable=("action",),
    has_tags=False,
)
