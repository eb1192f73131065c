"""Mappers of users, agents and workflows: entity -> named parameters, row tuple -> entity."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from turbocat_adapters.sqlite.codec import (
    js,
    parse_js,
    parse_ts,
    parse_ts_or_none,
    parse_uid,
    ts,
    ts_or_none,
    uid,
)
from turbocat_core.domain.common import (
    UserId,
)
from turbocat_core.domain.user import User, UserRole, canonical_email

# A ``*_COLUMNS`` tuple is the order in which the repositories select a row; a mapper's
# parameters are named after the same columns.
Row = Sequence[Any]
Params = dict[str, Any]


# --- users -------------------------------------------------------------------------------

USER_COLUMNS: Final = (
    "id",
    "created_at",
    "updated_at",
    "email",
    "password_hash",
    "full_name",
    "avatar_url",
    "role",
    "is_active",
    "email_verified",
    "preferences",
    "last_login_at",
    "deleted_at",
)


def user_params(user: User) -> Params:
    return {
        "id": uid(user.id),
        "created_at": ts(user.created_at),
        "updated_at": ts(user.updated_at),
        "email": canonical_email(user.email),
        "password_hash": user.password_hash,
        "full_name": user.full_name,
        "avatar_url": user.avatar_url,
        "role": user.role,
        "is_active": user.is_active,
        "email_verified": user.email_verified,
        "preferences": js(user.preferences, "preferences"),
        "last_login_at": ts_or_none(user.last_login_at),
        "deleted_at": ts_or_none(user.deleted_at),
    }


def user_from_row(row: Row) -> User:
    (
        id_,
        created_at,
        updated_at,
        email,
        password_hash,
        full_name,
        avatar_url,
        role,
        is_active,
        email_verified,
        preferences,
        last_login_at,
        deleted_at,
    ) = row
    return User(
        id=UserId(parse_uid(id_)),
        created_at=parse_ts(created_at),
        updated_at=parse_ts(updated_at),
        email=email,
        password_hash=password_hash,
        full_name=full_name,
        avatar_url=avatar_url,
        role=UserRole(role),
        is_active=bool(is_active),
        email_verified=bool(email_verified),
        preferences=parse_js(preferences),
        last_login_at=parse_ts_or_none(last_login_at),
        deleted_at=parse_ts_or_none(deleted_at),
    )
