"""Deployments: create (webhook secret shown once), read (health recomputed), list, update,
delete, and the secrets of their runs (start, stop and the event log are in
:mod:`turbocat_core.usecases.deployment_lifecycle`).

Environment variables are stored as ``SecretBox`` ciphertexts and never read back in clear
through the API (:func:`masked_variables`); only the engine gets them, through
:func:`deployment_env`. The per-deployment webhook secret is stored, encrypted, in its own
column (``Deployment.webhook_secret``) and checked by :mod:`turbocat_core.usecases.webhooks`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final
from uuid import UUID

from turbocat_core.domain.access import Actor, require_own_listing, require_owner, require_visible
from turbocat_core.domain.agent import RUNNABLE_AGENT_STATUSES
from turbocat_core.domain.common import (
    AgentId,
    DeploymentId,
    JsonObject,
    ListQuery,
    Page,
    SortOrder,
    UserId,
    WorkflowId,
    check_name,
)
from turbocat_core.domain.deployment import (
    MASK,
    Deployment,
    Environment,
    HealthStatus,
    check_single_target,
)
from turbocat_core.domain.execution import Execution, ExecutionStatus
from turbocat_core.engine.env import NO_ENV, RunEnv
from turbocat_core.engine.runner import EnvProvider
from turbocat_core.errors import (
    FieldError,
    NotFound,
    ValidationFailed,
)
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.randomness import IdGenerator, RandomSource
from turbocat_core.ports.security import SecretBox
from turbocat_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from turbocat_core.usecases.accounts import Client
from turbocat_core.usecases.audit import audit, changed_fields

RESOURCE: Final = "deployment"
VARIABLE_NAME: Final = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_VARIABLE_BYTES: Final = 32 * 1024
MAX_VARIABLES: Final = 100
MAX_DESCRIPTION: Final = 5000
HEALTH_WINDOW: Final = 20
"""Health follows the last 20 finished executions of a deployment."""
HEALTH_SCAN_PAGES: Final = 5

CREATED: Final = "deployment.created"
UPDATED: Final = "deployment.updated"
DELETED: Final = "deployment.deleted"
STARTED: Final = "deployment.started"
STOPPED: Final = "deployment.stopped"
WEBHOOK_RECEIVED: Final = "deployment.webhook_received"
SCHEDULE_FIRED: Final = "deployment.schedule_fired"

_UPDATABLE: Final = (
    "name",
    "description",
    "environment",
    "config",
    "environment_variables",
    "allocated_memory_mb",
    "allocated_cpu",
)


# --- pure helpers ------------------------------------------------------------------------


def masked_variables(deployment: Deployment) -> dict[str, str]:
    """What every read returns: each variable's name, never its value."""
    return dict.fromkeys(sorted(deployment.environment_variables), MASK)


def check_variables(values: Mapping[str, Any], *, allow_removal: bool) -> None:
    """Names ``^[A-Za-z_][A-Za-z0-9_]{0,127}$``, values text of at most 32 KB (UTF-8);
    ``None`` (remove) only when ``allow_removal``. ``ValidationFailed`` names each problem
    as ``environmentVariables.<NAME>``."""
    problems: list[FieldError] = []
    for name, value in values.items():
        where = f"environmentVariables.{name}"
        if not isinstance(name, str) or not VARIABLE_NAME.fullmatch(name):
            problems.append(
                FieldError(where, "a name is a letter or _, then letters, digits or _ (128 max)")
            )
        elif value is None:
            if not allow_removal:
                problems.append(FieldError(where, "must be text"))
        elif not isinstance(value, str):
            problems.append(FieldError(where, "must be text"))
        elif len(value.encode("utf-8", "surrogatepass")) > MAX_VARIABLE_BYTES:
            problems.append(FieldError(where, f"must be at most {MAX_VARIABLE_BYTES} bytes"))
    if problems:
        raise ValidationFailed("invalid environment variables", problems)


def health_of(executions: list[Execution]) -> HealthStatus:
    """From the share of COMPLETED among finished executions: none UNKNOWN, 90%+ HEALTHY,
    50%+ DEGRADED, else UNHEALTHY."""
    finished = [e for e in executions if e.status.finished]
    if not finished:
        return HealthStatus.UNKNOWN
    rate = sum(e.status is ExecutionStatus.COMPLETED for e in finished) / len(finished)
    if rate >= 0.9:
        return HealthStatus.HEALTHY
    return HealthStatus.DEGRADED if rate >= 0.5 else HealthStatus.UNHEALTHY


def _description(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    if len(text) > MAX_DESCRIPTION:
        raise ValidationFailed.field("description", f"must be at most {MAX_DESCRIPTION} characters")
    return text or None


def _environment(value: Any) -> Environment:
    try:
        return Environment(value)
    except ValueError:
        allowed = ", ".join(Environment)
        raise ValidationFailed.field("environment", f"must be one of {allowed}") from None


def _config(value: Any) -> JsonObject:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationFailed.field("config", "must be an object")
    return dict(value)


def _resources(memory_mb: int | None, cpu: float | None) -> None:
    if memory_mb is not None and (isinstance(memory_mb, bool) or memory_mb < 1):
        raise ValidationFailed.field("allocatedMemoryMb", "must be a positive number of MB")
    if cpu is not None and not cpu > 0:
        raise ValidationFailed.field("allocatedCpu", "must be more than 0")


# --- shared reads -----------------------------------------------------------------------


async def owner_actor(uow: UnitOfWork, user_id: UserId) -> Actor | None:
    """The deployment owner as the actor its webhooks and schedules run as (``None`` when
    the account is gone or disabled)."""
    user = await uow.users.get(user_id)
    if user is None or not user.is_active:
        return None
    return Actor(user_id=user.id, role=user.role)


async def visible_deployment(
    uow: UnitOfWork, actor: Actor, deployment_id: DeploymentId
) -> Deployment:
    deployment = await uow.deployments.get(deployment_id)
    if deployment is None:
        raise NotFound(RESOURCE, deployment_id)
    require_visible(actor, RESOURCE, deployment.id, deployment.user_id)
    return deployment


async def owned_deployment(
    uow: UnitOfWork, actor: Actor, deployment_id: DeploymentId
) -> Deployment:
    deployment = await uow.deployments.get(deployment_id)
    if deployment is None:
        raise NotFound(RESOURCE, deployment_id)
    require_owner(actor, RESOURCE, deployment.id, deployment.user_id)
    return deployment


async def target_problem(
    uow: UnitOfWork, owner: Actor, workflow_id: WorkflowId | None, agent_id: AgentId | None
) -> FieldError | None:
    """Why the owner cannot deploy the target (one answer for missing and someone else's
    private resource, so its existence is never confirmed)."""
    if workflow_id is not None:
        workflow = await uow.workflows.get(workflow_id)
        # Running a workflow needs ownership (StartExecution): public is not enough.
        if workflow is None or not (owner.is_admin or workflow.user_id == owner.user_id):
            return FieldError("workflowId", f"no workflow {workflow_id} that you can deploy")
        return None
    if agent_id is not None:
        agent = await uow.agents.get(agent_id)
        if agent is None or not (
            owner.is_admin or agent.is_public or agent.user_id == owner.user_id
        ):
            return FieldError("agentId", f"no agent {agent_id} that you can deploy")
        if agent.status not in RUNNABLE_AGENT_STATUSES:
            return FieldError("agentId", f"agent {agent.name!r} is {agent.status}")
    return None


async def recent_executions(uow: UnitOfWork, deployment: Deployment) -> list[Execution]:
    """The deployment's last :data:`HEALTH_WINDOW` finished executions, newest first."""
    found: list[Execution] = []
    page = 1
    while len(found) < HEALTH_WINDOW:
        result = await uow.executions.list(
            ListQuery(
                page=page,
                page_size=HEALTH_WINDOW * 2,
                sort_by="created_at",
                sort_order=SortOrder.DESC,
                filters={"deployment_id": deployment.id},
            )
        )
        found += [execution for execution in result.items if execution.status.finished]
        if not result.has_next or page >= HEALTH_SCAN_PAGES:
            break
        page += 1
    return found[:HEALTH_WINDOW]


# --- use cases ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateDeployment:
    """A STOPPED deployment of one workflow or agent the caller can use."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    random: RandomSource
    secrets: SecretBox

    async def __call__(
        self,
        actor: Actor,
        *,
        name: str,
        workflow_id: WorkflowId | None = None,
        agent_id: AgentId | None = None,
        description: str | None = None,
        environment: Environment = Environment.DEVELOPMENT,
        config: JsonObject | None = None,
        environment_variables: Mapping[str, str] | None = None,
        allocated_memory_mb: int | None = None,
        allocated_cpu: float | None = None,
        client: Client | None = None,
    ) -> tuple[Deployment, str]:
        """The deployment and its webhook secret, which is never available again.
        ``ValidationFailed`` names the field at fault (``workflowId``/``agentId`` for a
        missing, foreign or unusable target)."""
        check_single_target(workflow_id, agent_id)
        variables = dict(environment_variables or {})
        check_variables(variables, allow_removal=False)
        if len(variables) > MAX_VARIABLES:
            raise ValidationFailed.field(
                "environmentVariables", f"at most {MAX_VARIABLES} variables"
            )
        _resources(allocated_memory_mb, allocated_cpu)
        secret = self.random.token(32)
        encrypted = {name: self.secrets.encrypt(value) for name, value in variables.items()}
        now = self.clock.now()
        deployment = Deployment(
            id=DeploymentId(self.ids.new_id()),
            created_at=now,
            updated_at=now,
            user_id=actor.user_id,
            name=check_name(name),
            workflow_id=workflow_id,
            agent_id=agent_id,
            description=_description(description),
            environment=_environment(environment),
            config=_config(config),
            environment_variables=encrypted,
            webhook_secret=self.secrets.encrypt(secret),
            allocated_memory_mb=allocated_memory_mb,
            allocated_cpu=allocated_cpu,
        )
        async with self.uow() as uow:
            problem = await target_problem(uow, actor, workflow_id, agent_id)
            if problem is not None:
                raise ValidationFailed(f"{problem.field}: {problem.message}", [problem])
            await uow.deployments.add(deployment)
            await deployment_audit(
                uow,
                self.clock,
                self.ids,
                CREATED,
                user_id=actor.user_id,
                deployment_id=deployment.id,
                metadata={
                    "name": deployment.name,
                    "workflowId": str(workflow_id) if workflow_id else None,
                    "agentId": str(agent_id) if agent_id else None,
                    "environment": deployment.environment.value,
                    "variables": sorted(variables),
                },
                client=client,
            )
            await uow.commit()
        return deployment, secret


@dataclass(frozen=True, slots=True, kw_only=True)
class GetDeployment:
    """One deployment, its ``healthStatus`` recomputed (and stored, ``lastHealthCheckAt``)."""

    uow: UnitOfWorkFactory
    clock: Clock

    async def __call__(self, actor: Actor, deployment_id: DeploymentId) -> Deployment:
        """``NotFound`` for a missing, deleted or another user's deployment."""
        async with self.uow() as uow:
            deployment = await visible_deployment(uow, actor, deployment_id)
            health = health_of(await recent_executions(uow, deployment))
            # Read again just before writing: a bookkeeping write must not undo an edit.
            fresh = await uow.deployments.get(deployment_id)
            if fresh is None:
                raise NotFound(RESOURCE, deployment_id)
            checked = replace(fresh, health_status=health, last_health_check_at=self.clock.now())
            await uow.deployments.update(checked)
            await uow.commit()
        return checked


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDeployments:
    """A USER's own deployments; an ADMIN's listing holds everyone's."""

    uow: UnitOfWorkFactory

    async def __call__(self, actor: Actor, query: ListQuery) -> Page[Deployment]:
        if not actor.is_admin:
            require_own_listing(actor, query, "deployments")
        scoped = replace(
            query, owner_id=None if actor.is_admin else actor.user_id, include_public=False
        )
        async with self.uow() as uow:
            return await uow.deployments.list(scoped)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateDeployment:
    """Change what was sent; ``environment_variables`` maps names to new values (``None``
    removes one) and leaves the others as they are."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    secrets: SecretBox

    async def __call__(
        self,
        actor: Actor,
        deployment_id: DeploymentId,
        changes: Mapping[str, Any],
        client: Client | None = None,
    ) -> Deployment:
        """``changes``: any of name, description, environment, config,
        environment_variables, allocated_memory_mb, allocated_cpu (only those sent)."""
        unknown = sorted(set(changes) - set(_UPDATABLE))
        if unknown:
            raise ValidationFailed.field(unknown[0], "cannot be changed")
        updates: dict[str, Any] = {}
        if "name" in changes:
            updates["name"] = check_name(changes["name"] or "")
        if "description" in changes:
            updates["description"] = _description(changes["description"])
        if "environment" in changes:
            updates["environment"] = _environment(changes["environment"])
        if "config" in changes:
            updates["config"] = _config(changes["config"])
        for name in ("allocated_memory_mb", "allocated_cpu"):
            if name in changes:
                updates[name] = changes[name]
        _resources(updates.get("allocated_memory_mb"), updates.get("allocated_cpu"))
        variables: Mapping[str, str | None] = changes.get("environment_variables") or {}
        check_variables(variables, allow_removal=True)
        async with self.uow() as uow:
            deployment = await owned_deployment(uow, actor, deployment_id)
            if variables:
                stored = dict(deployment.environment_variables)
                for name, value in variables.items():
                    if value is None:
                        stored.pop(name, None)
                    else:
                        stored[name] = self.secrets.encrypt(value)
                if len(stored) > MAX_VARIABLES:
                    raise ValidationFailed.field(
                        "environmentVariables", f"at most {MAX_VARIABLES} variables"
                    )
                updates["environment_variables"] = stored
            if not updates:
                return deployment
            updated = replace(deployment, updated_at=self.clock.now(), **updates)
            await uow.deployments.update(updated)
            await deployment_audit(
                uow,
                self.clock,
                self.ids,
                UPDATED,
                user_id=actor.user_id,
                deployment_id=deployment.id,
                changes=changed_fields(deployment, updated, list(updates)),
                metadata={
                    "variablesSet": sorted(k for k, v in variables.items() if v is not None),
                    "variablesRemoved": sorted(k for k, v in variables.items() if v is None),
                }
                if variables
                else None,
                client=client,
            )
            await uow.commit()
        return updated


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteDeployment:
    """Soft-delete: the deployment reads as absent (no webhooks, no schedule) but stays stored."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator

    async def __call__(
        self, actor: Actor, deployment_id: DeploymentId, client: Client | None = None
    ) -> None:
        async with self.uow() as uow:
            deployment = await owned_deployment(uow, actor, deployment_id)
            now = self.clock.now()
            await uow.deployments.update(replace(deployment, deleted_at=now, updated_at=now))
            await deployment_audit(
                uow,
                self.clock,
                self.ids,
                DELETED,
                user_id=actor.user_id,
                deployment_id=deployment.id,
                metadata={"status": deployment.status.value},
                client=client,
            )
            await uow.commit()


def deployment_env(*, uow: UnitOfWorkFactory, secrets: SecretBox) -> EnvProvider:
    """The engine's ``env_for``: an execution started by a deployment (``deployment_id``,
    children included) gets that deployment's variables, decrypted (``{{env.NAME}}``; the
    engine masks their values in logs), owned by the deployment's owner (only their own
    definitions read them: ``engine.env``); any other execution, or one whose deployment
    was deleted, none."""

    async def env_for(execution: Execution) -> RunEnv:
        if execution.deployment_id is None:
            return NO_ENV
        async with uow() as unit:
            deployment = await unit.deployments.get(execution.deployment_id)
        if deployment is None:
            return NO_ENV
        env: dict[str, str] = {}
        for name, token in deployment.environment_variables.items():
            try:
                env[name] = secrets.decrypt(token)
            except ValidationFailed:
                # Sealed with a key the server no longer has: references to it stay
                # unresolved (the run logs a WARN naming them) rather than failing to start.
                continue
        return RunEnv(values=env, owner=deployment.user_id)

    return env_for


async def deployment_audit(
    uow: UnitOfWork,
    clock: Clock,
    ids: IdGenerator,
    action: str,
    *,
    user_id: UUID,
    deployment_id: DeploymentId,
    client: Client | None,
    changes: JsonObject | None = None,
    metadata: JsonObject | None = None,
) -> None:
    """Record ``action`` in the audit log against the deployment (its event log)."""
    await audit(
        uow,
        clock,
        ids,
        action,
        user_id=user_id,
        resource_type=RESOURCE,
        resource_id=deployment_id,
        changes=changes,
        metadata=metadata,
        ip_address=client.ip if client else None,
        user_agent=client.user_agent if client else None,
    )
