"""Repositories of the aggregates stored as whole rows: add, get, update and list."""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from turbocat_adapters.memory.copying import copier_for, set_fields
from turbocat_adapters.memory.querying import select
from turbocat_adapters.memory.transaction import (
    Delta,
    Increment,
    Patch,
    Put,
    Transaction,
    is_live,
)
from turbocat_core.domain.agent import AGENT_QUERY, Agent, add_runs
from turbocat_core.domain.api_key import API_KEY_QUERY, ApiKey
from turbocat_core.domain.audit import AUDIT_QUERY, AuditLog
from turbocat_core.domain.common import (
    AgentId,
    ApiKeyId,
    DeploymentId,
    ListQuery,
    Page,
    QuerySpec,
    TemplateId,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.deployment import DEPLOYMENT_QUERY, Deployment
from turbocat_core.domain.template import TEMPLATE_QUERY, Template
from turbocat_core.domain.user import USER_QUERY, User, canonical_email
from turbocat_core.domain.workflow import WORKFLOW_QUERY, Workflow
from turbocat_core.errors import AlreadyExists, NotFound

E = TypeVar("E")
K = TypeVar("K", bound=UUID)


class EntityRepository(Generic[E, K]):
    """Rows of one aggregate in one transaction: copies in, copies out, soft delete honoured."""

    __slots__ = ("_tx",)

    table: str
    entity: type[Any]
    spec: QuerySpec
    _copy: Callable[[Any], Any]

    def __init_subclass__(cls) -> None:
        super().__init_subclass__()
        if "entity" in cls.__dict__:  # built once per class, not per unit of work
            cls._copy = staticmethod(copier_for(cls.entity))

    def __init__(self, tx: Transaction) -> None:
        self._tx = tx

    def _prepare(self, row: E) -> E:
        """Adjust a fresh private copy before it is stored (e.g. normalise a field)."""
        return row

    def _replacement(self, entity: E, current: E) -> E:
        """The private copy of ``entity`` that an update stores in place of ``current``."""
        return self._prepare(self._copy(entity))

    def _label(self) -> str:
        return self._tx.store.tables[self.table].spec.label

    async def add(self, entity: E) -> None:
        tx = self._tx
        tx.require()
        row = self._prepare(self._copy(entity))
        row_id: UUID = row.id  # type: ignore[attr-defined]
        if tx.row(self.table, row_id.int) is not None:
            raise AlreadyExists(f"a {self._label()} with id {row_id} already exists")
        tx.check_unique(self.table, row)
        tx.write(self.table, row_id.int, Put(row, insert=True))

    async def get(self, entity_id: K) -> E | None:
        tx = self._tx
        tx.require()
        row = tx.row(self.table, entity_id.int)
        if row is None or not is_live(row):
            return None
        copied: E = self._copy(row)
        return copied

    async def update(self, entity: E) -> None:
        tx = self._tx
        tx.require()
        row_id: UUID = entity.id  # type: ignore[attr-defined]
        current = tx.row(self.table, row_id.int)
        if current is None or not is_live(current):
            raise NotFound(self._label(), row_id)
        row = self._replacement(entity, current)
        tx.check_unique(self.table, row)
        tx.write(self.table, row_id.int, Put(row, insert=False))

    async def list(self, query: ListQuery) -> Page[E]:
        tx = self._tx
        tx.require()
        live = (row for row in tx.rows(self.table) if is_live(row))
        return select(live, query, self.spec, self._copy)

    def _find(self, index: str, key: Any) -> E | None:
        tx = self._tx
        tx.require()
        owner = tx.unique_owner(self.table, index, key)
        if owner is None:
            return None
        row = tx.row(self.table, owner)
        if row is None or not is_live(row):
            return None
        copied: E = self._copy(row)
        return copied

    def _tree(self, root_id: UUID) -> builtins.list[E]:
        """The live root of a version tree and its live descendants, newest version first."""
        tx = self._tx
        tx.require()
        rows = [row for row in tx.grouped(self.table, "parent_id", root_id.int) if is_live(row)]
        root = tx.row(self.table, root_id.int)
        if root is not None and is_live(root):
            rows.append(root)
        rows.sort(key=lambda row: row.id)
        rows.sort(key=lambda row: row.version, reverse=True)
        return [self._copy(row) for row in rows]


class MemoryUserRepository(EntityRepository[User, UserId]):
    __slots__ = ()
    table = "users"
    entity = User
    spec = USER_QUERY

    def _prepare(self, row: User) -> User:
        email = canonical_email(row.email)
        return row if email == row.email else set_fields(row, email=email)

    async def get_by_email(self, email: str) -> User | None:
        return self._find("email", canonical_email(email))


class MemoryAgentRepository(EntityRepository[Agent, AgentId]):
    __slots__ = ()
    table = "agents"
    entity = Agent
    spec = AGENT_QUERY

    async def versions(self, root_id: AgentId) -> list[Agent]:
        return self._tree(root_id)

    async def record_runs(
        self, agent_id: AgentId, *, succeeded: int, failed: int, total_ms: float, now: datetime
    ) -> None:
        """Counted at commit on the committed row, so concurrent transactions both count.

        The same arithmetic as ``Agent.with_runs`` (``add_runs``), applied to the stored row
        in place: this runs after every agent step, and a full copy of the row costs more.
        """
        tx = self._tx
        if not tx.active:
            tx.require()
        if not succeeded and not failed:
            return

        def add(agent: Agent) -> dict[str, Any]:
            total, average = add_runs(
                agent.total_executions, agent.avg_execution_time_ms, succeeded + failed, total_ms
            )
            return {
                "total_executions": total,
                "successful_executions": agent.successful_executions + succeeded,
                "failed_executions": agent.failed_executions + failed,
                "avg_execution_time_ms": average,
                "updated_at": now,
            }

        key = agent_id.int
        tx.write(self.table, key, Patch(key, add))


class MemoryWorkflowRepository(EntityRepository[Workflow, WorkflowId]):
    __slots__ = ()
    table = "workflows"
    entity = Workflow
    spec = WORKFLOW_QUERY

    async def versions(self, root_id: WorkflowId) -> list[Workflow]:
        return self._tree(root_id)

    async def record_run(
        self, workflow_id: WorkflowId, *, succeeded: bool, duration_ms: float, now: datetime
    ) -> None:
        self._tx.require()

        def add_run(workflow: Workflow) -> Workflow:
            return workflow.with_run(succeeded, duration_ms, now)

        self._tx.write(self.table, workflow_id.int, Delta(workflow_id.int, add_run))


class MemoryTemplateRepository(EntityRepository[Template, TemplateId]):
    __slots__ = ()
    table = "templates"
    entity = Template
    spec = TEMPLATE_QUERY

    async def increment_usage(self, template_id: TemplateId) -> None:
        self._tx.require()
        key = template_id.int
        self._tx.write(self.table, key, Increment(key, {"usage_count": 1}))

    async def categories(self) -> list[tuple[str, int]]:
        self._tx.require()
        counts: dict[str, int] = {}
        for row in self._tx.rows(self.table):
            if row.is_public and is_live(row):
                counts[row.category] = counts.get(row.category, 0) + 1
        return sorted(counts.items())


class MemoryDeploymentRepository(EntityRepository[Deployment, DeploymentId]):
    __slots__ = ()
    table = "deployments"
    entity = Deployment
    spec = DEPLOYMENT_QUERY


class MemoryApiKeyRepository(EntityRepository[ApiKey, ApiKeyId]):
    __slots__ = ()
    table = "api_keys"
    entity = ApiKey
    spec = API_KEY_QUERY

    async def get_by_hash(self, key_hash: str) -> ApiKey | None:
        return self._find("key_hash", key_hash)

    async def record_use(self, key_id: ApiKeyId, at: datetime) -> None:
        self._tx.require()
        key = key_id.int

        def used(row: ApiKey) -> dict[str, Any]:
            return {"usage_count": row.usage_count + 1, "last_used_at": at}

        self._tx.write(self.table, key, Patch(key, used))


class MemoryAuditLogRepository:
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
        return await self._rows.list_created(query, created_from, created_to)


class _AuditRows(EntityRepository[AuditLog, UUID]):
    __slots__ = ()
    table = "audit_logs"
    entity = AuditLog
    spec = AUDIT_QUERY

    async def list_created(
        self, query: ListQuery, start: datetime | None, end: datetime | None
    ) -> Page[AuditLog]:
        """``list``, of the entries created in ``[start, end)`` (either end open)."""
        tx = self._tx
        tx.require()
        rows = (
            row
            for row in tx.rows(self.table)
            if (start is None or row.created_at >= start) and (end is None or row.created_at < end)
        )
        return select(rows, query, self.spec, self._copy)
