"""Users, API keys and audit entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from turbocat_adapters.sql.listing import Listing
from turbocat_adapters.sql.rows import Rows
from turbocat_adapters.sql.schema import API_KEYS, AUDIT_LOGS, USERS
from turbocat_core.domain.api_key import API_KEY_QUERY, ApiKey
from turbocat_core.domain.audit import AUDIT_QUERY, AuditLog
from turbocat_core.domain.common import ApiKeyId, AuditLogId, ListQuery, Page, UserId
from turbocat_core.domain.user import USER_QUERY, User, canonical_email

USER_BY_EMAIL: Final = USERS.select("email = :email AND deleted_at IS NULL")
API_KEY_BY_HASH: Final = API_KEYS.select("key_hash = :key_hash AND deleted_at IS NULL")
RECORD_API_KEY_USE: Final = (
    "UPDATE api_keys SET usage_count = usage_count + 1, last_used_at = :at "
    "WHERE id = :id AND deleted_at IS NULL"
)


class UserRepository(Rows[User, UserId]):
    __slots__ = ()
    listing = Listing(USERS, USER_QUERY, owner="id")

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(USER_BY_EMAIL, {"email": canonical_email(email)})


class ApiKeyRepository(Rows[ApiKey, ApiKeyId]):
    __slots__ = ()
    listing = Listing(API_KEYS, API_KEY_QUERY)

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self._one(API_KEY_BY_HASH, {"key_hash": key_hash})

    async def record_use(self, key_id: ApiKeyId, at: datetime) -> None:
        params = self._key(key_id) | {"at": self._conn.dialect.bind("time", at)}
        await self._conn.change(RECORD_API_KEY_USE, params)


class AuditLogRepository(Rows[AuditLog, AuditLogId]):
    """Audit entries: appended (a taken id is ``Conflict``) and listed, never changed."""

    __slots__ = ()
    listing = Listing(AUDIT_LOGS, AUDIT_QUERY)

    async def append(self, entry: AuditLog) -> None:
        await self.add(entry)

    async def list(
        self,
        query: ListQuery,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Page[AuditLog]:
        """A page of entries, of those created in ``[created_from, created_to)`` if given."""
        bind = self._conn.dialect.bind
        extra: list[str] = []
        params: dict[str, Any] = {}
        if created_from is not None:
            extra.append("created_at >= :created_from")
            params["created_from"] = bind("time", created_from)
        if created_to is not None:
            extra.append("created_at < :created_to")
            params["created_to"] = bind("time", created_to)
        return await self._page(query, extra, params)
