"""Repositories of the aggregates stored as whole rows: the catalog, accounts and audit."""

from __future__ import annotations

import sqlite3
from datetime import datetime
from typing import Final

from turbocat_adapters.sqlite.codec import ts
from turbocat_adapters.sqlite.mapping import (
    USER_COLUMNS,
    user_from_row,
    user_params,
)
from turbocat_adapters.sqlite.mapping_resources import (
    API_KEY_COLUMNS,
    AUDIT_COLUMNS,
    DEPLOYMENT_COLUMNS,
    TEMPLATE_COLUMNS,
    api_key_from_row,
    api_key_params,
    audit_from_row,
    audit_params,
    deployment_from_row,
    deployment_params,
    template_from_row,
    template_params,
)
from turbocat_adapters.sqlite.querying import Listing, plan, select_sql
from turbocat_adapters.sqlite.rows import Rows, Table
from turbocat_adapters.sqlite.transaction import Transaction
from turbocat_core.domain.api_key import API_KEY_QUERY, ApiKey
from turbocat_core.domain.audit import AUDIT_QUERY, AuditLog
from turbocat_core.domain.common import (
    ApiKeyId,
    AuditLogId,
    DeploymentId,
    ListQuery,
    Page,
    TemplateId,
    UserId,
)
from turbocat_core.domain.deployment import DEPLOYMENT_QUERY, Deployment
from turbocat_core.domain.template import TEMPLATE_QUERY, Template
from turbocat_core.domain.user import USER_QUERY, User, canonical_email

USERS: Final = Table.of(
    "user",
    Listing(
        "users",
        USER_COLUMNS,
        USER_QUERY,
        {"role": "text", "is_active": "bool", "email_verified": "bool"},
        owner="id",
    ),
    user_params,
    user_from_row,
)
TEMPLATES: Final = Table.of(
    "template",
    Listing(
        "templates",
        TEMPLATE_COLUMNS,
        TEMPLATE_QUERY,
        {
            "category": "text",
            "type": "text",
            "is_official": "bool",
            "is_public": "bool",
            "user_id": "uuid",
        },
        public=True,
    ),
    template_params,
    template_from_row,
)
DEPLOYMENTS: Final = Table.of(
    "deployment",
    Listing(
        "deployments",
        DEPLOYMENT_COLUMNS,
        DEPLOYMENT_QUERY,
        {
            "status": "text",
            "environment": "text",
            "workflow_id": "uuid",
            "agent_id": "uuid",
            "health_status": "text",
            "user_id": "uuid",
        },
    ),
    deployment_params,
    deployment_from_row,
)
API_KEYS: Final = Table.of(
    "API key",
    Listing("api_keys", API_KEY_COLUMNS, API_KEY_QUERY, {"is_active": "bool"}),
    api_key_params,
    api_key_from_row,
)
AUDIT_LOGS: Final = Table.of(
    "audit entry",
    Listing(
        "audit_logs",
        AUDIT_COLUMNS,
        AUDIT_QUERY,
        {"user_id": "uuid", "action": "text", "resource_type": "text", "resource_id": "text"},
        soft=False,
    ),
    audit_params,
    audit_from_row,
)

USER_BY_EMAIL: Final = select_sql("users", USER_COLUMNS, "email = :email AND deleted_at IS NULL")
API_KEY_BY_HASH: Final = select_sql(
    "api_keys", API_KEY_COLUMNS, "key_hash = :key_hash AND deleted_at IS NULL"
)
INCREMENT_TEMPLATE_USAGE: Final = (
    "UPDATE templates SET usage_count = usage_count + 1 WHERE id = :id AND deleted_at IS NULL"
)
RECORD_API_KEY_USE: Final = (
    "UPDATE api_keys SET usage_count = usage_count + 1, last_used_at = :at "
    "WHERE id = :id AND deleted_at IS NULL"
)
TEMPLATE_CATEGORIES: Final = """
SELECT category, count(*) FROM templates
WHERE is_public = 1 AND deleted_at IS NULL
GROUP BY category ORDER BY category
"""


class SqliteUserRepository(Rows[User, UserId]):
    __slots__ = ()
    table = USERS

    async def get_by_email(self, email: str) -> User | None:
        return await self._one(USER_BY_EMAIL, {"email": canonical_email(email)})


class SqliteTemplateRepository(Rows[Template, TemplateId]):
    __slots__ = ()
    table = TEMPLATES

    async def increment_usage(self, template_id: TemplateId) -> None:
        await self._change(INCREMENT_TEMPLATE_USAGE, {"id": str(template_id)})

    async def categories(self) -> list[tuple[str, int]]:
        tx = self._tx
        tx.require()

        def work(connection: sqlite3.Connection) -> list[tuple[str, int]]:
            return [(name, count) for name, count in connection.execute(TEMPLATE_CATEGORIES)]

        return await tx.read(work)


class SqliteDeploymentRepository(Rows[Deployment, DeploymentId]):
    __slots__ = ()
    table = DEPLOYMENTS


class SqliteApiKeyRepository(Rows[ApiKey, ApiKeyId]):
    __slots__ = ()
    table = API_KEYS

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        return await self._one(API_KEY_BY_HASH, {"key_hash": key_hash})

    async def record_use(self, key_id: ApiKeyId, at: datetime) -> None:
        await self._change(RECORD_API_KEY_USE, {"id": str(key_id), "at": ts(at)})


class SqliteAuditLogRepository:
    """Audit entries: append-only."""

    __slots__ = ("_rows",)

    def __init__(self, tx: Transaction) -> None:
        self._rows = _AuditRows(tx)

    async def append(self, entry: AuditLog) -> None:
        await self._rows.add(entry)

    async def list(
        self,
        query: ListQuery,
        *,
        created_from: datetime | None = None,
        created_to: datetime | None = None,
    ) -> Page[AuditLog]:
        if created_from is None and created_to is None:
            return await self._rows.list(query)
        return await self._rows.list_created(query, created_from, created_to)


class _AuditRows(Rows[AuditLog, AuditLogId]):
    __slots__ = ()
    table = AUDIT_LOGS

    async def list_created(
        self, query: ListQuery, start: datetime | None, end: datetime | None
    ) -> Page[AuditLog]:
        """``list``, of the entries created in ``[start, end)`` (either end open)."""
        tx = self._tx
        tx.require()
        extra, params = [], {}
        if start is not None:
            extra.append("created_at >= :created_from")
            params["created_from"] = ts(start)
        if end is not None:
            extra.append("created_at < :created_to")
            params["created_to"] = ts(end)
        page = plan(self.table.listing, query, extra=extra, extra_params=params)
        from_row = self.table.from_row
        offset = page.params["offset"]

        def work(connection: sqlite3.Connection) -> tuple[int, list[AuditLog]]:
            total: int = connection.execute(page.count, page.params).fetchone()[0]
            if total <= offset:
                return total, []
            rows = connection.execute(page.rows, page.params).fetchall()
            return total, [from_row(row) for row in rows]

        total, items = await tx.read(work, snapshot=True)
        return Page(items=items, total=total, page=query.page, page_size=query.page_size)
