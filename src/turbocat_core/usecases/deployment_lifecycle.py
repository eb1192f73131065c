"""A deployment's lifecycle and its event log: start, stop (the legal moves only, each
audited with what changed), and the events recorded against it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from turbocat_core.domain.access import Actor
from turbocat_core.domain.audit import AUDIT_QUERY
from turbocat_core.domain.common import (
    AuditLogId,
    DeploymentId,
    JsonObject,
    ListQuery,
    Page,
    UserId,
)
from turbocat_core.domain.deployment import (
    Deployment,
    DeploymentStatus,
)
from turbocat_core.errors import (
    InvalidState,
)
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.storage import UnitOfWorkFactory
from turbocat_core.usecases.accounts import Client
from turbocat_core.usecases.audit import changed_fields
from turbocat_core.usecases.deployments import (
    RESOURCE,
    STARTED,
    STOPPED,
    deployment_audit,
    owned_deployment,
    owner_actor,
    target_problem,
    visible_deployment,
)


async def _move(
    uow_factory: UnitOfWorkFactory,
    clock: Clock,
    ids: IdGenerator,
    actor: Actor,
    deployment_id: DeploymentId,
    path: tuple[DeploymentStatus, DeploymentStatus],
    action: str,
    client: Client | None,
    *,
    check_target: bool = False,
) -> Deployment:
    async with uow_factory() as uow:
        deployment = await owned_deployment(uow, actor, deployment_id)
        now = clock.now()
        moved = deployment
        for status in path:  # InvalidState for a move the lifecycle forbids
            moved = moved.moved_to(status, now)
        if check_target:
            owner = await owner_actor(uow, deployment.user_id)
            if owner is None:
                raise InvalidState("the deployment's owner account is disabled")
            if await target_problem(uow, owner, deployment.workflow_id, deployment.agent_id):
                what = "workflow" if deployment.workflow_id is not None else "agent"
                raise InvalidState(f"the deployment's {what} no longer exists or cannot be used")
        await uow.deployments.update(moved)
        await deployment_audit(
            uow,
            clock,
            ids,
            action,
            user_id=actor.user_id,
            deployment_id=deployment.id,
            changes=changed_fields(deployment, moved, ["status", "started_at", "stopped_at"]),
            metadata={"through": [status.value for status in path]},
            client=client,
        )
        await uow.commit()
    return moved


@dataclass(frozen=True, slots=True, kw_only=True)
class StartDeployment:
    """STOPPED, FAILED or MAINTENANCE -> STARTING -> RUNNING, in one step; its target must
    still exist and be usable. ``InvalidState`` otherwise."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator

    async def __call__(
        self, actor: Actor, deployment_id: DeploymentId, client: Client | None = None
    ) -> Deployment:
        path = (DeploymentStatus.STARTING, DeploymentStatus.RUNNING)
        return await _move(
            self.uow,
            self.clock,
            self.ids,
            actor,
            deployment_id,
            path,
            STARTED,
            client,
            check_target=True,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StopDeployment:
    """RUNNING -> STOPPING -> STOPPED, in one step; ``InvalidState`` from any other status."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator

    async def __call__(
        self, actor: Actor, deployment_id: DeploymentId, client: Client | None = None
    ) -> Deployment:
        path = (DeploymentStatus.STOPPING, DeploymentStatus.STOPPED)
        return await _move(
            self.uow, self.clock, self.ids, actor, deployment_id, path, STOPPED, client
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class DeploymentEvent:
    """One entry of a deployment's log (its audit entries): what happened, who did it."""

    id: AuditLogId
    created_at: datetime
    action: str
    user_id: UserId | None
    changes: JsonObject
    metadata: JsonObject


@dataclass(frozen=True, slots=True, kw_only=True)
class ListDeploymentEvents:
    """A deployment's events, newest first by default: created, updated, started, stopped,
    webhook received, schedule fired (``query`` against ``AUDIT_QUERY``)."""

    uow: UnitOfWorkFactory

    async def __call__(
        self, actor: Actor, deployment_id: DeploymentId, query: ListQuery | None = None
    ) -> Page[DeploymentEvent]:
        base = query or ListQuery.build(AUDIT_QUERY)
        scoped = replace(
            base,
            filters={
                **base.filters,
                "resource_type": RESOURCE,
                "resource_id": str(deployment_id),
            },
            owner_id=None,
            include_public=False,
        )
        async with self.uow() as uow:
            await visible_deployment(uow, actor, deployment_id)
            page = await uow.audit_logs.list(scoped)
        events = [
            DeploymentEvent(
                id=entry.id,
                created_at=entry.created_at,
                action=entry.action,
                user_id=entry.user_id,
                changes=entry.changes,
                metadata=entry.metadata,
            )
            for entry in page.items
        ]
        return Page(items=events, total=page.total, page=page.page, page_size=page.page_size)
