"""Schedules: which ticks of RUNNING workflow deployments are due, and firing them once."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from tests.core.builders import step
from tests.core.engine.harness import T0, Harness
from turbocat_adapters.crypto import AesGcmSecretBox
from turbocat_core.domain.agent import AgentType
from turbocat_core.domain.audit import AUDIT_QUERY
from turbocat_core.domain.common import (
    AgentId,
    DeploymentId,
    ListQuery,
    UserId,
    WorkflowId,
    utc_text,
)
from turbocat_core.domain.deployment import Deployment, DeploymentStatus
from turbocat_core.domain.execution import EXECUTION_QUERY, TriggerType
from turbocat_core.domain.workflow import Workflow, WorkflowStatus
from turbocat_core.usecases.deployment_lifecycle import StartDeployment
from turbocat_core.usecases.deployments import CreateDeployment
from turbocat_core.usecases.scheduling import (
    FireDueSchedules,
    ScheduleTarget,
    due_ticks,
)

EVERY_SECOND = "*/1 * * * * *"


def target(
    cron: str | None = EVERY_SECOND,
    *,
    status: DeploymentStatus = DeploymentStatus.RUNNING,
    enabled: bool = True,
    workflow_status: WorkflowStatus = WorkflowStatus.ACTIVE,
    timezone: str = "UTC",
) -> ScheduleTarget:
    workflow = Workflow(
        id=WorkflowId(uuid4()),
        created_at=T0,
        updated_at=T0,
        user_id=UserId(uuid4()),
        name="wf",
        status=workflow_status,
        schedule_enabled=enabled,
        schedule_cron=cron,
        schedule_timezone=timezone,
    )
    deployment = Deployment(
        id=DeploymentId(uuid4()),
        created_at=T0,
        updated_at=T0,
        user_id=workflow.user_id,
        name="d",
        workflow_id=workflow.id,
        status=status,
    )
    return ScheduleTarget(deployment=deployment, workflow=workflow)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the pure decision -------------------------------------------------------------------


def test_every_tick_of_a_window_is_due_once():
    running = target()
    first = due_ticks([running], after=at(0), now=at(3))
    assert [t.scheduled_for for t in first.due] == [at(1), at(2), at(3)]
    # Windows that follow each other never repeat a tick, however they are cut.
    moments = [0, 0.4, 0.9, 2.5, 2.5, 4, 7.2]
    fired = [
        t.scheduled_for
        for start, end in itertools.pairwise(moments)
        for t in due_ticks([running], after=at(start), now=at(end)).due
    ]
    assert fired == [at(s) for s in range(1, 8)]
    assert due_ticks([running], after=at(5), now=at(5)).due == []


@pytest.mark.parametrize(
    "quiet",
    [
        target(status=DeploymentStatus.STOPPED),
        target(status=DeploymentStatus.MAINTENANCE),
        target(enabled=False),
        target(cron=None),
        target(workflow_status=WorkflowStatus.INACTIVE),
        target(workflow_status=WorkflowStatus.DRAFT),
    ],
)
def test_only_running_deployments_of_active_scheduled_workflows_are_due(quiet):
    assert due_ticks([quiet], after=at(0), now=at(60)).due == []


def test_missed_ticks_older_than_the_catch_up_window_are_skipped():
    every_30s = target("*/30 * * * * *")
    late = due_ticks([every_30s], after=at(0), now=at(600), catch_up=timedelta(minutes=5))
    assert [t.scheduled_for for t in late.skipped] == [at(s) for s in range(30, 300, 30)]
    assert [t.scheduled_for for t in late.due] == [at(s) for s in range(300, 601, 30)]


def test_ticks_follow_the_workflows_time_zone():
    nine_in_paris = target("0 9 * * *", timezone="Europe/Paris")
    eight_utc = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)  # winter: Paris is UTC+1
    after, now = eight_utc - timedelta(hours=1), eight_utc + timedelta(seconds=30)
    assert due_ticks([nine_in_paris], after=after, now=eight_utc - timedelta(seconds=1)).due == []
    due = due_ticks([nine_in_paris], after=after, now=now).due
    assert [t.scheduled_for for t in due] == [eight_utc]


def test_a_schedule_that_does_not_parse_is_reported_not_fired():
    broken = target("every now and then")
    decided = due_ticks([broken, target()], after=at(0), now=at(1))
    assert [d for d, _ in decided.invalid] == [broken.deployment.id]
    assert len(decided.due) == 1


def test_several_deployments_of_one_workflow_each_fire():
    one = target()
    two = ScheduleTarget(
        deployment=dataclasses.replace(one.deployment, id=DeploymentId(uuid4())),
        workflow=one.workflow,
    )
    due = due_ticks([one, two], after=at(0), now=at(2)).due
    assert len(due) == 4
    assert {t.deployment_id for t in due} == {one.deployment.id, two.deployment.id}


# --- firing on a store -------------------------------------------------------------------


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness = Harness()  # its owner's row made: named here
    async with harness.store.unit_of_work() as uow:
        owner = await uow.users.get(harness.owner)
        assert owner is not None
        await uow.users.update(dataclasses.replace(owner, email="ada@example.com"))
        await uow.commit()
    yield harness
    await harness.queue.close()


async def scheduled_deployment(h: Harness, cron: str = EVERY_SECOND) -> DeploymentId:
    agent = await h.agent("d", agent_type=AgentType.DATA, config={"operation": "unique"})
    workflow = await h.workflow(
        [step("a", agent_id=AgentId(agent.id), inputs={"data": [1, 1]})],
        schedule_enabled=True,
        schedule_cron=cron,
    )
    ports = {"uow": h.store.unit_of_work, "clock": h.clock, "ids": h.ids}
    deployment, _ = await CreateDeployment(
        **ports, random=h.random, secrets=AesGcmSecretBox(bytes(32))
    )(h.actor, name="scheduled", workflow_id=workflow.id)
    await StartDeployment(**ports)(h.actor, deployment.id)
    return deployment.id


def fire(h: Harness) -> FireDueSchedules:
    return FireDueSchedules(uow=h.store.unit_of_work, clock=h.clock, ids=h.ids, start=h.start)


async def test_firing_starts_one_scheduled_execution_per_tick_and_records_it(h: Harness):
    deployment_id = await scheduled_deployment(h)
    stopped = await scheduled_deployment(h)
    async with h.store.unit_of_work() as uow:
        row = await uow.deployments.get(stopped)
        assert row is not None
        await uow.deployments.update(dataclasses.replace(row, status=DeploymentStatus.STOPPED))
        await uow.commit()
    result = await fire(h)(after=at(0), now=at(2))
    assert [f.error for f in result.fired] == [None, None]
    await h.queue.drain()
    async with h.store.unit_of_work() as uow:
        runs = (await uow.executions.list(ListQuery.build(EXECUTION_QUERY, sort_order="asc"))).items
        entries = await uow.audit_logs.list(
            ListQuery.build(AUDIT_QUERY, filters={"action": "deployment.schedule_fired"})
        )
    assert [r.trigger_type for r in runs] == [TriggerType.SCHEDULED] * 2
    assert [r.trigger_data for r in runs] == [
        {"deploymentId": str(deployment_id), "scheduledFor": utc_text(at(s))} for s in (1, 2)
    ]
    assert all(r.deployment_id == deployment_id and r.user_id == h.owner for r in runs)
    assert {str(r.id) for r in runs} == {e.metadata["executionId"] for e in entries.items}
    assert {e.resource_id for e in entries.items} == {str(deployment_id)}


async def test_a_tick_that_cannot_start_is_recorded_with_why(h: Harness):
    deployment_id = await scheduled_deployment(h)
    async with h.store.unit_of_work() as uow:
        user = await uow.users.get(h.owner)
        assert user is not None
        await uow.users.update(dataclasses.replace(user, is_active=False))
        await uow.commit()
    result = await fire(h)(after=at(0), now=at(1))
    assert [f.execution_id for f in result.fired] == [None]
    assert "owner" in (result.fired[0].error or "")
    async with h.store.unit_of_work() as uow:
        entries = await uow.audit_logs.list(
            ListQuery.build(AUDIT_QUERY, filters={"resource_id": str(deployment_id)})
        )
    fired = [e for e in entries.items if e.action == "deployment.schedule_fired"]
    assert fired[0].metadata == {
        "scheduledFor": utc_text(at(1)),
        "error": "the deployment's owner account is disabled",
    }
