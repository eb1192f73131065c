"""Workflows: create, read, list, change (steps included, in one transaction), delete, export.

A workflow and its steps change together: a create or a patch computes the whole new DAG,
validates it (``engine.validation.validate_steps`` with the agents the owner can use), and
only then writes, all in one unit of work, so a rejected request leaves nothing behind.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Final
from uuid import UUID

from turbocat_core.cron import validate_schedule
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
    JsonObject,
    ListQuery,
    Page,
    StepId,
    UserId,
    WorkflowId,
    check_name,
    clean_tags,
)
from turbocat_core.domain.workflow import (
    MAX_RETRY_COUNT,
    MAX_RETRY_DELAY_MS,
    OnError,
    StepType,
    Workflow,
    WorkflowStatus,
    WorkflowStep,
)
from turbocat_core.engine.steps import agent_ids_of
from turbocat_core.engine.validation import validate_steps
from turbocat_core.errors import (
    CycleDetected,
    FieldError,
    NotFound,
    ValidationFailed,
)
from turbocat_core.ports import Clock, IdGenerator, UnitOfWork, UnitOfWorkFactory
from turbocat_core.usecases.audit import audit, changed_fields
from turbocat_core.usecases.executions import agent_checker
from turbocat_core.usecases.workflow_files import WorkflowFiles

WORKFLOW_CREATED: Final = "workflow.created"
WORKFLOW_UPDATED: Final = "workflow.updated"
WORKFLOW_DELETED: Final = "workflow.deleted"

MAX_STEPS: Final = 500
MAX_TIMEOUT_SECONDS: Final = 86_400
MAX_CONCURRENCY: Final = 64
MAX_POSITION: Final = 1_000_000
MAX_DESCRIPTION: Final = 10_000

WORKFLOW_FIELDS: Final = (
    "name",
    "description",
    "status",
    "definition",
    "trigger_config",
    "schedule_enabled",
    "schedule_cron",
    "schedule_timezone",
    "timeout_seconds",
    "max_concurrency",
    "concurrency_limit",
    "tags",
    "is_public",
)
RUN_SETTINGS: Final = ("definition", "timeout_seconds", "max_concurrency", "concurrency_limit")
"""Fields that change how the workflow runs: changing one bumps ``version`` (like steps)."""

STEP_FIELDS: Final = (
    "step_key",
    "step_name",
    "step_type",
    "agent_id",
    "position",
    "config",
    "inputs",
    "depends_on",
    "retry_count",
    "retry_delay_ms",
    "timeout_seconds",
    "on_error",
)

_CAMEL = re.compile(r"_([a-z0-9])")
_STEP_PATH = re.compile(r"\bsteps\.(\d+)\b")


def _camel(name: str) -> str:
    return _CAMEL.sub(lambda m: m.group(1).upper(), name)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkflowWithSteps(Workflow):
    """A workflow with its steps in order (position, then step key): what clients read."""

    steps: tuple[WorkflowStep, ...] = ()

    @classmethod
    def of(cls, workflow: Workflow, steps: Sequence[WorkflowStep]) -> WorkflowWithSteps:
        values = {f.name: getattr(workflow, f.name) for f in dataclasses.fields(Workflow)}
        ordered = sorted(steps, key=lambda step: (step.position, step.step_key))
        return cls(**values, steps=tuple(ordered))


@dataclass(frozen=True, slots=True, kw_only=True)
class StepChange:
    """One item of a request's ``steps``: the fields it sent (snake_case names).

    In a create every item is a new step. In a patch an item with ``step_id`` changes that
    step (only the fields sent), one without creates a step, and ``delete`` removes one.
    ``index`` is the item's place in the request: errors name it ``steps.<index>.<field>``.
    """

    index: int
    fields: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    step_id: StepId | None = None
    delete: bool = False


class _Problems:
    def __init__(self) -> None:
        self.found: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.found.append(FieldError(field, message))

    def extend(self, error: ValidationFailed, prefix: str = "") -> None:
        for detail in error.details:
            self.add(prefix + detail.field, detail.message)

    def raise_if_any(self) -> None:
        if self.found:
            raise ValidationFailed(_summary(self.found), self.found)


def _summary(problems: Sequence[FieldError]) -> str:
    first = problems[0]
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{first.field}: {first.message}{more}"


def _enum(kind: Any, value: Any) -> Any:
    try:
        return kind(value)
    except ValueError:
        raise ValueError(f"must be one of {', '.join(m.value for m in kind)}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- the workflow's own fields ------------------------------------------------------------


def _check_workflow_fields(changes: Mapping[str, Any], problems: _Problems) -> dict[str, Any]:
    """The changes, normalised (trimmed name, tags cleaned, enums); problems noted by wire name."""
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        wire = _camel(name)
        if name not in WORKFLOW_FIELDS:
            problems.add(wire, "unknown field")
            continue
        try:
            clean[name] = _check_workflow_field(name, value)
        except ValidationFailed as error:
            for detail in error.details:
                problems.add(wire if detail.field == "name" else detail.field, detail.message)
        except (ValueError, TypeError) as error:
            problems.add(wire, str(error))
    return clean


def _check_workflow_field(name: str, value: Any) -> Any:
    if name == "name":
        if not isinstance(value, str):
            raise TypeError("must be a string")
        return check_name(value)
    if name == "description":
        if value is not None and (not isinstance(value, str) or len(value) > MAX_DESCRIPTION):
            raise ValueError(f"must be text of at most {MAX_DESCRIPTION} characters")
        return value
    if name == "status":
        return _enum(WorkflowStatus, value)
    if name in ("definition", "trigger_config"):
        if not isinstance(value, dict):
            raise TypeError("must be an object")
        if name == "definition" and "inputs" in value and not isinstance(value["inputs"], dict):
            raise ValidationFailed.field(
                "definition.inputs", "must be an object (the default inputs)"
            )
        return value
    if name in ("schedule_enabled", "is_public"):
        if not isinstance(value, bool):
            raise TypeError("must be true or false")
        return value
    if name == "schedule_cron":
        if value is not None and not isinstance(value, str):
            raise TypeError("must be a cron expression or null")
        return value.strip() or None if isinstance(value, str) else None
    if name == "schedule_timezone":
        if not isinstance(value, str) or not value.strip():
            raise TypeError("must be an IANA time zone (e.g. Europe/Paris)")
        return value.strip()
    if name == "timeout_seconds":
        if not _is_number(value) or not 1 <= value <= MAX_TIMEOUT_SECONDS:
            raise ValueError(f"must be a number of seconds from 1 to {MAX_TIMEOUT_SECONDS}")
        return value
    if name == "max_concurrency":
        if not _is_int(value) or not 1 <= value <= MAX_CONCURRENCY:
            raise ValueError(f"must be a whole number from 1 to {MAX_CONCURRENCY}")
        return value
    if name == "concurrency_limit":
        if value is not None and (not _is_int(value) or value < 1):
            raise ValueError("must be null (no limit) or a whole number of 1 or more")
        return value
    # tags
    if not isinstance(value, list | tuple) or not all(isinstance(tag, str) for tag in value):
        raise TypeError("must be a list of strings")
    return clean_tags(value)


def _check_schedule(workflow: Workflow, problems: _Problems) -> None:
    try:
        validate_schedule(
            workflow.schedule_enabled, workflow.schedule_cron, workflow.schedule_timezone
        )
    except ValidationFailed as error:
        problems.extend(error)


# --- steps ------------------------------------------------------------------------------


def _check_step_fields(change: StepChange, problems: _Problems) -> dict[str, Any]:
    """The item's fields as ``WorkflowStep`` values; problems named ``steps.<index>.<field>``."""
    at = f"steps.{change.index}"
    clean: dict[str, Any] = {}
    for name, value in change.fields.items():
        where = f"{at}.{_camel(name)}"
        if name not in STEP_FIELDS:
            problems.add(where, "unknown field")
            continue
        try:
            clean[name] = _check_step_field(name, value)
        except (ValueError, TypeError) as error:
            problems.add(where, str(error))
    return clean


def _check_step_field(name: str, value: Any) -> Any:
    if name == "step_key":
        if not isinstance(value, str):
            raise TypeError("must be a string")
        return value
    if name == "step_name":
        if value is None:
            return None  # defaults to the step key
        if not isinstance(value, str) or not value.strip() or len(value) > 255:
            raise ValueError("must be 1 to 255 characters")
        return value.strip()
    if name == "step_type":
        return _enum(StepType, value)
    if name == "on_error":
        return _enum(OnError, value)
    if name == "agent_id":
        if value is None:
            return None
        if isinstance(value, str):
            value = UUID(value)
        if not isinstance(value, UUID):
            raise TypeError("must be an agent id (a UUID)")
        return AgentId(value)
    if name in ("config", "inputs"):
        if not isinstance(value, dict):
            raise TypeError("must be an object")
        return value
    if name == "depends_on":
        if not isinstance(value, list | tuple) or not all(isinstance(k, str) for k in value):
            raise TypeError("must be a list of step keys")
        return tuple(dict.fromkeys(value))
    if name == "position":
        if value is None:
            return None  # defaults to the list order
        if not _is_int(value) or not 0 <= value <= MAX_POSITION:
            raise ValueError(f"must be a whole number from 0 to {MAX_POSITION}")
        return value
    if name == "retry_count":
        if not _is_int(value) or not 0 <= value <= MAX_RETRY_COUNT:
            raise ValueError(f"must be a whole number from 0 to {MAX_RETRY_COUNT}")
        return value
    if name == "retry_delay_ms":
        if not _is_int(value) or not 0 <= value <= MAX_RETRY_DELAY_MS:
            raise ValueError(f"must be a whole number from 0 to {MAX_RETRY_DELAY_MS}")
        return value
    # timeout_seconds
    if value is not None and (not _is_number(value) or not 0 < value <= MAX_TIMEOUT_SECONDS):
        raise ValueError(f"must be null or a number of seconds up to {MAX_TIMEOUT_SECONDS}")
    return value


def _agent_only_on_agent_steps(step: WorkflowStep, at: str, problems: _Problems) -> None:
    if step.step_type is not StepType.AGENT and step.agent_id is not None:
        problems.add(
            f"{at}.agentId",
            f"only AGENT steps take an agentId; a {step.step_type} step names its agents in config",
        )


@dataclass(slots=True)
class _NewSteps:
    """Builds ``WorkflowStep`` rows for one workflow at one instant."""

    workflow_id: WorkflowId
    now: datetime
    ids: IdGenerator

    def new(self, fields: Mapping[str, Any], default_position: int) -> WorkflowStep:
        key = fields["step_key"]
        position = fields.get("position")
        return WorkflowStep(
            id=StepId(self.ids.new_id()),
            created_at=self.now,
            updated_at=self.now,
            workflow_id=self.workflow_id,
            step_key=key,
            step_name=fields.get("step_name") or key,
            step_type=fields.get("step_type", StepType.AGENT),
            agent_id=fields.get("agent_id"),
            position=default_position if position is None else position,
            config=fields.get("config", {}),
            inputs=fields.get("inputs", {}),
            depends_on=fields.get("depends_on", ()),
            retry_count=fields.get("retry_count", 0),
            retry_delay_ms=fields.get("retry_delay_ms", 1000),
            timeout_seconds=fields.get("timeout_seconds"),
            on_error=fields.get("on_error", OnError.FAIL),
        )

    def changed(self, step: WorkflowStep, fields: Mapping[str, Any]) -> WorkflowStep:
        values = dict(fields)
        if "step_name" in values and values["step_name"] is None:
            values["step_name"] = values.get("step_key", step.step_key)
        elif "step_key" in values and "step_name" not in values and step.step_name == step.step_key:
            values["step_name"] = values["step_key"]  # a defaulted name follows its key
        if "position" in values and values["position"] is None:
            values["position"] = step.position
        updated = replace(step, **values)
        return updated if updated == step else replace(updated, updated_at=self.now)


async def _validate_dag(
    uow: UnitOfWork, owner: UserId, steps: Sequence[WorkflowStep], labels: Sequence[str]
) -> None:
    """``validate_steps`` with the owner's agents; field paths renamed after ``labels``
    (``labels[i]`` names ``steps[i]`` as the client knows it)."""
    check = await agent_checker(uow, owner, steps)
    try:
        validate_steps(steps, check)
    except CycleDetected:
        raise
    except ValidationFailed as error:

        def rename(text: str) -> str:
            return _STEP_PATH.sub(
                lambda m: labels[int(m[1])] if int(m[1]) < len(labels) else m[0], text
            )

        details = [FieldError(rename(d.field), rename(d.message)) for d in error.details]
        raise ValidationFailed(f"invalid workflow: {_summary(details)}", details) from None


def _step_summary(step: WorkflowStep) -> tuple[Any, ...]:
    """Everything a client can change on a step (what counts as a change for the version)."""
    return (*step.definition(), step.step_name, step.position)


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
        problems = _Problems()
        if "name" not in fields:
            problems.add("name", "is required")
        clean = _check_workflow_fields(fields, problems)
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
        _check_schedule(workflow, problems)
        builder = _NewSteps(workflow.id, now, self.ids)
        new_steps: list[WorkflowStep] = []
        for change in steps:
            if change.step_id is not None or change.delete:
                problems.add(f"steps.{change.index}.id", "a new workflow has no steps to change")
                continue
            values = _check_step_fields(change, problems)
            if "step_key" not in values:
                if "step_key" not in change.fields:
                    problems.add(f"steps.{change.index}.stepKey", "is required")
                continue
            step = builder.new(values, change.index)
            _agent_only_on_agent_steps(step, f"steps.{change.index}", problems)
            new_steps.append(step)
        problems.raise_if_any()
        async with self.uow() as uow:
            if new_steps:
                labels = [f"steps.{change.index}" for change in steps]
                await _validate_dag(uow, workflow.user_id, new_steps, labels)
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
        problems = _Problems()
        clean = _check_workflow_fields(fields, problems)
        now = self.clock.now()
        async with self.uow() as uow:
            before = await owned_workflow(uow, actor, workflow_id)
            current = await uow.steps.for_workflow(before.id)
            after = replace(before, **clean)
            if any(
                name in clean for name in ("schedule_enabled", "schedule_cron", "schedule_timezone")
            ):
                _check_schedule(after, problems)
            plan = _StepPlan(current, _NewSteps(before.id, now, self.ids))
            for change in steps or ():
                plan.apply(change, problems)
            if len(plan.final) > MAX_STEPS:
                problems.add("steps", f"a workflow has at most {MAX_STEPS} steps")
            problems.raise_if_any()
            steps_changed = plan.changed()
            if steps_changed and plan.final:
                await _validate_dag(uow, before.user_id, plan.final, plan.labels)
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


class _StepPlan:
    """A patch's step items applied in memory to the current steps, then written in order."""

    def __init__(self, current: list[WorkflowStep], builder: _NewSteps) -> None:
        self.builder = builder
        self.by_id = {step.id: step for step in current}
        self.original = {step.id: step for step in current}
        self.labels_by_id: dict[StepId, str] = {
            step.id: f"steps.{step.step_key}" for step in current
        }
        self.seen: dict[StepId, int] = {}
        self.deleted: dict[StepId, WorkflowStep] = {}
        self.added: list[tuple[WorkflowStep, str]] = []
        self.next_position = max((step.position for step in current), default=-1) + 1

    def apply(self, change: StepChange, problems: _Problems) -> None:
        at = f"steps.{change.index}"
        values = _check_step_fields(change, problems)
        if change.step_id is None:
            if change.delete:
                problems.add(f"{at}.id", "is required to delete a step")
            elif "step_key" not in change.fields:
                problems.add(f"{at}.stepKey", "is required for a new step (an item without id)")
            elif "step_key" in values:
                step = self.builder.new(values, self.next_position)
                self.next_position = max(self.next_position, step.position) + 1
                _agent_only_on_agent_steps(step, at, problems)
                self.added.append((step, at))
            return
        if change.step_id not in self.original:
            problems.add(f"{at}.id", f"no step {change.step_id} in this workflow")
            return
        if change.step_id in self.seen:
            problems.add(
                f"{at}.id", f"this step is already changed by steps.{self.seen[change.step_id]}"
            )
            return
        self.seen[change.step_id] = change.index
        self.labels_by_id[change.step_id] = at
        if change.delete:
            self.deleted[change.step_id] = self.by_id.pop(change.step_id)
            return
        step = self.builder.changed(self.by_id[change.step_id], values)
        _agent_only_on_agent_steps(step, at, problems)
        self.by_id[change.step_id] = step

    @property
    def final(self) -> list[WorkflowStep]:
        return [*self.by_id.values(), *(step for step, _ in self.added)]

    @property
    def labels(self) -> list[str]:
        return [
            *(self.labels_by_id[step_id] for step_id in self.by_id),
            *(at for _, at in self.added),
        ]

    def updated(self) -> list[WorkflowStep]:
        return [
            step
            for step_id, step in self.by_id.items()
            if _step_summary(step) != _step_summary(self.original[step_id])
        ]

    def changed(self) -> bool:
        return bool(self.deleted or self.added or self.updated())

    def report(self) -> JsonObject:
        return {
            "added": [step.step_key for step, _ in self.added],
            "updated": [step.step_key for step in self.updated()],
            "removed": [step.step_key for step in self.deleted.values()],
        }

    async def write(self, uow: UnitOfWork) -> None:
        """Deletes, then updates, then inserts, so keys freed by one are free for the next.
        Steps whose key changes go through a temporary key first: two steps may swap keys."""
        for step_id in self.deleted:
            await uow.steps.delete(step_id)
        updated = self.updated()
        renamed = [s for s in updated if s.step_key != self.original[s.id].step_key]
        for step in renamed:
            await uow.steps.update(replace(step, step_key=f"_{step.id.hex}"))
        for step in updated:
            await uow.steps.update(step)
        for step, _ in self.added:
            await uow.steps.add(step)


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
    """A workflow as a workflow file (SPEC §5) with the agents its steps use."""

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
