"""Workflows: create, read, list, change (steps included, in one transaction), delete, export.

A workflow and its steps change together: a create or a patch computes the whole new DAG,
validates it (``engine.validation.validate_steps`` with the agents the owner can use), and
only then writes, all in one unit of work, so a rejected request leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final

from turbocat_core.domain.access import (
    Actor,
    can_see,
    require_own_listing,
    require_owner,
    require_visible,
)
from turbocat_core.domain.agent import Agent
from turbocat_core.domain.common import (
    AgentId,
    ListQuery,
    Page,
    UserId,
    WorkflowId,
)
from turbocat_core.domain.workflow import (
    Workflow,
    WorkflowStep,
)
from turbocat_core.engine.steps import agent_ids_of
from turbocat_core.errors import (
    NotFound,
)
from turbocat_core.ports.clock import Clock
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.storage import UnitOfWork, UnitOfWorkFactory
from turbocat_core.usecases.audit import audit, changed_fields
from turbocat_core.usecases.workflow_checks import (
    MAX_STEPS,
    WORKFLOW_FIELDS,
    NewSteps,
    Problems,
    StepChange,
    StepPlan,
    agent_only_on_agent_steps,
    check_schedule,
    check_step_fields,
    check_workflow_fields,
    validate_dag,
)
from turbocat_core.usecases.workflow_files import WorkflowFiles

WORKFLOW_CREATED: Final = "workflow.created"
WORKFLOW_UPDATED: Final = "workflow.updated"
WORKFLOW_DELETED: Final = "workflow.deleted"

RUN_SETTINGS: Final = ("definition", "timeout_seconds", "max_concurrency", "concurrency_limit")
"""Fields that change how the workflow runs: changing one bumps ``version`` (like steps)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowWithSteps(Workflow):
    """A workflow with its steps in order (position, then step key): what clients read."""

    steps: tuple[WorkflowStep, ...] = ()

    @classmethod
    def of(cls, workflow: Workflow, steps: Sequence[WorkflowStep]) -> WorkflowWithSteps:
        values = {f.name: getattr(workflow, f.name) for f in dataclasses.fields(Workflow)}
        ordered = sorted(steps, key=lambda step: (step.position, step.step_key))
        return cls(**values, steps=tuple(ordered))


# --- the use cases ----------------------------------------------------------------------


async def visible_workflow(uow: UnitOfWork, actor: Actor, workflow_id: WorkflowId) -> Workflow:
    """The live workflow if the actor may see it (own, public, or ADMIN), else ``NotFound``."""
    workflow = await uow.workflows.get(workflow_id)
    if workflow is None:
        raise NotFound("workflow", workflow_id)
    require_visible(actor, "workflow", workflow.id, workflow.user_id, is_public=workflow.is_public)
    return workflow


async def owned_workflow(uow: UnitOfWork, actor: Actor, workflow_id: WorkflowId) -> Workflow:
    """The live workflow if the actor may change it: ``NotFound`` / ``PermissionDenied``."""
    workflow = await uow.workflows.get(workflow_id)
    if workflow is None:
        raise NotFound("workflow", workflow_id)
    require_owner(actor, "workflow", workflow.id, workflow.user_id, is_public=workflow.is_public)
    return workflow


@dataclass(frozen=True, slots=True, kw_only=True)
class CreateWorkflow:
    """Create a workflow and its steps for the actor, the DAG validated, in one transaction."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator

    async def __call__(
        self, actor: Actor, fields: Mapping[str, Any], steps: Sequence[StepChange] = ()
    ) -> WorkflowWithSteps:
        """``fields`` by snake_case name (``name`` required); ``ValidationFailed`` names every
        bad field (``steps.<i>.<field>`` for steps), ``CycleDetected`` gives the cycle."""
        problems = Problems()
        if "name" not in fields:
            problems.add("name", "is required")
        clean = check_workflow_fields(fields, problems)
        if len(steps) > MAX_STEPS:
            problems.add("steps", f"a workflow has at most {MAX_STEPS} steps")
        now = self.clock.now()
        workflow = Workflow(
            id=WorkflowId(self.ids.new_id()),
            created_at=now,
            updated_at=now,
            user_id=actor.user_id,
            name=clean.pop("name", "untitled"),
            **clean,
        )
        check_schedule(workflow, problems)
        builder = NewSteps(workflow.id, now, self.ids)
        new_steps: list[WorkflowStep] = []
        for change in steps:
            if change.step_id is not None or change.delete:
                problems.add(f"steps.{change.index}.id", "a new workflow has no steps to change")
                continue
            values = check_step_fields(change, problems)
            if "step_key" not in values:
                if "step_key" not in change.fields:
                    problems.add(f"steps.{change.index}.stepKey", "is required")
                continue
            step = builder.new(values, change.index)
            agent_only_on_agent_steps(step, f"steps.{change.index}", problems)
            new_steps.append(step)
        problems.raise_if_any()
        async with self.uow() as uow:
            if new_steps:
                labels = [f"steps.{change.index}" for change in steps]
                await validate_dag(uow, workflow.user_id, new_steps, labels)
            await uow.workflows.add(workflow)
            for step in new_steps:
                await uow.steps.add(step)
            await audit(
                uow,
                self.clock,
                self.ids,
                WORKFLOW_CREATED,
                user_id=actor.user_id,
                resource_type="workflow",
                resource_id=workflow.id,
                metadata={"name": workflow.name, "steps": [s.step_key for s in new_steps]},
            )
            await uow.commit()
        return WorkflowWithSteps.of(workflow, new_steps)


@dataclass(frozen=True, slots=True, kw_only=True)
class GetWorkflow:
    uow: UnitOfWorkFactory

    async def __call__(self, actor: Actor, workflow_id: WorkflowId) -> WorkflowWithSteps:
        """The workflow with its steps; ``NotFound`` if deleted or another user's private one."""
        async with self.uow() as uow:
            workflow = await visible_workflow(uow, actor, workflow_id)
            steps = await uow.steps.for_workflow(workflow.id)
        return WorkflowWithSteps.of(workflow, steps)


@dataclass(frozen=True, slots=True, kw_only=True)
class ListWorkflows:
    uow: UnitOfWorkFactory

    async def __call__(
        self, actor: Actor, query: ListQuery, *, user_id: UserId | None = None
    ) -> Page[Workflow]:
        """A USER's own workflows; an ADMIN's view of everyone's (or of ``user_id``'s)."""
        if actor.is_admin:
            filters = dict(query.filters)
            if user_id is not None:
                filters["user_id"] = user_id
            query = replace(query, filters=filters, owner_id=None, include_public=False)
        else:
            require_own_listing(actor, query, "workflows", user_id)
            query = replace(query, owner_id=actor.user_id, include_public=False)
        async with self.uow() as uow:
            return await uow.workflows.list(query)


@dataclass(frozen=True, slots=True, kw_only=True)
class UpdateWorkflow:
    """Change a workflow's fields and steps in one transaction, the DAG re-validated.

    A change to the steps or to the run settings bumps ``version``; steps not mentioned stay.
    """

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator

    async def __call__(
        self,
        actor: Actor,
        workflow_id: WorkflowId,
        fields: Mapping[str, Any],
        steps: Sequence[StepChange] | None = None,
    ) -> WorkflowWithSteps:
        problems = Problems()
        clean = check_workflow_fields(fields, problems)
        now = self.clock.now()
        async with self.uow() as uow:
            before = await owned_workflow(uow, actor, workflow_id)
            current = await uow.steps.for_workflow(before.id)
            after = replace(before, **clean)
            if any(
                name in clean for name in ("schedule_enabled", "schedule_cron", "schedule_timezone")
            ):
                check_schedule(after, problems)
            plan = StepPlan(current, NewSteps(before.id, now, self.ids))
            for change in steps or ():
                plan.apply(change, problems)
            if len(plan.final) > MAX_STEPS:
                problems.add("steps", f"a workflow has at most {MAX_STEPS} steps")
            problems.raise_if_any()
            steps_changed = plan.changed()
            if steps_changed and plan.final:
                await validate_dag(uow, before.user_id, plan.final, plan.labels)
            settings_changed = any(
                getattr(before, name) != getattr(after, name) for name in RUN_SETTINGS
            )
            if steps_changed or settings_changed:
                after = after.revised(now)
            elif after != before:
                after = replace(after, updated_at=now)
            if after != before:
                await uow.workflows.update(after)
            await plan.write(uow)
            changes = changed_fields(before, after, [*WORKFLOW_FIELDS, "version"])
            if steps_changed:
                changes["steps"] = plan.report()
            if changes:
                await audit(
                    uow,
                    self.clock,
                    self.ids,
                    WORKFLOW_UPDATED,
                    user_id=actor.user_id,
                    resource_type="workflow",
                    resource_id=before.id,
                    changes=changes,
                )
            await uow.commit()
        return WorkflowWithSteps.of(after, plan.final)


@dataclass(frozen=True, slots=True, kw_only=True)
class DeleteWorkflow:
    """Soft-delete a workflow (its steps and executions stay in storage)."""

    uow: UnitOfWorkFactory
    clock: Clock
    ids: IdGenerator

    async def __call__(self, actor: Actor, workflow_id: WorkflowId) -> None:
        now = self.clock.now()
        async with self.uow() as uow:
            workflow = await owned_workflow(uow, actor, workflow_id)
            await uow.workflows.update(replace(workflow, deleted_at=now, updated_at=now))
            await audit(
                uow,
                self.clock,
                self.ids,
                WORKFLOW_DELETED,
                user_id=actor.user_id,
                resource_type="workflow",
                resource_id=workflow.id,
                metadata={"name": workflow.name},
            )
            await uow.commit()


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportWorkflow:
    """A workflow as a workflow file (docs/workflow-files.md) with the agents its steps use."""

    uow: UnitOfWorkFactory
    files: WorkflowFiles

    async def __call__(self, actor: Actor, workflow_id: WorkflowId) -> dict[str, Any]:
        """Agents go with it when the actor or the workflow's owner may see them (own or
        public); a step whose agent is gone or hidden is exported without one."""
        async with self.uow() as uow:
            workflow = await visible_workflow(uow, actor, workflow_id)
            steps = await uow.steps.for_workflow(workflow.id)
            agents: dict[AgentId, Agent] = {}
            for agent_id in agent_ids_of(steps):
                agent = await uow.agents.get(agent_id)
                if agent is not None and (
                    can_see(actor, agent.user_id, is_public=agent.is_public)
                    or agent.user_id == workflow.user_id
                ):
                    agents[agent_id] = agent
        return self.files.export(workflow, steps, agents)
