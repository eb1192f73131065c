"""Schedules: which RUNNING workflow deployments have cron ticks due, and firing them.

A RUNNING deployment of a workflow whose ``scheduleEnabled`` is set runs that workflow at
every tick of its ``scheduleCron`` (in ``scheduleTimezone``), as its owner, with trigger
SCHEDULED. :func:`due_ticks` is the pure decision; :class:`FireDueSchedules` reads the
deployments, starts one execution per due tick and per deployment, and records each in the
deployment's log. Whoever calls it (``turbocat_adapters.scheduler.Scheduler``) owns the
window of time: each tick falls in exactly one window, so it fires once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Final

from turbocat_core.cron import CronSchedule
from turbocat_core.domain.common import (
    DeploymentId,
    ExecutionId,
    ListQuery,
    SortOrder,
    UserId,
    WorkflowId,
    utc_text,
)
from turbocat_core.domain.deployment import Deployment, DeploymentStatus
from turbocat_core.domain.execution import TriggerType
from turbocat_core.domain.workflow import Workflow, WorkflowStatus
from turbocat_core.errors import InvalidState, TurbocatError, ValidationFailed
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.coordination import Claims
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.storage import UnitOfWorkFactory
from turbocat_core.usecases.audit import audit
from turbocat_core.usecases.deployments import RESOURCE, SCHEDULE_FIRED, owner_actor
from turbocat_core.usecases.executions import StartExecution

CATCH_UP: Final = timedelta(minutes=5)
"""Ticks missed by more than this (the process was stopped or stalled) are skipped."""
MAX_TICKS_PER_ROUND: Final = 1000
"""At most this many ticks of one deployment fire in one round (the catch-up window of a
per-second schedule holds 300)."""
_PAGE: Final = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class ScheduleTarget:
    """A deployment and the workflow it runs, as read for one round."""

    deployment: Deployment
    workflow: Workflow


@dataclass(frozen=True, slots=True, kw_only=True)
class Tick:
    """One cron tick of one deployment."""

    deployment_id: DeploymentId
    user_id: UserId
    workflow_id: WorkflowId
    scheduled_for: datetime


@dataclass(slots=True, kw_only=True)
class DueTicks:
    """What a round decided: ticks to fire now, and missed ticks too old to fire."""

    due: list[Tick] = field(default_factory=list)
    skipped: list[Tick] = field(default_factory=list)
    invalid: list[tuple[DeploymentId, str]] = field(default_factory=list)
    """Deployments whose stored schedule does not parse, with why."""


def schedule_of(target: ScheduleTarget) -> CronSchedule | None:
    """The schedule a target follows now, or ``None`` when it has none: the deployment is
    not RUNNING, targets an agent, or its workflow is not ACTIVE or has no enabled schedule.
    ``ValidationFailed`` for a stored expression or time zone that does not parse."""
    deployment, workflow = target.deployment, target.workflow
    if (
        deployment.status is not DeploymentStatus.RUNNING
        or deployment.deleted_at is not None
        or deployment.workflow_id != workflow.id
        or workflow.deleted_at is not None
        or workflow.status is not WorkflowStatus.ACTIVE
        or not workflow.schedule_enabled
        or not workflow.schedule_cron
    ):
        return None
    return CronSchedule.parse(workflow.schedule_cron, workflow.schedule_timezone)


def due_ticks(
    targets: Iterable[ScheduleTarget],
    *,
    after: datetime,
    now: datetime,
    catch_up: timedelta = CATCH_UP,
    limit: int = MAX_TICKS_PER_ROUND,
) -> DueTicks:
    """The ticks in ``(after, now]`` of every target that has a schedule, oldest first:
    those at or after ``now - catch_up`` are due, older ones skipped (at most ``limit`` of
    each per target: a schedule missed for a month does not list millions)."""
    result = DueTicks()
    cutoff = now - catch_up
    for target in targets:
        try:
            schedule = schedule_of(target)
        except ValidationFailed as error:
            result.invalid.append((target.deployment.id, error.message))
            continue
        if schedule is None or now <= after:
            continue

        def tick(moment: datetime, target: ScheduleTarget = target) -> Tick:
            return Tick(
                deployment_id=target.deployment.id,
                user_id=target.deployment.user_id,
                workflow_id=target.workflow.id,
                scheduled_for=moment,
            )

        if after < cutoff:
            old = schedule.ticks_between(after, min(cutoff, now), limit)
            result.skipped += [tick(m) for m in old if m < cutoff]
        start = max(after, cutoff - timedelta(microseconds=1))
        result.due += [tick(m) for m in schedule.ticks_between(start, now, limit) if m >= cutoff]
    result.due.sort(key=lambda t: (t.scheduled_for, str(t.deployment_id)))
    return result


@dataclass(frozen=True, slots=True, kw_only=True)
class Fired:
    """One tick's outcome: the execution it started, or why it could not."""

    tick: Tick
    execution_id: ExecutionId | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Round:
    fired: Sequence[Fired]
    skipped: Sequence[Tick]
    invalid: Sequence[tuple[DeploymentId, str]]


@dataclass(frozen=True, slots=True, kw_only=True)
class FireDueSchedules:
    """Start an execution (trigger SCHEDULED, ``triggerData = {"deploymentId",
    "scheduledFor"}``, ``deployment_id`` set) for each tick in ``(after, now]`` of every
    RUNNING workflow deployment, as the deployment's owner, and record it in the
    deployment's log (``deployment.schedule_fired`` with the execution id, or the error).

    A tick that fails to start (the workflow cannot run, the owner is disabled) is recorded
    and not tried again. Reading the deployments may raise (the store is down): then
    nothing was fired and the caller may try the same window again.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator
    start: StartExecution
    catch_up: timedelta = CATCH_UP
    claims: Claims | None = None
    """Fleet mode: every worker runs a scheduler, and each tick fires in whichever process
    claims it first (``tick:<deployment>:<time>``). ``None``: this process alone fires."""
    holder: str = "scheduler"

    async def __call__(self, *, after: datetime, now: datetime) -> Round:
        return await self.fire(await self.targets(), after=after, now=now)

    async def fire(
        self, targets: Sequence[ScheduleTarget], *, after: datetime, now: datetime
    ) -> Round:
        """Fire the due ticks of ``targets`` in ``(after, now]``; never raises for a tick."""
        decided = due_ticks(targets, after=after, now=now, catch_up=self.catch_up)
        fired = [await self._fire(tick) for tick in decided.due if await self._claim(tick)]
        return Round(fired=fired, skipped=decided.skipped, invalid=decided.invalid)

    async def targets(self) -> list[ScheduleTarget]:
        """Every RUNNING workflow deployment whose workflow has a schedule enabled."""
        targets: list[ScheduleTarget] = []
        workflows: dict[WorkflowId, Workflow | None] = {}
        async with self.uow() as uow:
            page = 1
            while True:
                listed = await uow.deployments.list(
                    ListQuery(
                        page=page,
                        page_size=_PAGE,
                        sort_by="created_at",
                        sort_order=SortOrder.ASC,
                        filters={"status": DeploymentStatus.RUNNING},
                    )
                )
                for deployment in listed.items:
                    if deployment.workflow_id is None:
                        continue
                    if deployment.workflow_id not in workflows:
                        workflows[deployment.workflow_id] = await uow.workflows.get(
                            deployment.workflow_id
                        )
                    workflow = workflows[deployment.workflow_id]
                    if workflow is not None and workflow.schedule_enabled:
                        targets.append(ScheduleTarget(deployment=deployment, workflow=workflow))
                if not listed.has_next:
                    break
                page += 1
        return targets

    async def _claim(self, tick: Tick) -> bool:
        if self.claims is None:
            return True
        name = f"tick:{tick.deployment_id}:{tick.scheduled_for.isoformat()}"
        # Held past the catch-up window, when no process would fire the tick any more.
        ttl = (self.catch_up + timedelta(minutes=5)).total_seconds()
        try:
            return await self.claims.claim(name, self.holder, ttl)
        except TurbocatError:  # Redis is down: fire nothing rather than risk firing twice
            return False

    async def _fire(self, tick: Tick) -> Fired:
        try:
            async with self.uow() as uow:
                owner = await owner_actor(uow, tick.user_id)
            if owner is None:
                raise InvalidState("the deployment's owner account is disabled")
            execution = await self.start(
                owner,
                tick.workflow_id,
                trigger=TriggerType.SCHEDULED,
                trigger_data={
                    "deploymentId": str(tick.deployment_id),
                    "scheduledFor": utc_text(tick.scheduled_for),
                },
                deployment_id=tick.deployment_id,
            )
            outcome = Fired(tick=tick, execution_id=execution.id)
        except TurbocatError as error:
            outcome = Fired(tick=tick, error=error.message)
        except Exception as error:  # one broken tick must not stop the others of the round
            outcome = Fired(tick=tick, error=f"internal error ({type(error).__name__})")
        # The execution started: a lost log entry must not make the caller fire it again.
        with contextlib.suppress(Exception):
            await self._record(outcome)
        return outcome

    async def _record(self, outcome: Fired) -> None:
        metadata: dict[str, object] = {"scheduledFor": utc_text(outcome.tick.scheduled_for)}
        if outcome.execution_id is not None:
            metadata["executionId"] = str(outcome.execution_id)
        if outcome.error is not None:
            metadata["error"] = outcome.error
        async with self.uow() as uow:
            await audit(
                uow,
                self.clock,
                self.ids,
                SCHEDULE_FIRED,
                user_id=outcome.tick.user_id,
                resource_type=RESOURCE,
                resource_id=outcome.tick.deployment_id,
                metadata=metadata,
            )
            await uow.commit()
