"""The in-memory unit of work: every repository over one transaction of a ``MemoryStore``."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import Self

from turbocat_adapters.memory.analytics import MemoryAnalyticsRepository
from turbocat_adapters.memory.entities import (
    MemoryAgentRepository,
    MemoryApiKeyRepository,
    MemoryAuditLogRepository,
    MemoryDeploymentRepository,
    MemoryTemplateRepository,
    MemoryUserRepository,
    MemoryWorkflowRepository,
)
from turbocat_adapters.memory.runs import (
    MemoryExecutionLogRepository,
    MemoryExecutionRepository,
    MemoryStepRepository,
    MemoryStepRunRepository,
)
from turbocat_adapters.memory.tables import Committed
from turbocat_adapters.memory.transaction import Transaction
from turbocat_core import ports


class MemoryUnitOfWork:
    """The port's unit of work (its contract: ``ports.RunUnitOfWork``) over the store: writes
    wait in the transaction, an overlay on the committed tables, until ``commit()`` applies
    them all or, on a ``Conflict``, nothing (and discards them)."""

    __slots__ = (
        "_tx",
        "agents",
        "analytics",
        "api_keys",
        "audit_logs",
        "deployments",
        "executions",
        "logs",
        "step_runs",
        "steps",
        "templates",
        "users",
        "workflows",
    )

    def __init__(self, store: Committed) -> None:
        # Typed as the ports: protocol attributes are settable, hence compared invariantly.
        tx = self._tx = Transaction(store)
        self.users: ports.UserRepository = MemoryUserRepository(tx)
        self.agents: ports.AgentRepository = MemoryAgentRepository(tx)
        self.workflows: ports.WorkflowRepository = MemoryWorkflowRepository(tx)
        self.steps: ports.StepRepository = MemoryStepRepository(tx)
        self.executions: ports.ExecutionRepository = MemoryExecutionRepository(tx)
        self.step_runs: ports.StepRunRepository = MemoryStepRunRepository(tx)
        self.logs: ports.ExecutionLogRepository = MemoryExecutionLogRepository(tx)
        self.templates: ports.TemplateRepository = MemoryTemplateRepository(tx)
        self.deployments: ports.DeploymentRepository = MemoryDeploymentRepository(tx)
        self.api_keys: ports.ApiKeyRepository = MemoryApiKeyRepository(tx)
        self.audit_logs: ports.AuditLogRepository = MemoryAuditLogRepository(tx)
        self.analytics: ports.AnalyticsRepository = MemoryAnalyticsRepository(tx)

    async def __aenter__(self) -> Self:
        if self._tx.active:
            raise RuntimeError("this unit of work is already open")
        self._tx.active = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._tx.discard()
        self._tx.active = False

    async def commit(self) -> None:
        self._tx.require()
        self._tx.commit()

    async def rollback(self) -> None:
        self._tx.require()
        self._tx.discard()

    def deferred(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Nothing to gain here: the block runs as usual."""
        return contextlib.nullcontext()


def _conforms(uow: MemoryUnitOfWork) -> ports.UnitOfWork:
    """Never called: mypy checks here that the class matches the port structurally."""
    return uow
