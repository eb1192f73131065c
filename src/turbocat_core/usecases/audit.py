"""Audit entries: one helper every use case records with (never with secrets in it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.common import AuditLogId, JsonObject, UserId, utc_text
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.run_store import RunUnitOfWork

SECRET_FIELDS = frozenset(
    {
        "password",
        "password_hash",
        "environment_variables",
        "key_hash",
        "refresh_hash",
        "webhook_secret",
        "token",
    }
)
MASK = "********"


def changed_fields(before: Any, after: Any, fields: list[str]) -> JsonObject:
    """``{field: {"from": old, "to": new}}`` for the fields that differ, each named as the
    API names it (camelCase: ``isPublic``); secrets masked."""
    changes: JsonObject = {}
    for name in fields:
        old, new = getattr(before, name, None), getattr(after, name, None)
        if old != new:
            masked = name in SECRET_FIELDS
            changes[camel(name)] = {
                "from": MASK if masked else _plain(old),
                "to": MASK if masked else _plain(new),
            }
    return changes


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)


def _plain(value: Any) -> Any:
    """JSON-friendly: enums by value, ids and times as text, tuples as lists."""
    if isinstance(value, datetime):
        return utc_text(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    return getattr(value, "value", value)


async def audit(
    uow: RunUnitOfWork,
    clock: Clock,
    ids: IdGenerator,
    action: str,
    *,
    user_id: UUID | None,
    resource_type: str,
    resource_id: object = None,
    changes: JsonObject | None = None,
    metadata: JsonObject | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> None:
    """Add an audit entry to the unit of work (committed with the change it records)."""
    now = clock.now()
    await uow.audit_logs.append(
        AuditLog(
            id=AuditLogId(ids.new_id()),
            created_at=now,
            updated_at=now,
            user_id=UserId(user_id) if user_id is not None else None,
            action=action,
            resource_type=resource_type,
            resource_id=str(resource_id) if resource_id is not None else None,
            changes=changes or {},
            metadata=metadata or {},
            ip_address=ip_address,
            user_agent=user_agent[:512] if user_agent else None,
        )
    )
