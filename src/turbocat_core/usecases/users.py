"""The caller's own account, and other accounts for ADMINs."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlsplit

from turbocat_core.domain.access import Actor, require_role
from turbocat_core.domain.common import JsonObject, UserId
from turbocat_core.domain.user import User, UserRole, check_password_policy
from turbocat_core.errors import NotFound, RateLimited, Unauthenticated, ValidationFailed
from turbocat_core.usecases.accounts import (
    FAILED_LOGINS_PER_ACCOUNT,
    AccountPorts,
    Client,
    digest,
    record,
)

MAX_PREFERENCES_BYTES = 16 * 1024


async def _user(ports: AccountPorts, user_id: UserId) -> User:
    async with ports.uow() as uow:
        user = await uow.users.get(user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


@dataclass(frozen=True, slots=True)
class GetMe:
    ports: AccountPorts

    async def __call__(self, actor: Actor) -> User:
        return await _user(self.ports, actor.user_id)


@dataclass(frozen=True, slots=True)
class GetUser:
    ports: AccountPorts

    async def __call__(self, actor: Actor, user_id: UserId) -> User:
        """Any account, for ADMINs (``PermissionDenied`` otherwise)."""
        require_role(actor, UserRole.ADMIN)
        return await _user(self.ports, user_id)


@dataclass(frozen=True, slots=True)
class UpdateMe:
    """Change the caller's name, avatar, preferences or (with the current one) password."""

    ports: AccountPorts

    async def __call__(self, actor: Actor, changes: dict[str, Any], client: Client) -> User:
        """``changes`` holds only what the caller sent: ``full_name``, ``avatar_url``,
        ``preferences``, ``password`` with ``current_password``. A new password ends every
        other session of the account (the caller's stays) and its pending reset links."""
        ports = self.ports
        user = await _user(ports, actor.user_id)
        updates: dict[str, Any] = {}
        if "full_name" in changes:
            name = changes["full_name"]
            if name is not None and (not isinstance(name, str) or len(name.strip()) > 255):
                raise ValidationFailed.field("full_name", "must be text of at most 255 characters")
            updates["full_name"] = name.strip() or None if name else None
        if "avatar_url" in changes:
            updates["avatar_url"] = _avatar(changes["avatar_url"])
        if "preferences" in changes:
            updates["preferences"] = _preferences(changes["preferences"])
        new_password = changes.get("password")
        if new_password is not None:
            await self._check_current(user, changes.get("current_password"))
            check_password_policy(new_password)
            updates["password_hash"] = await ports.hasher.hash(new_password)
        if not updates:
            return user
        now = ports.clock.now()
        updated = replace(user, updated_at=now, **updates)
        async with ports.uow() as uow:
            await uow.users.update(updated)
            changed = sorted(key for key in updates if key != "password_hash")
            await record(
                uow,
                ports,
                "user.updated",
                user_id=user.id,
                resource_type="user",
                resource_id=user.id,
                client=client,
                metadata={"fields": changed, "passwordChanged": new_password is not None},
            )
            await uow.commit()
        if new_password is not None:  # the caller stays in; every other session ends
            await ports.sessions.revoke_all(user.id, keep=actor.session_id)
            await ports.reset_tokens.forget(str(user.id))
        return updated

    async def _check_current(self, user: User, current: Any) -> None:
        """The current password, under the same failure budget as logging in (a stolen
        access token must not become a way to guess the password)."""
        ports = self.ports
        key = f"login:account:{digest(user.email)}"
        decision = await ports.limiter.peek(key, *FAILED_LOGINS_PER_ACCOUNT)
        if not decision.allowed:
            raise RateLimited(decision.reset_after, "too many wrong passwords; try again later")
        if not isinstance(current, str) or not await ports.hasher.verify(
            current, user.password_hash
        ):
            await ports.limiter.hit(key, *FAILED_LOGINS_PER_ACCOUNT)
            raise Unauthenticated("the current password is not right", code="INVALID_CREDENTIALS")


def _avatar(value: Any) -> str | None:
    if value is None:
        return None
    parts = urlsplit(value) if isinstance(value, str) else None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or len(value) > 2048
    ):
        raise ValidationFailed.field(
            "avatar_url", "must be an http(s) URL of at most 2048 characters"
        )
    return str(value)


def _preferences(value: Any) -> JsonObject:
    if not isinstance(value, dict):
        raise ValidationFailed.field("preferences", "must be an object")
    if len(json.dumps(value)) > MAX_PREFERENCES_BYTES:
        raise ValidationFailed.field(
            "preferences", f"must be at most {MAX_PREFERENCES_BYTES} bytes"
        )
    return value
