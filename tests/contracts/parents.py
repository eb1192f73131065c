"""Stand-in parents, so the contract suites can give rows made-up owners on every store.

The suites build children with random ``user_id``s, ``workflow_id``s and so on. The SQL
stores enforce foreign keys, so before a write the unit of work below adds, in the same
transaction, a stand-in for each parent that does not exist yet. Stand-ins of soft-deletable
kinds are soft-deleted: they satisfy the foreign key and never show up in any read. The
foreign keys themselves are tested in tests/adapters/test_*_schema.py.
"""

from __future__ import annotations

import contextlib
from typing import Any
from uuid import UUID

from tests.contracts.factories import T0
from turbocat_core import ports
from turbocat_core.domain.agent import Agent, AgentType
from turbocat_core.domain.api_key import ApiKey
from turbocat_core.domain.audit import AuditLog
from turbocat_core.domain.deployment import Deployment
from turbocat_core.domain.execution import Execution, ExecutionLog, StepRun
from turbocat_core.domain.template import Template
from turbocat_core.domain.user import User
from turbocat_core.domain.workflow import Workflow, WorkflowStep
from turbocat_core.errors import Conflict

_WRITES = {"add", "save", "append"}


async def _ensure(uow: ports.UnitOfWork, kind: str, parent_id: UUID | None) -> None:
    if parent_id is None:
        return
    repository = getattr(uow, kind)
    if await repository.get(parent_id) is not None:
        return
    stand_in = await _stand_in(uow, kind, parent_id)
    with contextlib.suppress(Conflict):  # already there (perhaps soft-deleted)
        await repository.add(stand_in)


async def _stand_in(uow: ports.UnitOfWork, kind: str, parent_id: UUID) -> Any:
    common = {"id": parent_id, "created_at": T0, "updated_at": T0}
    if kind == "users":
        return User(
            **common, email=f"stand-in-{parent_id}@example.com", password_hash="x", deleted_at=T0
        )
    owner = UUID(int=parent_id.int ^ 1)  # a stand-in owner of its own, made once
    await _ensure(uow, "users", owner)
    if kind == "agents":
        return Agent(**common, user_id=owner, name="stand-in", type=AgentType.DATA, deleted_at=T0)
    if kind == "workflows":
        return Workflow(**common, user_id=owner, name="stand-in", deleted_at=T0)
    flow = UUID(int=parent_id.int ^ 2)
    await _ensure(uow, "workflows", flow)
    return Execution(**common, workflow_id=flow, user_id=owner)


async def ensure_parents(uow: ports.UnitOfWork, entity: Any) -> None:
    """Stand-ins for every parent ``entity`` refers to that does not exist yet."""
    if isinstance(entity, Agent | Workflow | Template | Deployment | ApiKey | AuditLog):
        await _ensure(uow, "users", entity.user_id)
    if isinstance(entity, Agent):
        await _ensure(uow, "agents", entity.parent_id)
    elif isinstance(entity, Workflow):
        await _ensure(uow, "workflows", entity.parent_id)
    elif isinstance(entity, WorkflowStep):
        await _ensure(uow, "workflows", entity.workflow_id)
        await _ensure(uow, "agents", entity.agent_id)
    elif isinstance(entity, Execution):
        await _ensure(uow, "users", entity.user_id)
        await _ensure(uow, "workflows", entity.workflow_id)
    elif isinstance(entity, StepRun | ExecutionLog):
        await _ensure(uow, "executions", entity.execution_id)
    elif isinstance(entity, Deployment):
        await _ensure(uow, "workflows", entity.workflow_id)
        await _ensure(uow, "agents", entity.agent_id)


class _Repository:
    def __init__(self, uow: ports.UnitOfWork, inner: Any) -> None:
        self._uow, self._inner = uow, inner

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name not in _WRITES:
            return attribute

        async def write(value: Any, *args: Any, **kwargs: Any) -> Any:
            for entity in value if isinstance(value, list | tuple) else (value,):
                await ensure_parents(self._uow, entity)
            return await attribute(value, *args, **kwargs)

        return write


class UnitOfWorkWithParents:
    """Wraps a store's unit of work; its repositories' writes add stand-in parents first."""

    def __init__(self, inner: ports.UnitOfWork) -> None:
        self._inner = inner

    async def __aenter__(self) -> UnitOfWorkWithParents:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self._inner.__aexit__(*exc)

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._inner, name)
        if name in ("commit", "rollback", "deferred"):
            return attribute
        return _Repository(self._inner, attribute)


def with_parents(factory: ports.UnitOfWorkFactory) -> Any:
    """A ``UnitOfWorkFactory`` whose units of work add stand-in parents before each write."""
    return lambda: UnitOfWorkWithParents(factory())
