"""The repositories every SQL unit of work holds, over its one connection."""

from __future__ import annotations

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


class Repositories:
    """The unit of work's repositories; ``connection`` is what they run on (for the
    dialect's unit of work, and for stores that run one statement per call)."""

    __slots__ = (
        "agents",
        "analytics",
        "api_keys",
        "audit_logs",
        "connection",
        "deployments",
        "executions",
        "logs",
        "step_runs",
        "steps",
        "templates",
        "users",
        "workflows",
    )

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
