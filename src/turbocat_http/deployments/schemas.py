"""``POST/PATCH /deployments`` bodies, and the deployment as reads return it."""

# No ``from __future__ import annotations``: msgspec reads the annotations at run time.

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from turbocat_core.domain.deployment import DeploymentStatus, Environment, HealthStatus
from turbocat_core.usecases.deployments import MAX_DESCRIPTION, MAX_VARIABLES

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
Description = Annotated[str, msgspec.Meta(max_length=MAX_DESCRIPTION)]
MemoryMb = Annotated[int, msgspec.Meta(ge=1, le=1_048_576)]
Cpu = Annotated[float, msgspec.Meta(gt=0, le=1024)]
Variables = Annotated[dict[str, str], msgspec.Meta(max_length=MAX_VARIABLES)]
VariableChanges = Annotated[dict[str, str | None], msgspec.Meta(max_length=MAX_VARIABLES)]


class CreateDeploymentIn(msgspec.Struct, rename="camel", forbid_unknown_fields=True):
    """Exactly one of ``workflowId`` or ``agentId``: a workflow you own (webhooks and its
    schedule run it) or an agent you can use (yours or public)."""

    name: Name
    workflow_id: UUID | None = None
    agent_id: UUID | None = None
    description: Description | None = None
    environment: Environment = Environment.DEVELOPMENT
    config: dict[str, Any] = msgspec.field(default_factory=dict)
    environment_variables: Variables = msgspec.field(default_factory=dict)
    """``{NAME: value}``: names ``^[A-Za-z_][A-Za-z0-9_]{0,127}$``, values text of at most
    32 KB. Encrypted at rest, never read back (``"********"``); runs read them as
    ``{{env.NAME}}``."""
    allocated_memory_mb: MemoryMb | None = None
    allocated_cpu: Cpu | None = None


class UpdateDeploymentIn(
    msgspec.Struct, rename="camel", forbid_unknown_fields=True, omit_defaults=True
):
    """Only the fields sent change. The target (workflow or agent) cannot be changed."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    description: Description | msgspec.UnsetType | None = msgspec.UNSET
    environment: Environment | msgspec.UnsetType = msgspec.UNSET
    config: dict[str, Any] | msgspec.UnsetType = msgspec.UNSET
    environment_variables: VariableChanges | msgspec.UnsetType = msgspec.UNSET
    """``{NAME: value}`` sets (replaces) those names, ``{NAME: null}`` removes one; the
    others stay as they are."""
    allocated_memory_mb: MemoryMb | msgspec.UnsetType | None = msgspec.UNSET
    allocated_cpu: Cpu | msgspec.UnsetType | None = msgspec.UNSET

    def changes(self) -> dict[str, Any]:
        """The fields that were sent, by their core names."""
        return {
            name: value
            for name in self.__struct_fields__
            if (value := getattr(self, name)) is not msgspec.UNSET
        }


class DeploymentOut(msgspec.Struct, rename="camel"):
    """A deployment as every read returns it (documentation of ``deployment_out``)."""

    id: UUID
    user_id: UUID
    name: str
    workflow_id: UUID | None
    agent_id: UUID | None
    description: str | None
    environment: Environment
    status: DeploymentStatus
    config: dict[str, Any]
    environment_variables: dict[str, str]
    """Every variable's name; the value is always ``"********"``."""
    health_status: HealthStatus
    """From its last 20 finished executions (recomputed by ``GET /deployments/{id}``): none
    UNKNOWN, 90%+ COMPLETED HEALTHY, 50%+ DEGRADED, else UNHEALTHY."""
    last_health_check_at: datetime | None
    allocated_memory_mb: int | None
    allocated_cpu: float | None
    started_at: datetime | None
    stopped_at: datetime | None
    deleted_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CreatedDeployment(msgspec.Struct, rename="camel"):
    """The new deployment and, this once, its webhook secret."""

    deployment: DeploymentOut
    webhook_secret: str
    """Signs ``POST /hooks/{deploymentId}`` (HMAC-SHA256); never shown again."""
