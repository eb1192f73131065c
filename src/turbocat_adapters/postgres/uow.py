"""The PostgreSQL unit of work: every repository over one pooled connection's transaction."""

from __future__ import annotations

import contextlib
from types import TracebackType
from typing import TYPE_CHECKING, Self

import psycopg

from turbocat_adapters.postgres.errors import translated
from turbocat_adapters.postgres.repositories.accounts import (
    PostgresApiKeyRepository,
    PostgresAuditLogRepository,
    PostgresUserRepository,
)
from turbocat_adapters.postgres.repositories.analytics import PostgresAnalyticsRepository
from turbocat_adapters.postgres.repositories.catalog import (
    PostgresAgentRepository,
    PostgresWorkflowRepository,
)
from turbocat_adapters.postgres.repositories.executions import PostgresExecutionRepository
from turbocat_adapters.postgres.repositories.logs import PostgresExecutionLogRepository
from turbocat_adapters.postgres.repositories.publishing import (
    PostgresDeploymentRepository,
    PostgresTemplateRepository,
)
from turbocat_adapters.postgres.repositories.steps import (
    PostgresStepRepository,
    PostgresStepRunRepository,
)
from turbocat_adapters.postgres.session import COMMIT, ROLLBACK, Session
from turbocat_core import ports
from turbocat_core.errors import TurbocatError

if TYPE_CHECKING:
    from psycopg_pool import AsyncConnectionPool

    from turbocat_adapters.postgres.session import Connection
    from turbocat_adapters.postgres.store import PostgresStore


class PostgresUnitOfWork:
    """The port's unit of work (its contract: ``ports.RunUnitOfWork``) on one connection
    taken from the pool.

    ``async with`` takes a connection (``pool.getconn``, never ``pool.connection()``, which
    would commit on a clean exit) and leaving gives it back. A refused write (``Conflict``,
    ``ValidationFailed``) undoes only itself. Driver errors come out as ``TurbocatError``s.
    """

    __slots__ = (
        "_pool",
        "_session",
        "_store",
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

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._pool: AsyncConnectionPool[Connection] | None = None  # the one lent the connection
        session = self._session = Session()
        # Typed as the ports: protocol attributes are settable, hence compared invariantly.
        self.users: ports.UserRepository = PostgresUserRepository(session)
        self.agents: ports.AgentRepository = PostgresAgentRepository(session)
        self.workflows: ports.WorkflowRepository = PostgresWorkflowRepository(session)
        self.steps: ports.StepRepository = PostgresStepRepository(session)
        self.executions: ports.ExecutionRepository = PostgresExecutionRepository(session)
        self.step_runs: ports.StepRunRepository = PostgresStepRunRepository(session)
        self.logs: ports.ExecutionLogRepository = PostgresExecutionLogRepository(session)
        self.templates: ports.TemplateRepository = PostgresTemplateRepository(session)
        self.deployments: ports.DeploymentRepository = PostgresDeploymentRepository(session)
        self.api_keys: ports.ApiKeyRepository = PostgresApiKeyRepository(session)
        self.audit_logs: ports.AuditLogRepository = PostgresAuditLogRepository(session)
        self.analytics: ports.AnalyticsRepository = PostgresAnalyticsRepository(session)

    async def __aenter__(self) -> Self:
        if self._session.conn is not None:
            raise RuntimeError("this unit of work is already open")
        pool = self._store.pool
        with translated():
            self._session.conn = await pool.getconn()
        self._pool = pool
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        session = self._session
        conn, pool = session.conn, self._pool
        if conn is None or pool is None:
            return
        try:
            try:
                await session.finish(ROLLBACK)
            except BaseException as error:
                # Closing it rolls back too (server side); the pool replaces it.
                with contextlib.suppress(psycopg.Error):
                    await conn.close()
                if not isinstance(error, TurbocatError):
                    raise
        finally:
            session.conn = self._pool = None
            await pool.putconn(conn)

    async def commit(self) -> None:
        await self._session.finish(COMMIT)

    async def rollback(self) -> None:
        await self._session.finish(ROLLBACK)

    def deferred(self) -> contextlib.AbstractAsyncContextManager[None]:
        """The block's statements go in one pipeline without savepoints (see
        ``Session.deferred``)."""
        return self._session.deferred()


def _conforms(uow: PostgresUnitOfWork) -> ports.UnitOfWork:
    """Never called: mypy checks here that the class matches the port structurally."""
    return uow
