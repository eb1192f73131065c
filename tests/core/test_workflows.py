"""Workflow use cases on the in-memory store: step patches, versions, audit, and the reads
of executions (who sees them, when a watched run has settled)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import uuid4

import pytest

from tests.core.builders import WORKFLOW, step
from tests.core.engine.harness import T0, Harness
from turbocat_core.domain.audit import AUDIT_QUERY
from turbocat_core.domain.common import ListQuery, UserId
from turbocat_core.domain.execution import EXECUTION_QUERY, ExecutionStatus, StepRun, StepStatus
from turbocat_core.domain.user import UserRole
from turbocat_core.domain.workflow import WORKFLOW_QUERY, StepType, Workflow
from turbocat_core.errors import CycleDetected, NotFound, PermissionDenied, ValidationFailed
from turbocat_core.usecases.executions import (
    GetExecution,
    ListWorkflowExecutions,
    StartExecution,
    WatchExecution,
)
from turbocat_core.usecases.workflow_checks import StepChange
from turbocat_core.usecases.workflows import (
    CreateWorkflow,
    DeleteWorkflow,
    GetWorkflow,
    ListWorkflows,
    UpdateWorkflow,
    WorkflowWithSteps,
)


def wait(index: int, key: str, ms: int = 1, **fields: Any) -> StepChange:
    return StepChange(
        index=index,
        fields={
            "step_key": key,
            "step_type": StepType.WAIT,
            "config": {"durationMs": ms},
            **fields,
        },
    )


@pytest.fixture
def h() -> Harness:
    return Harness()


def ports(h: Harness) -> dict[str, Any]:
    return {"uow": h.store.unit_of_work, "clock": h.clock, "ids": h.ids}


async def _create(h: Harness, *steps: StepChange, **fields: Any) -> WorkflowWithSteps:
    return await CreateWorkflow(**ports(h))(h.actor, {"name": "w", **fields}, steps)


async def _audit_actions(h: Harness) -> list[str]:
    async with h.store.unit_of_work() as uow:
        page = await uow.audit_logs.list(ListQuery.build(AUDIT_QUERY, sort_order="asc"))
    return [entry.action for entry in page.items]


async def test_an_update_that_changes_nothing_keeps_version_and_writes_no_audit(h):
    created = await _create(h, wait(0, "a"), wait(1, "b"))
    a = created.steps[0]
    update = UpdateWorkflow(**ports(h))
    same = await update(
        h.actor,
        created.id,
        {"name": "w", "max_concurrency": 8},
        [StepChange(index=0, step_id=a.id, fields={"config": {"durationMs": 1}})],
    )
    assert same.version == 1 and same.updated_at == created.updated_at
    assert await _audit_actions(h) == ["workflow.created"]
    renamed = await update(
        h.actor, created.id, {}, [StepChange(index=0, step_id=a.id, fields={"step_key": "x"})]
    )
    assert renamed.version == 2
    assert {(s.step_key, s.step_name) for s in renamed.steps} == {("x", "x"), ("b", "b")}
    assert await _audit_actions(h) == ["workflow.created", "workflow.updated"]


async def test_a_rejected_update_leaves_the_store_as_it_was(h):
    created = await _create(h, wait(0, "a"), wait(1, "b", depends_on=["a"]))
    a, b = created.steps
    update = UpdateWorkflow(**ports(h))
    with pytest.raises(CycleDetected) as cycle:
        await update(
            h.actor,
            created.id,
            {"name": "changed"},
            [
                StepChange(index=0, step_id=a.id, fields={"depends_on": ["b"]}),
                wait(1, "c"),
            ],
        )
    assert cycle.value.path == ("a", "b", "a")
    with pytest.raises(ValidationFailed) as bad:
        await update(h.actor, created.id, {}, [StepChange(index=0, step_id=a.id, delete=True)])
    assert [d.field for d in bad.value.details] == ["steps.b.dependsOn"]
    assert "'a'" in bad.value.message
    with pytest.raises(ValidationFailed) as unknown:
        await update(h.actor, created.id, {"colour": 1, "max_concurrency": 0}, [])
    assert {d.field for d in unknown.value.details} == {"colour", "max_concurrency"}
    assert await GetWorkflow(uow=h.store.unit_of_work)(h.actor, created.id) == created
    assert b.depends_on == ("a",)


async def test_create_names_items_by_their_index_in_the_request(h):
    with pytest.raises(ValidationFailed) as bad:
        await _create(
            h,
            wait(0, "a"),
            StepChange(index=1, fields={"step_type": "WAIT", "config": {}}),
            wait(2, "a", retry_count=11, position=-1),
        )
    fields = {d.field for d in bad.value.details}
    assert fields == {"steps.1.step_key", "steps.2.retry_count", "steps.2.position"}
    with pytest.raises(ValidationFailed) as dup:
        await _create(h, wait(0, "a"), wait(1, "a"))
    assert [d.field for d in dup.value.details] == ["steps.1.stepKey"]
    assert "steps.0" in dup.value.details[0].message
    async with h.store.unit_of_work() as uow:
        assert (await uow.workflows.list(ListQuery.build(WORKFLOW_QUERY))).total == 0


async def test_only_owners_and_admins_change_and_delete(h):
    created = await _create(h, wait(0, "a"), is_public=True)
    stranger = h.new_actor(UserRole.USER)
    admin = h.new_actor(UserRole.ADMIN)
    assert (await GetWorkflow(uow=h.store.unit_of_work)(stranger, created.id)).id == created.id
    with pytest.raises(PermissionDenied):
        await UpdateWorkflow(**ports(h))(stranger, created.id, {"name": "x"})
    with pytest.raises(PermissionDenied):
        await DeleteWorkflow(**ports(h))(stranger, created.id)
    mine = ListQuery.build(WORKFLOW_QUERY)
    assert (await ListWorkflows(uow=h.store.unit_of_work)(stranger, mine)).total == 0
    assert (await ListWorkflows(uow=h.store.unit_of_work)(admin, mine)).total == 1
    await DeleteWorkflow(**ports(h))(admin, created.id)
    with pytest.raises(NotFound):
        await GetWorkflow(uow=h.store.unit_of_work)(h.actor, created.id)


async def test_the_workflows_owner_sees_executions_another_user_started(h):
    workflow = await h.workflow([])
    created = await _create(h, wait(0, "a"), status="ACTIVE")
    admin = h.new_actor(UserRole.ADMIN)
    stranger = h.new_actor(UserRole.USER)
    execution = await h.start(admin, created.id)
    assert (await GetExecution(uow=h.store.unit_of_work)(h.actor, execution.id)).id == execution.id
    with pytest.raises(NotFound):
        await GetExecution(uow=h.store.unit_of_work)(stranger, execution.id)
    listing = ListWorkflowExecutions(uow=h.store.unit_of_work)
    query = ListQuery.build(EXECUTION_QUERY)
    assert [e.id for e in (await listing(h.actor, created.id, query)).items] == [execution.id]
    assert (await listing(h.actor, workflow.id, query)).total == 0
    with pytest.raises(NotFound):
        await listing(stranger, created.id, query)
    await h.queue.drain()


async def test_a_cancelled_run_settles_once_its_steps_are_recorded(h):
    created = await _create(h, wait(0, "a"), wait(1, "b", depends_on=["a"]), status="ACTIVE")
    start = StartExecution(uow=h.store.unit_of_work, clock=h.clock, ids=h.ids, queue=Parked())
    execution = await start(h.actor, created.id)
    watch = WatchExecution(uow=h.store.unit_of_work)
    # Started, then cancelled while step a ran: until the runner records a and b, the
    # watcher must keep reading.
    running = execution.moved_to(ExecutionStatus.RUNNING, T0)
    cancelled = running.moved_to(ExecutionStatus.CANCELLED, T0)
    async with h.store.unit_of_work() as uow:
        await uow.executions.update(cancelled)
        await uow.step_runs.save(_run(h, execution.id, "a", StepStatus.RUNNING))
        await uow.commit()
    assert (await watch(h.actor, execution.id)).settled is False
    async with h.store.unit_of_work() as uow:
        await uow.step_runs.save(_run(h, execution.id, "a", StepStatus.FAILED))
        await uow.step_runs.save(_run(h, execution.id, "b", StepStatus.SKIPPED))
        await uow.commit()
    progress = await watch(h.actor, execution.id, after_seq=0, limit=1)
    assert progress.settled is True
    assert [line.seq for line in progress.lines] == [1] and progress.more is False
    # Cancelled before it ever started: nothing more will come.
    second = await start(h.actor, created.id)
    async with h.store.unit_of_work() as uow:
        await uow.executions.update(second.moved_to(ExecutionStatus.CANCELLED, T0))
        await uow.commit()
    assert (await watch(h.actor, second.id)).settled is True
    assert (await watch(h.actor, second.id)).execution.status is ExecutionStatus.CANCELLED


class Parked:
    """A queue that runs nothing: the test moves the execution itself."""

    async def enqueue_execution(self, execution_id: Any, *, at: Any = None) -> None:
        return None


def _run(h: Harness, execution_id: Any, key: str, status: StepStatus) -> StepRun:
    return StepRun(
        id=h.ids.new_id(),
        created_at=T0,
        updated_at=T0,
        execution_id=execution_id,
        step_key=key,
        step_id=None,
        status=status,
    )


def test_workflow_with_steps_orders_steps_and_keeps_every_workflow_field():
    workflow = Workflow(
        id=WORKFLOW, created_at=T0, updated_at=T0, user_id=UserId(uuid4()), name="w"
    )
    steps = [step("b", position=1), step("c", position=0), step("a", position=1)]
    both = WorkflowWithSteps.of(workflow, steps)
    assert [s.step_key for s in both.steps] == ["c", "a", "b"]
    assert replace(both, steps=()) == WorkflowWithSteps.of(workflow, [])
    assert {f: getattr(both, f) for f in ("id", "name", "version")} == {
        "id": WORKFLOW,
        "name": "w",
        "version": 1,
    }
