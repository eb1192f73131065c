"""The SQL unit of work: its repositories over one connection, and its life cycle."""

from __future__ import annotations

import contextlib
from typing import Protocol, Self

from turbocat_adapters.sql.accounts import ApiKeyRepository, AuditLogRepository, UserRepository
from turbocat_adapters.sql.analytics import AnalyticsRepository
from turbocat_adapters.sql.catalog import AgentRepository, WorkflowRepository
from turbocat_adapters.sql.connection import Connection
from turbocat_adapters.sql.publishing import DeploymentRepository, TemplateRepository
from turbocat_adapters.sql.runs import (
    ExecutionLogRepository,
    ExecutionRepository,
    StepRepository,
    StepRunRepository,
)
from turbocat_core import ports
from turbocat_core.errors import TurbocatError


class Transactional(Protocol):
    """What a driver's transaction gives the unit of work (``RuntimeError`` from each but
    ``open`` outside ``async with``)."""

    async def open(self) -> None:
        """Take what the unit of work runs on (``RuntimeError`` if it is open already)."""
        ...

    async def close(self) -> None:
        """Undo what was not committed and give back what ``open`` took."""
        ...

    async def commit(self) -> None: ...

    async def rollback(self) -> None: ...

    def deferred(self) -> contextlib.AbstractAsyncContextManager[None]: ...


class Repositories:
    """The unit of work's repositories; ``connection`` is what they run on (for the
    dialect's unit of work, and for stores that run one statement per call)."""

    def __init__(self, connection: Connection) -> None:
        # Typed as the ports: protocol attributes are settable, hence compared invariantly.
        self.connection = connection
        self.agents: ports.AgentRepository = AgentRepository(connection)
        self.workflows: ports.WorkflowRepository = WorkflowRepository(connection)
        self.steps: ports.StepRepository = StepRepository(connection)
        self.executions: ports.ExecutionRepository = ExecutionRepository(connection)
        self.step_runs: ports.StepRunRepository = StepRunRepository(connection)
        self.logs: ports.ExecutionLogRepository = ExecutionLogRepository(connection)
        self.analytics: ports.AnalyticsRepository = AnalyticsRepository(connection)
        self.users: ports.UserRepository = UserRepository(connection)
        self.api_keys: ports.ApiKeyRepository = ApiKeyRepository(connection)
        self.audit_logs: ports.AuditLogRepository = AuditLogRepository(connection)
        self.templates: ports.TemplateRepository = TemplateRepository(connection)
        self.deployments: ports.DeploymentRepository = DeploymentRepository(connection)


class SqlUnitOfWork(Repositories):
    """The port's unit of work (its contract: ``ports.RunUnitOfWork``) over the driver's
    transaction; a failure to undo on the way out is raised unless an error already is."""

    __slots__ = ()

    @property
    def _transaction(self) -> Transactional:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self._transaction.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        try:
            await self._transaction.close()
        except TurbocatError:
            if exc_info[1] is None:
                raise

    async def commit(self) -> None:
        await self._transaction.commit()

    async def rollback(self) -> None:
        await self._transaction.rollback()

    def deferred(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Writes whose result nobody reads go to the database together (see the driver's
        transaction: ``sqlite.transaction``, ``postgres.session``)."""
        return self._transaction.deferred()
