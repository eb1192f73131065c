"""Users, API keys and audit entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from psycopg import sql
from psycopg.rows import DictRow

from turbocat_adapters.postgres.mapping import jsonb, strings
from turbocat_adapters.postgres.querying import Listing
from turbocat_adapters.postgres.repositories.base import EntityRepository, list_page
from turbocat_adapters.postgres.session import Session
from turbocat_core.domain.api_key import API_KEY_QUERY, ApiKey
from turbocat_core.domain.audit import AUDIT_QUERY, AuditLog
from turbocat_core.domain.common import ApiKeyId, AuditLogId, ListQuery, Page, UserId
from turbocat_core.domain.user import USER_QUERY, User, UserRole, canonical_email

# --- users --------------------------------------------------------------------------------

INSERT_USER: Final = """
INSERT INTO users (
    id, email, password_hash, full_name, avatar_url, role, is_active, email_verified,
    preferences, last_login_at, deleted_at, created_at, updated_at
) VALUES (
    %(id)s, %(email)s, %(password_hash)s, %(full_name)s, %(avatar_url)s, %(role)s,
    %(is_active)s, %(email_verified)s, %(preferences)s, %(last_login_at)s, %(deleted_at)s,
    %(created_at)s, %(updated_at)s
)"""
GET_USER: Final = "SELECT * FROM users WHERE id = %(id)s AND deleted_at IS NULL"
GET_USER_BY_EMAIL: Final = "SELECT * FROM users WHERE email = %(email)s AND deleted_at IS NULL"
UPDATE_USER: Final = """
UPDATE users SET
    email = %(email)s, password_hash = %(password_hash)s, full_name = %(full_name)s,
    avatar_url = %(avatar_url)s, role = %(role)s, is_active = %(is_active)s,
    email_verified = %(email_verified)s, preferences = %(preferences)s,
    last_login_at = %(last_login_at)s, deleted_at = %(deleted_at)s,
    created_at = %(created_at)s, updated_at = %(updated_at)s
WHERE id = %(id)s AND deleted_at IS NULL"""


def user_params(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": canonical_email(user.email),
        "password_hash": user.password_hash,
        "full_name": user.full_name,
        "avatar_url": user.avatar_url,
        "role": user.role.value,
        "is_active": user.is_active,
        "email_verified": user.email_verified,
        "preferences": jsonb(user.preferences),
        "last_login_at": user.last_login_at,
        "deleted_at": user.deleted_at,
        "created_at": user.created_at,
        "updated_at": user.updated_at,
    }


def user_from_row(row: DictRow) -> User:
    return User(
        id=row["id"],
        email=row["email"],
        password_hash=row["password_hash"],
        full_name=row["full_name"],
        avatar_url=row["avatar_url"],
        role=UserRole(row["role"]),
        is_active=row["is_active"],
        email_verified=row["email_verified"],
        preferences=row["preferences"],
        last_login_at=row["last_login_at"],
        deleted_at=row["deleted_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresUserRepository(EntityRepository[User, UserId]):
    __slots__ = ()
    label = "user"
    listing = Listing(
        "users",
        USER_QUERY,
        text_columns=frozenset({"email", "full_name", "role"}),
    )
    insert_sql = INSERT_USER
    get_sql = GET_USER
    update_sql = UPDATE_USER
    to_params = staticmethod(user_params)
    from_row = staticmethod(user_from_row)

    async def get_by_email(self, email: str) -> User | None:
        row = await self._session.one(GET_USER_BY_EMAIL, {"email": canonical_email(email)})
        return None if row is None else user_from_row(row)


# --- API keys -----------------------------------------------------------------------------

INSERT_API_KEY: Final = """
INSERT INTO api_keys (
    id, user_id, name, key_prefix, key_hash, scopes, rate_limit_per_minute, expires_at,
    last_used_at, usage_count, is_active, deleted_at, created_at, updated_at
) VALUES (
    %(id)s, %(user_id)s, %(name)s, %(key_prefix)s, %(key_hash)s, %(scopes)s,
    %(rate_limit_per_minute)s, %(expires_at)s, %(last_used_at)s, %(usage_count)s,
    %(is_active)s, %(deleted_at)s, %(created_at)s, %(updated_at)s
)"""
GET_API_KEY: Final = "SELECT * FROM api_keys WHERE id = %(id)s AND deleted_at IS NULL"
GET_API_KEY_BY_HASH: Final = (
    "SELECT * FROM api_keys WHERE key_hash = %(key_hash)s AND deleted_at IS NULL"
)
UPDATE_API_KEY: Final = """
UPDATE api_keys SET
    user_id = %(user_id)s, name = %(name)s, key_prefix = %(key_prefix)s,
    key_hash = %(key_hash)s, scopes = %(scopes)s,
    rate_limit_per_minute = %(rate_limit_per_minute)s, expires_at = %(expires_at)s,
    last_used_at = %(last_used_at)s, usage_count = %(usage_count)s,
    is_active = %(is_active)s, deleted_at = %(deleted_at)s,
    created_at = %(created_at)s, updated_at = %(updated_at)s
WHERE id = %(id)s AND deleted_at IS NULL"""


def api_key_params(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "user_id": key.user_id,
        "name": key.name,
        "key_prefix": key.key_prefix,
        "key_hash": key.key_hash,
        "scopes": list(key.scopes),
        "rate_limit_per_minute": key.rate_limit_per_minute,
        "expires_at": key.expires_at,
        "last_used_at": key.last_used_at,
        "usage_count": key.usage_count,
        "is_active": key.is_active,
        "deleted_at": key.deleted_at,
        "created_at": key.created_at,
        "updated_at": key.updated_at,
    }


def api_key_from_row(row: DictRow) -> ApiKey:
    return ApiKey(
        id=row["id"],
        user_id=row["user_id"],
        name=row["name"],
        key_prefix=row["key_prefix"],
        key_hash=row["key_hash"],
        scopes=strings(row["scopes"]),
        rate_limit_per_minute=row["rate_limit_per_minute"],
        expires_at=row["expires_at"],
        last_used_at=row["last_used_at"],
        usage_count=row["usage_count"],
        is_active=row["is_active"],
        deleted_at=row["deleted_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresApiKeyRepository(EntityRepository[ApiKey, ApiKeyId]):
    __slots__ = ()
    label = "API key"
    listing = Listing("api_keys", API_KEY_QUERY)
    insert_sql = INSERT_API_KEY
    get_sql = GET_API_KEY
    update_sql = UPDATE_API_KEY
    to_params = staticmethod(api_key_params)
    from_row = staticmethod(api_key_from_row)

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        row = await self._session.one(GET_API_KEY_BY_HASH, {"key_hash": key_hash})
        return None if row is None else api_key_from_row(row)

    async def record_use(self, key_id: ApiKeyId, at: datetime) -> None:
        await self._session.write(RECORD_API_KEY_USE, {"id": key_id, "at": at})


RECORD_API_KEY_USE: Final = """
UPDATE api_keys SET usage_count = usage_count + 1, last_used_at = %(at)s
WHERE id = %(id)s AND deleted_at IS NULL"""

# --- audit entries ------------------------------------------------------------------------

INSERT_AUDIT: Final = """
INSERT INTO audit_logs (
    id, user_id, action, resource_type, resource_id, changes, metadata, ip_address,
    user_agent, created_at, updated_at
) VALUES (
    %(id)s, %(user_id)s, %(action)s, %(resource_type)s, %(resource_id)s, %(changes)s,
    %(metadata)s, %(ip_address)s, %(user_agent)s, %(created_at)s, %(updated_at)s
)"""
AUDIT_LISTING: Final = Listing(
    "audit_logs",
    AUDIT_QUERY,
    soft_delete=False,
    text_columns=frozenset({"action"}),
)


def audit_params(entry: AuditLog) -> dict[str, Any]:
    return {
        "id": entry.id,
        "user_id": entry.user_id,
        "action": entry.action,
        "resource_type": entry.resource_type,
        "resource_id": entry.resource_id,
        "changes": jsonb(entry.changes),
        "metadata": jsonb(entry.metadata),
        "ip_address": entry.ip_address,
        "user_agent": entry.user_agent,
        "created_at": entry.created_at,
        "updated_at": entry.updated_at,
    }


def audit_from_row(row: DictRow) -> AuditLog:
    return AuditLog(
        id=AuditLogId(row["id"]),
        user_id=row["user_id"],
        action=row["action"],
        resource_type=row["resource_type"],
        resource_id=row["resource_id"],
        changes=row["changes"],
        metadata=row["metadata"],
        ip_address=row["ip_address"],
        user_agent=row["user_agent"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


class PostgresAuditLogRepository:
    """Audit entries: append-only (a taken id is ``Conflict``)."""

    __slots__ = ("_session",)

    def __init__(self, session: Session) -> None:
        self._session = session

    async def append(self, entry: AuditLog) -> None:
        await self._session.write(INSERT_AUDIT, audit_params(entry))

    async def list(
        self,
        query: ListQuery,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Page[AuditLog]:
        extra: list[sql.Composable] = []
        params: dict[str, Any] = {}
        if created_from is not None:
            extra.append(sql.SQL("created_at >= %(created_from)s"))
            params["created_from"] = created_from
        if created_to is not None:
            extra.append(sql.SQL("created_at < %(created_to)s"))
            params["created_to"] = created_to
        return await list_page(
            self._session, AUDIT_LISTING, query, audit_from_row, extra=extra, extra_params=params
        )
