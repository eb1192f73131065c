"""Workflow requests checked and planned: field checks, new and changed steps, the DAG check.

What ``usecases.workflows`` runs before it writes: every problem of a request is collected
(``Problems``) and reported at once, named as the client sent it (``steps.<i>.<field>``).
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
from turbocat_core.domain.common import (
    AgentId,
    JsonObject,
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
from turbocat_core.engine.validation import validate_steps
from turbocat_core.errors import (
    CycleDetected,
    FieldError,
    ValidationFailed,
    did_you_mean,
)
from turbocat_core.ports.randomness import IdGenerator
from turbocat_core.ports.storage import UnitOfWork
from turbocat_core.usecases.audit import camel
from turbocat_core.usecases.executions import agent_checker

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

_STEP_PATH = re.compile(r"\bsteps\.(\d+)\b")


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


class Problems:
    def __init__(self) -> None:
        self.found: list[FieldError] = []

    def add(self, field: str, message: str) -> None:
        self.found.append(FieldError(field, message))

    def extend(self, error: ValidationFailed, prefix: str = "") -> None:
        for detail in error.details:
            self.add(prefix + detail.field, detail.message)

    def raise_if_any(self) -> None:
        if self.found:
            raise ValidationFailed(summary(self.found), self.found)


def summary(problems: Sequence[FieldError]) -> str:
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


def check_workflow_fields(changes: Mapping[str, Any], problems: Problems) -> dict[str, Any]:
    """The changes, normalised (trimmed name, tags cleaned, enums); problems noted by wire name."""
    clean: dict[str, Any] = {}
    for name, value in changes.items():
        wire = camel(name)
        if name not in WORKFLOW_FIELDS:
            problems.add(wire, f"unknown field{did_you_mean(wire, map(camel, WORKFLOW_FIELDS))}")
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


def check_schedule(workflow: Workflow, problems: Problems) -> None:
    try:
        validate_schedule(
            workflow.schedule_enabled, workflow.schedule_cron, workflow.schedule_timezone
        )
    except ValidationFailed as error:
        problems.extend(error)


# --- steps ------------------------------------------------------------------------------


def check_step_fields(change: StepChange, problems: Problems) -> dict[str, Any]:
    """The item's fields as ``WorkflowStep`` values; problems named ``steps.<index>.<field>``."""
    at = f"steps.{change.index}"
    clean: dict[str, Any] = {}
    for name, value in change.fields.items():
        where = f"{at}.{camel(name)}"
        if name not in STEP_FIELDS:
            known = map(camel, STEP_FIELDS)
            problems.add(where, f"unknown field{did_you_mean(camel(name), known)}")
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


def agent_only_on_agent_steps(step: WorkflowStep, at: str, problems: Problems) -> None:
    if step.step_type is not StepType.AGENT and step.agent_id is not None:
        problems.add(
            f"{at}.agentId",
            f"only AGENT steps take an agentId; a {step.step_type} step names its agents in config",
        )


@dataclass(slots=True)
class NewSteps:
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


async def validate_dag(
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
        raise ValidationFailed(f"invalid workflow: {summary(details)}", details) from None


def step_summary(step: WorkflowStep) -> tuple[Any, ...]:
    """Everything a client can change on a step (what counts as a change for the version)."""
    return (*step.definition(), step.step_name, step.position)


class StepPlan:
    """A patch's step items applied in memory to the current steps, then written in order."""

    def __init__(self, current: list[WorkflowStep], builder: NewSteps) -> None:
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

    def apply(self, change: StepChange, problems: Problems) -> None:
        at = f"steps.{change.index}"
        values = check_step_fields(change, problems)
        if change.step_id is None:
            if change.delete:
                problems.add(f"{at}.id", "is required to delete a step")
            elif "step_key" not in change.fields:
                problems.add(f"{at}.stepKey", "is required for a new step (an item without id)")
            elif "step_key" in values:
                step = self.builder.new(values, self.next_position)
                self.next_position = max(self.next_position, step.position) + 1
                agent_only_on_agent_steps(step, at, problems)
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
        agent_only_on_agent_steps(step, at, problems)
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
            if step_summary(step) != step_summary(self.original[step_id])
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
