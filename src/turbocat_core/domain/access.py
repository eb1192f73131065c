"""Who is calling and what they may touch: roles, ownership, visibility and API-key scopes."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from turbocat_core.domain.api_key import scope_allows
from turbocat_core.domain.common import ApiKeyId, ListQuery, UserId
from turbocat_core.domain.user import UserRole
from turbocat_core.errors import NotFound, PermissionDenied


@dataclass(frozen=True, slots=True, kw_only=True)
class Actor:
    """The authenticated caller. ``scopes`` is ``None`` for a session (everything allowed)."""

    user_id: UserId
    role: UserRole
    scopes: frozenset[str] | None = None
    api_key_id: ApiKeyId | None = None
    session_id: UUID | None = None
    """The login session of a token-authenticated caller (``None`` for API keys)."""

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN


def require_role(actor: Actor, *roles: UserRole) -> None:
    """Raise ``PermissionDenied`` unless the actor has one of ``roles``."""
    if actor.role not in roles:
        raise PermissionDenied("this action needs the role " + " or ".join(roles))


def require_scope(actor: Actor, resource: str, action: str) -> None:
    """Raise ``PermissionDenied`` when an API key lacks ``<resource>:<action>``."""
    if actor.scopes is not None and not scope_allows(actor.scopes, resource, action):
        raise PermissionDenied(f"this API key lacks the scope {resource}:{action}")


def can_see(actor: Actor, owner_id: UUID | None, *, is_public: bool = False) -> bool:
    """Owners and ADMINs see a resource; others only when it is public."""
    return actor.is_admin or is_public or owner_id == actor.user_id


def require_visible(
    actor: Actor,
    resource: str,
    resource_id: UUID,
    owner_id: UUID | None,
    *,
    is_public: bool = False,
) -> None:
    """Raise ``NotFound`` for another user's private resource: its existence is never confirmed."""
    if not can_see(actor, owner_id, is_public=is_public):
        raise NotFound(resource, resource_id)


def require_owner(
    actor: Actor,
    resource: str,
    resource_id: UUID,
    owner_id: UUID | None,
    *,
    is_public: bool = False,
    action: str = "change",
) -> None:
    """Writes (and runs) need ownership (or ADMIN): invisible is ``NotFound``,
    visible-but-foreign is 403 naming ``action``."""
    require_visible(actor, resource, resource_id, owner_id, is_public=is_public)
    if not actor.is_admin and owner_id != actor.user_id:
        raise PermissionDenied(f"only the owner may {action} this {resource}")


def require_own_listing(
    actor: Actor, query: ListQuery, what: str, user_id: UUID | None = None
) -> None:
    """A USER lists only their own resources: filtering on another user's id (``user_id``,
    or the query's ``user_id`` filter) is ``PermissionDenied``, never a silent empty page."""
    wanted = {user_id, query.filters.get("user_id")} - {None}
    if not actor.is_admin and any(str(owner) != str(actor.user_id) for owner in wanted):
        raise PermissionDenied(f"only an ADMIN lists other users' {what}")
