"""Deployments: one target (a workflow or an agent), an environment and a guarded lifecycle."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from turbocat_core.domain.common import (
    AgentId,
    DeploymentId,
    Entity,
    JsonObject,
    QuerySpec,
    UserId,
    WorkflowId,
)
from turbocat_core.errors import InvalidState, ValidationFailed


class Environment(StrEnum):
    DEVELOPMENT = "DEVELOPMENT"
    STAGING = "STAGING"
    PRODUCTION = "PRODUCTION"


class DeploymentStatus(StrEnum):
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    RUNNING = "RUNNING"
    STOPPING = "STOPPING"
    FAILED = "FAILED"
    MAINTENANCE = "MAINTENANCE"


class HealthStatus(StrEnum):
    UNKNOWN = "UNKNOWN"
    HEALTHY = "HEALTHY"
    UNHEALTHY = "UNHEALTHY"
    DEGRADED = "DEGRADED"


_S = DeploymentStatus
DEPLOYMENT_TRANSITIONS: Final[dict[DeploymentStatus, frozenset[DeploymentStatus]]] = {
    _S.STOPPED: frozenset({_S.STARTING, _S.MAINTENANCE}),
    _S.STARTING: frozenset({_S.RUNNING, _S.FAILED, _S.STOPPING}),
    _S.RUNNING: frozenset({_S.STOPPING, _S.FAILED, _S.MAINTENANCE}),
    _S.STOPPING: frozenset({_S.STOPPED, _S.FAILED}),
    _S.FAILED: frozenset({_S.STARTING, _S.STOPPED}),
    _S.MAINTENANCE: frozenset({_S.STARTING, _S.STOPPED}),
}
MASK: Final = "********"


@dataclass(frozen=True, slots=True, kw_only=True)
class Deployment(Entity):
    """``environment_variables`` maps names to SecretBox ciphertexts, never to clear values."""

    id: DeploymentId
    user_id: UserId
    name: str
    workflow_id: WorkflowId | None = None
    agent_id: AgentId | None = None
    description: str | None = None
    environment: Environment = Environment.DEVELOPMENT
    status: DeploymentStatus = DeploymentStatus.STOPPED
    config: JsonObject = field(default_factory=dict)
    environment_variables: dict[str, str] = field(default_factory=dict, repr=False)
    health_status: HealthStatus = HealthStatus.UNKNOWN
    last_health_check_at: datetime | None = None
    allocated_memory_mb: int | None = None
    allocated_cpu: float | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None
    deleted_at: datetime | None = None
    webhook_secret: str | None = field(default=None, repr=False)
    """The SecretBox ciphertext of the secret webhooks are signed with (never on the wire)."""

    def __post_init__(self) -> None:
        check_single_target(self.workflow_id, self.agent_id)

    def moved_to(self, status: DeploymentStatus, now: datetime) -> Deployment:
        """The deployment in ``status``; ``InvalidState`` for a move the lifecycle forbids."""
        if status not in DEPLOYMENT_TRANSITIONS[self.status]:
            raise InvalidState(f"a {self.status} deployment cannot become {status}")
        started = now if status is DeploymentStatus.RUNNING else self.started_at
        stopped = now if status is DeploymentStatus.STOPPED else self.stopped_at
        return replace(self, status=status, started_at=started, stopped_at=stopped, updated_at=now)

    def masked_variables(self) -> dict[str, str]:
        """What reads return: every name, no value."""
        return dict.fromkeys(self.environment_variables, MASK)


def check_single_target(workflow_id: WorkflowId | None, agent_id: AgentId | None) -> None:
    """A deployment targets exactly one of a workflow or an agent."""
    if (workflow_id is None) == (agent_id is None):
        raise ValidationFailed.field(
            "workflow_id", "a deployment targets exactly one of workflowId or agentId"
        )


DEPLOYMENT_QUERY: Final = QuerySpec(
    sortable=frozenset({"created_at", "updated_at", "name", "status", "environment"}),
    filterable=frozenset(
        {"status", "environment", "workflow_id", "agent_id", "health_status", "user_id"}
    ),
    has_tags=False,
)
